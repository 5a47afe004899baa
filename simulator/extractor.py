"""The simulated post-call LLM: answers an extraction request from the scenario.

Contract (docs/CONTRACTS-internal.md): the last user message is a JSON object
`{"fields": [{name, type, description, evidence?}], "transcript": [{seq, speaker, text}]}`; the
answer is `{"fields": {name: {"value", "quote", "seq", "numerals"}}}`. A perfect extractor quotes
the caller turn that carries each value verbatim; the knobs make it answer the ways LLMs do:
  fabricate_quote, quote_agent_turn, wrong_value    lies the evidence check must reject;
  value_from_other_words   one word of the value swapped for another word of the quote;
  mid_word_value           value and quote are the start of a word the caller said ("Ann" of "Annabelle");
  quote_without_fillers    honest: the quote leaves out the scenario's `fillers`;
  quote_without_marks      honest: in-word marks dropped ("I'd" -> "Id", "617-555-0143" -> "6175550143");
  normalised_value         honest: the value as the model rewrote it (the scenario gives it);
  numerals                 what the model returns as the quote's numerals (never trusted).
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict

from simulator.scenario import ExtractorKnobs, Scenario

FABRICATED_QUOTE = "Like I told the other person, it is all in my file."


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskedField(_Model):
    name: str
    type: str
    description: str = ""
    evidence: str | None = None  # text fields: extractive or summary


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
    numerals: str | None = None


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
        if knobs:
            value, quote = _honest_variants(knobs, asked.name, value, quote)
        if knobs and asked.name in knobs.wrong_value:
            value = _wrong(value)
        if knobs and asked.name in knobs.fabricate_quote:
            quote = FABRICATED_QUOTE
        if knobs and asked.name in knobs.quote_agent_turn:
            agent = [t for t in request.transcript if t.speaker == "agent" and t.seq < line.seq]
            agent = agent or [t for t in request.transcript if t.speaker == "agent"]
            if agent:
                quote, seq = agent[-1].text, agent[-1].seq
        numerals = knobs.numerals.get(asked.name) if knobs else None
        answers[asked.name] = Extracted(value=value, quote=quote, seq=seq, numerals=numerals)
    return ExtractionAnswer(fields=answers)


def _bare(word: str) -> str:
    return "".join(ch for ch in word.casefold() if not unicodedata.category(ch).startswith(("P", "S")))


def _without_marks(text: str) -> str:
    """Punctuation between two letters or digits dropped: how models often copy "I'd" or "617-555-0143"."""
    keep = [
        ch
        for i, ch in enumerate(text)
        if not (
            unicodedata.category(ch).startswith("P")
            and 0 < i < len(text) - 1
            and text[i - 1].isalnum()
            and text[i + 1].isalnum()
        )
    ]
    return "".join(keep)


def _honest_variants(knobs: ExtractorKnobs, name: str, value: str, quote: str) -> tuple[str, str]:
    """The knobs that change value or quote the way real models do (honest or not), in a fixed order."""
    if name in knobs.normalised_value:
        value = knobs.normalised_value[name]
    if name in knobs.quote_without_fillers:
        fillers = {_bare(f) for f in knobs.fillers}
        quote = " ".join(w for w in quote.split() if _bare(w) not in fillers)
    if name in knobs.quote_without_marks:
        quote = _without_marks(quote)
    if name in knobs.value_from_other_words:
        words = value.split()
        own = {_bare(w) for w in words}
        other = next((w for w in quote.split() if _bare(w) and _bare(w) not in own), None)  # the first such word
        if other and len(words) > 1:
            value = " ".join([*words[:-1], "".join(ch for ch in other if ch.isalnum())])
    if name in knobs.mid_word_value:
        longest = max(value.split(), key=len)
        value = quote = longest[: max(1, len(longest) // 2)]
    return value, quote
