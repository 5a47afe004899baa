"""The suite file: who calls (personas, or scenario files), how often, on which tier, the rubric
the judge holds each call to, and the bars the metrics must clear.

Strict like the scenario file: unknown keys, unknown metrics, patterns that match no scenario and
persona facts the agent has no field for are errors, so a typo never silently drops a call or a bar.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.scenario import ScenarioError, check_against_agent

from .persona import Persona, play

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


class Criterion(_Strict):
    """One rubric line in the business's words. `forbidden`/`expected`: phrases the business gives as
    examples of breaking or meeting it (the judge sees them; the offline stand-in judge can decide only
    with them, verbatim). `when_language`: it applies only to callers who speak that language."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    text: str
    forbidden: list[str] = []
    expected: list[str] = []
    when_language: str | None = None


class GateSettings(_Strict):
    """`--gate`: pass when every run passes; else rerun each failing persona up to `reruns` more
    times and require its Wilson 95% lower bound to be at least `min_lower_bound`."""

    reruns: Annotated[int, Field(ge=0, le=20)] = 5
    min_lower_bound: Annotated[float, Field(ge=0, le=1)] = 0.4


class OnlineSettings(_Strict):
    """The online tier's own model calls (the agent's realtime model is its spec's): the persona LLM
    that plays each caller, the transcription it hears the agent through, and its bounds per call."""

    persona_model: str = "gpt-4.1-mini"
    persona_temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    transcribe_model: str = "gpt-4o-transcribe"
    max_turns: Annotated[int, Field(ge=1, le=100)] = 30  # caller lines per call
    max_call_s: Annotated[float, Field(ge=10, le=1800)] = 300.0
    concurrency: Annotated[int, Field(ge=1, le=4)] = 1  # calls at once: each is a real model session


class Suite(_Strict):
    name: str
    # offline: the project's OpenAI stand-in plays the model (scripted by each call's `means`,
    # misbehaving as its knobs say), a stand-in persona LLM the callers and a stand-in judge the
    # rubric; no network, no key. online (or `--online`): the real realtime model behind the real
    # bridge, an LLM persona caller heard through transcription, the LLM judge (OPENAI_API_KEY).
    tier: Literal["offline", "online"] = "offline"
    online: OnlineSettings = OnlineSettings()
    scenarios: list[str] = []  # paths or glob patterns, relative to the suite file
    agent: Path | None = None  # the spec the personas call (relative to the suite file)
    personas: list[Persona] = []
    rubric: list[Criterion] = []
    gate: GateSettings = GateSettings()
    judge_model: str = "gpt-4.1-mini"  # with --judge openai (the stand-in ignores it)
    repeats: Annotated[int, Field(ge=1, le=100)] = 1  # each scenario this many times, seeds scenario's, +1, +2...
    concurrency: Annotated[int, Field(ge=1, le=16)] = 2  # calls at once (real-time audio: ~2 per core)
    transport: Literal["udp", "tcp", "tls"] = "udp"
    thresholds: dict[str, float] = {}

    @model_validator(mode="after")
    def _known_metrics(self) -> Suite:
        unknown = sorted(set(self.thresholds) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metrics in thresholds: {unknown}; known: {sorted(METRICS)}")
        if not self.scenarios and not self.personas:
            raise ValueError("a suite needs `personas` (with `agent`) or `scenarios`")
        if self.personas and self.agent is None:
            raise ValueError("`personas` need the `agent` spec they call")
        names = [p.name for p in self.personas]
        if len(set(names)) != len(names):
            raise ValueError(f"persona names must be unique: {sorted(n for n in set(names) if names.count(n) > 1)}")
        if self.rubric and not self.personas:
            raise ValueError("a `rubric` is judged on persona calls: this suite has no `personas`")
        ids = [c.id for c in self.rubric]
        if len(set(ids)) != len(ids):
            raise ValueError("rubric ids must be unique")
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
    except ValidationError as exc:  # one line: where, and what is wrong there
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'suite'}: {e['msg']}" for e in exc.errors())
        raise SuiteError(f"{path}: {problems}") from exc
    if suite.agent is not None:
        suite = suite.model_copy(update={"agent": (path.parent / suite.agent).resolve()})
        _check_personas(suite)
    files: list[Path] = []
    for pattern in suite.scenarios:
        found = [Path(p).resolve() for p in sorted(glob.glob(str(path.parent / pattern))) if Path(p).is_file()]
        if not found:
            raise SuiteError(f"{path}: scenario {pattern!r} matches no file")
        files += [p for p in found if p not in files]
    return suite, files


def _check_personas(suite: Suite) -> None:
    """Every persona, played once, must name only what its agent has (fields, categories, providers)."""
    from voice_agent.spec import SpecError, load_spec

    assert suite.agent is not None
    try:
        spec = load_spec(suite.agent)
    except SpecError as exc:
        raise SuiteError(f"agent {suite.agent}: {exc}") from exc
    for persona in suite.personas:
        try:
            check_against_agent(play(persona, suite.agent, spec.languages.default, seed=1))
        except ScenarioError as exc:
            raise SuiteError(f"persona {persona.name}: {exc}") from exc
