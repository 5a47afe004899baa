"""The suite file: which scenarios to run, how often, on which tier, and the bars the metrics must clear.

Strict like the scenario file: unknown keys, unknown metrics and patterns that match no scenario
are errors, so a typo never silently drops a call or a bar.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# Every metric a threshold may name, and which way is better. `min`: the value must be at least
# the threshold; `max`: at most. docs/eval.md says what each counts.
METRICS: dict[str, Literal["min", "max"]] = {
    "pass_hat_1": "min",  # runs that pass every deterministic check (scoring.CallScore.failures), per persona, averaged
    "pass_hat_k": "min",  # tau-bench's pass^k with k = repeats: all k runs of a persona pass
    "expectations_pass_rate": "min",  # calls whose scenario `expect:` held
    "field_capture_rate": "min",  # meant fields the record holds with the meant value
    "live_capture_rate": "min",  # ... of them, recorded during the call (not by the post-call pass)
    "wrong_values": "max",  # values written that differ from what the caller meant
    "unsupported_values": "max",  # values written for a field the caller never gave
    "extra_goodbyes": "max",  # agent turns heard after the one closing
    "missing_closings": "max",  # calls the agent ended without its closing being heard
    "unanswered_calls": "max",  # calls the bridge never answered
    "incomplete_calls": "max",  # calls where the caller could not say all its turns
    "latency_p50_ms": "max",  # caller-perceived response time, over every turn of every call
    "latency_p95_ms": "max",
    "cost_usd_per_call": "max",  # mean estimated model cost
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Suite(_Strict):
    name: str
    # offline: the project's OpenAI stand-in plays the model (scripted, misbehaving as each scenario
    # says); no network, no key, deterministic answers. The live tier (a real model) is not built yet.
    tier: Literal["offline"] = "offline"
    scenarios: Annotated[list[str], Field(min_length=1)]  # paths or glob patterns, relative to the suite file
    repeats: Annotated[int, Field(ge=1, le=100)] = 1  # each scenario this many times, seeds scenario's, +1, +2...
    concurrency: Annotated[int, Field(ge=1, le=16)] = 2  # calls at once (real-time audio: ~2 per core)
    transport: Literal["udp", "tcp", "tls"] = "udp"
    thresholds: dict[str, float] = {}

    @model_validator(mode="after")
    def _known_metrics(self) -> Suite:
        unknown = sorted(set(self.thresholds) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metrics in thresholds: {unknown}; known: {sorted(METRICS)}")
        return self


class SuiteError(ValueError):
    pass


def load_suite(path: str | Path) -> tuple[Suite, list[Path]]:
    """The suite and its scenario files, resolved and in the order listed (each file once)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        suite = Suite.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        raise SuiteError(f"{path}: {exc}") from exc
    files: list[Path] = []
    for pattern in suite.scenarios:
        found = [Path(p).resolve() for p in sorted(glob.glob(str(path.parent / pattern))) if Path(p).is_file()]
        if not found:
            raise SuiteError(f"{path}: scenario {pattern!r} matches no file")
        files += [p for p in found if p not in files]
    return suite, files
