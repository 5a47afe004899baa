"""The simulated post-call LLM: answers an extraction request from the scenario.

Contract (docs/CONTRACTS-internal.md): the last user message is a JSON object
`{"fields": [{name, type, description}], "transcript": [{seq, speaker, text}]}`; the
answer is `{"fields": {name: {"value", "quote", "seq"}}}`. A perfect extractor quotes
the caller turn that carries each value verbatim; the knobs make it lie the ways LLMs do.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from simulator.scenario import Scenario

FABRICATED_QUOTE = "Like I told the other person, it is all in my file."


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskedField(_Model):
    name: str
    type: str
    description: str = ""


class TranscriptLine(_Model):
    seq: int
    speaker: str
    text: str


class ExtractionRequest(_Model):
    fields: list[AskedField]
    transcript: list[TranscriptLine]


class Extracted(_Model):
    value: str | None
    quote: str | None
    seq: int | None


class ExtractionAnswer(_Model):
    fields: dict[str, Extracted]


def _wrong(value: str) -> str:
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    if digits:
        i = digits[len(digits) // 2]
        return value[:i] + str((int(value[i]) + 3) % 10) + value[i + 1 :]
    words = value.split()
    return " ".join(reversed(words)) if len(words) > 1 else value + "e"


def extract(request: ExtractionRequest, scenario: Scenario | None) -> ExtractionAnswer:
    answers: dict[str, Extracted] = {}
    known = scenario.field_values() if scenario else {}
    turns = scenario.caller.spoken_turns if scenario else []
    knobs = scenario.extractor if scenario else None
    for asked in request.fields:
        found = known.get(asked.name)
        line = None
        if found is not None:
            said = turns[found[1]].say or ""
            line = next((t for t in request.transcript if t.speaker == "caller" and said and said in t.text), None)
        if found is None or line is None:
            answers[asked.name] = Extracted(value=None, quote=None, seq=None)  # never said: nothing to quote
            continue
        value, quote, seq = found[0], line.text, line.seq
        if knobs and asked.name in knobs.wrong_value:
            value = _wrong(value)
        if knobs and asked.name in knobs.fabricate_quote:
            quote = FABRICATED_QUOTE
        if knobs and asked.name in knobs.quote_agent_turn:
            agent = [t for t in request.transcript if t.speaker == "agent" and t.seq < line.seq]
            agent = agent or [t for t in request.transcript if t.speaker == "agent"]
            if agent:
                quote, seq = agent[-1].text, agent[-1].seq
        answers[asked.name] = Extracted(value=value, quote=quote, seq=seq)
    return ExtractionAnswer(fields=answers)
