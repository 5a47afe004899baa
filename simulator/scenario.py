"""The scenario file (DESIGN.md "Scenario"): one simulated call, offline. Strict:
unknown keys are errors, and `agent:` is resolved relative to the scenario file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# `means` keys that are not field names, and the tool each one maps to.
CATEGORY, PROVIDER, LANGUAGE, DECLINED = "category", "provider", "language", "declined"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Turn(_Strict):
    say: str | None = None
    means: dict[str, str] = {}
    barge_in_after_ms: Annotated[int, Field(ge=0)] | None = None
    hang_up: bool = False

    @model_validator(mode="after")
    def _speaks_or_hangs_up(self) -> Turn:
        if self.hang_up == (self.say is not None):
            raise ValueError("a turn either has `say` or is `hang_up: true`")
        if self.hang_up and (self.means or self.barge_in_after_ms is not None):
            raise ValueError("a hang_up turn carries nothing else")
        return self


class Caller(_Strict):
    language: str = "en"
    turns: Annotated[list[Turn], Field(min_length=1)]

    @property
    def hangs_up(self) -> bool:
        return self.turns[-1].hang_up

    @property
    def spoken_turns(self) -> list[Turn]:
        """The turns the model hears: the Nth VAD segment is the Nth of these."""
        return [t for t in self.turns if not t.hang_up]


class ModelKnobs(_Strict):
    forget_tool_calls: list[str] = []
    try_end_early: bool = False
    extra_goodbye: bool = False
    misread_digits: bool = False
    first_audio_ms: Annotated[int, Field(ge=0, le=10_000)] = 200


class ExtractorKnobs(_Strict):
    fabricate_quote: list[str] = []
    quote_agent_turn: list[str] = []
    wrong_value: list[str] = []


class Expect(_Strict):
    record: dict[str, str] = {}
    sources: dict[str, str] = {}
    goodbyes: int | None = None
    ended_by: Literal["agent", "caller"] | None = None


class Scenario(_Strict):
    agent: Path
    seed: int = 0
    caller: Caller
    model: ModelKnobs = ModelKnobs()
    extractor: ExtractorKnobs = ExtractorKnobs()
    expect: Expect = Expect()

    def field_values(self) -> dict[str, tuple[str, int]]:
        """Field name -> (value, index of the spoken turn that says it), first mention wins."""
        found: dict[str, tuple[str, int]] = {}
        for index, turn in enumerate(self.caller.spoken_turns):
            for key, value in turn.means.items():
                if key not in (CATEGORY, PROVIDER, LANGUAGE, DECLINED):
                    found.setdefault(key, (value, index))
        return found


class ScenarioError(ValueError):
    pass


def parse_scenario(data: Any, base_dir: Path) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(str(exc)) from exc
    agent = scenario.agent if scenario.agent.is_absolute() else (base_dir / scenario.agent)
    return scenario.model_copy(update={"agent": agent.resolve()})


def check_against_agent(scenario: Scenario) -> None:
    """Every field, category, provider and language the scenario names must exist in its agent."""
    from voice_agent.spec import SpecError, load_spec  # the library: simulator may depend on it

    try:
        spec = load_spec(scenario.agent)
    except SpecError as exc:
        raise ScenarioError(f"agent {scenario.agent}: {exc}") from exc
    fields = {f.name for f in spec.fields}
    problems: list[str] = []
    for n, turn in enumerate(scenario.caller.spoken_turns, 1):
        for key, value in turn.means.items():
            allowed = {
                CATEGORY: spec.categories,
                PROVIDER: spec.providers,
                DECLINED: sorted(fields),
                LANGUAGE: None,
            }.get(key, ...)
            if allowed is ... and key not in fields:
                problems.append(f"turn {n}: `means` key {key!r} is not a field of {spec.name}")
            elif isinstance(allowed, list) and value not in allowed:
                problems.append(f"turn {n}: {key} {value!r} is not one of {allowed}")
    knobs = scenario.extractor
    named = [
        *scenario.model.forget_tool_calls,
        *knobs.fabricate_quote,
        *knobs.quote_agent_turn,
        *knobs.wrong_value,
        *scenario.expect.record,
        *scenario.expect.sources,
    ]
    problems += [f"{name!r} is not a field of {spec.name}" for name in named if name not in fields]
    if problems:
        raise ScenarioError("; ".join(problems))


def load_scenario(path: str | Path, *, check_agent: bool = True) -> Scenario:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    scenario = parse_scenario(data, path.parent)
    if check_agent:
        check_against_agent(scenario)
    return scenario
