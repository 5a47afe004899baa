"""The scenario file (DESIGN.md "Scenario"): one simulated call, offline. Strict:
unknown keys are errors, and `agent:` is resolved relative to the scenario file."""

from __future__ import annotations

from dataclasses import dataclass
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
    # Silence inside the turn, longer than the VAD's: the server commits it as two segments.
    mid_turn_pause_ms: Annotated[int, Field(ge=250, le=10_000)] | None = None
    # The caller says nothing this long after the agent finishes, then speaks (a caller gone quiet:
    # longer than the spec's idle_seconds, the agent prompts first).
    silence_before_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    hang_up: bool = False

    @model_validator(mode="after")
    def _speaks_or_hangs_up(self) -> Turn:
        if self.hang_up == (self.say is not None):
            raise ValueError("a turn either has `say` or is `hang_up: true`")
        if self.hang_up and (self.means or self.barge_in_after_ms is not None or self.mid_turn_pause_ms is not None):
            raise ValueError("a hang_up turn carries nothing else")
        if self.silence_before_ms and self.barge_in_after_ms is not None:
            raise ValueError("a turn either waits in silence or barges in, not both")
        if self.mid_turn_pause_ms is not None and len((self.say or "").split()) < 2:
            raise ValueError("`mid_turn_pause_ms` needs a `say` of at least two words to pause between")
        return self

    def parts(self) -> list[str]:
        """What the caller says between pauses: the whole `say`, or with `mid_turn_pause_ms`
        its two halves split at the middle word boundary (the caller audio and the server's
        transcripts both use this, so they agree)."""
        if self.say is None:
            return []
        if self.mid_turn_pause_ms is None:
            return [self.say]
        words = self.say.split()
        middle = len(words) // 2
        return [" ".join(words[:middle]), " ".join(words[middle:])]


@dataclass(frozen=True)
class Segment:
    """One VAD segment the caller's audio produces: which spoken turn, and its text."""

    turn: int  # index into Caller.spoken_turns
    text: str
    last: bool  # the turn's final part: only now does the model act on its `means`


NoiseDb = Annotated[float, Field(ge=-70, le=-45)]  # dBFS RMS: audible, below the VAD's speech threshold (-40)


class Caller(_Strict):
    language: str = "en"
    turns: Annotated[list[Turn], Field(min_length=1)]
    noise_db: NoiseDb | None = None  # background noise under the caller's speech (a street, a car)

    @property
    def hangs_up(self) -> bool:
        return self.turns[-1].hang_up

    @property
    def spoken_turns(self) -> list[Turn]:
        """The turns the model hears, in order (a turn with a mid-turn pause is two segments)."""
        return [t for t in self.turns if not t.hang_up]

    def segments(self) -> list[Segment]:
        """The VAD segments the spoken turns produce, in order: the Nth commit is the Nth."""
        found: list[Segment] = []
        for index, turn in enumerate(self.spoken_turns):
            parts = turn.parts()
            found += [Segment(index, text, n == len(parts) - 1) for n, text in enumerate(parts)]
        return found


Index = Annotated[int, Field(ge=0)]


class ModelKnobs(_Strict):
    """How the stand-in misbehaves (docs/simulator.md, "Knobs"). Defaults: politely."""

    forget_tool_calls: list[str] = []
    mishear: dict[str, str] = {}  # field -> the value the model records instead of what the caller meant
    try_end_early: bool = False
    extra_goodbye: bool = False
    misread_digits: bool = False
    first_audio_ms: Annotated[int, Field(ge=0, le=10_000)] = 200
    # What real models say and call.
    speech_with_tool_calls: bool = False
    goodbye_before_end_call: bool = False
    multi_message_responses: bool = False
    # What the real service does to transcripts (caller turn indexes) and responses (response indexes).
    late_transcripts_ms: Annotated[int, Field(ge=0, le=10_000)] = 0
    empty_transcripts: list[Index] = []
    failed_transcripts: list[Index] = []
    failed_responses: list[Index] = []
    incomplete_responses: list[Index] = []
    # Sessions and connects.
    drop_session_at_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    refuse_connect: Literal[401, 429, 503] | None = None
    refuse_connect_after: Index = 0
    reject_session_update: bool = False
    # The phone line.
    echo_speech_started: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ModelKnobs:
        both = set(self.empty_transcripts) & set(self.failed_transcripts)
        if both:
            raise ValueError(f"caller turns {sorted(both)} are in both empty_transcripts and failed_transcripts")
        both = set(self.failed_responses) & set(self.incomplete_responses)
        if both:
            raise ValueError(f"responses {sorted(both)} are in both failed_responses and incomplete_responses")
        if self.refuse_connect_after and self.refuse_connect is None:
            raise ValueError("`refuse_connect_after` needs `refuse_connect`")
        return self


class ExtractorKnobs(_Strict):
    """How the simulated post-call LLM answers, field by field: the lies and the honest variants of real
    models (simulator/extractor.py says what each does)."""

    fabricate_quote: list[str] = []
    quote_agent_turn: list[str] = []
    wrong_value: list[str] = []
    quote_without_fillers: list[str] = []  # the quote leaves out the words listed in `fillers`
    fillers: list[str] = []  # scenario data: which of the caller's words count as fillers here
    quote_without_marks: list[str] = []  # "I'd" quoted as "Id", "617-555-0143" as "6175550143"
    normalised_value: dict[str, str] = {}  # field -> the value as the model rewrote it ("2nd floor")
    value_from_other_words: list[str] = []  # a word of the value swapped for another word of the quote
    mid_word_value: list[str] = []  # value and quote are the start of a word the caller said
    numerals: dict[str, str] = {}  # field -> what the model returns as the quote's numerals


class Expect(_Strict):
    record: dict[str, str] = {}
    sources: dict[str, str] = {}
    goodbyes: int | None = None
    ended_by: Literal["agent", "caller", "system"] | None = None  # system: no one spoke it (refused connect)


class Scenario(_Strict):
    agent: Path
    seed: int = 0
    caller: Caller
    model: ModelKnobs = ModelKnobs()
    extractor: ExtractorKnobs = ExtractorKnobs()
    expect: Expect = Expect()

    @model_validator(mode="after")
    def _turn_indexes_exist(self) -> Scenario:
        count = len(self.caller.spoken_turns)
        named = [*self.model.empty_transcripts, *self.model.failed_transcripts]
        if any(index >= count for index in named):
            raise ValueError(f"transcript knobs name caller turns {sorted(named)}; there are {count} (0-based)")
        return self

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
        *scenario.model.mishear,
        *knobs.fabricate_quote,
        *knobs.quote_agent_turn,
        *knobs.wrong_value,
        *knobs.quote_without_fillers,
        *knobs.quote_without_marks,
        *knobs.normalised_value,
        *knobs.value_from_other_words,
        *knobs.mid_word_value,
        *knobs.numerals,
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
