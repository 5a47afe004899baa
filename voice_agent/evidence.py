"""Evidence checks for the post-call pass: is an extracted value grounded in the caller's own words?

The extraction model's answer is a hypothesis. A field is written only when all of these hold:
  1. the quote is non-empty and stands verbatim in ONE caller turn (agent and system turns never
     count). "Verbatim" forgives only whitespace, letter case and punctuation (Unicode categories);
  2. the value passes the same validation as the live tool (`validate_value`);
  3. the value is consistent with the quote, judged by structure, never by language:
     - phone_number: the number's national digits stand, contiguous and in order, in the quote's
       numerals (any script's numerals, via `digits_of`). A quote without numerals proves nothing.
     - date, number: if the quote has numerals they must agree (date: the year is among them and
       every numeral is the year, the month or the day; number: its digits stand in the quote's).
       A quote with the number spelled in words cannot be checked by structure; it is accepted on
       the verbatim caller quote alone and the decision line says the structure was unchecked.
     - person_name: the name's words appear in the quote in the same order (fillers between are
       fine, a reversed name is not).
     - text, choice: every word of the value is a word of the quote (extractive, any order).
     - email: each part of the address between punctuation stands whole, in order, in the quote.
     - boolean: a yes/no cannot be read off a quote by structure; never backfilled.
  Word matching is on whole words split at whitespace, so scripts written without spaces only
  match whole clauses; such backfills are rejected (the safe direction) rather than guessed.
Reasons name the check, never the value or the quote: they go into decision lines.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from pydantic import BaseModel, ConfigDict

from .field_values import Invalid, digits_of, validate_value
from .record_store import Turn
from .spec import FieldSpec, FieldType


class Claim(BaseModel):
    """One field of the extraction answer (docs/CONTRACTS-internal.md)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    value: str | None = None
    quote: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    value: str  # canonical, as validate_value stores it
    quote: str
    turn_seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    turn_seq: int | None = None


def normalise(text: str) -> str:
    """Case-folded, punctuation turned into spaces, whitespace collapsed. Nothing else changes."""
    text = unicodedata.normalize("NFC", text).casefold()  # NFC: same text, one code-point spelling
    spaced = "".join(" " if ch.isspace() or unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(spaced.split())


def verify(field: FieldSpec, claim: Claim, turns: Sequence[Turn]) -> Accepted | Rejected:
    if claim.value is None or not claim.value.strip():
        return Rejected("no value in the answer: nothing to write")
    quote = (claim.quote or "").strip()
    if not normalise(quote):
        return Rejected("no quote: nothing is written without the caller's own words")
    found = _caller_turn(quote, claim.seq, turns)
    if isinstance(found, Rejected):
        return found
    turn, moved = found
    checked = validate_value(field, _json_typed(field, claim.value))
    if isinstance(checked, Invalid):
        return Rejected(f"the value fails the live tool's validation: {checked.reason}", turn.seq)
    problem, note = _supports(field, checked.value, quote)
    if problem:
        return Rejected(f"the quote does not support the value: {problem}", turn.seq)
    where = f"verbatim in caller turn {turn.seq}" + (f" (the answer named turn {claim.seq})" if moved else "")
    return Accepted(checked.value, quote, turn.seq, "; ".join(p for p in (f"quote {where}", note) if p))


def _caller_turn(quote: str, seq: int | None, turns: Sequence[Turn]) -> tuple[Turn, bool] | Rejected:
    """The caller turn holding the quote: the one the answer named if it holds it, else the first."""
    wanted = normalise(quote)
    holding = [t for t in turns if wanted in normalise(t.text)]
    callers = [t for t in holding if t.speaker == "caller"]
    if callers:
        named = next((t for t in callers if t.seq == seq), None)
        return (named, False) if named else (callers[0], seq is not None)
    if holding:
        other = holding[0]
        return Rejected(f"the quote is from {other.speaker} turn {other.seq}, not from the caller", other.seq)
    return Rejected("the quote is not in any turn of the transcript (fabricated or paraphrased)")


def _json_typed(field: FieldSpec, raw: str) -> object:
    # The contract carries every value as a string; number and boolean fields validate JSON literals.
    if field.type in (FieldType.NUMBER, FieldType.BOOLEAN):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _numeral_groups(text: str) -> list[str]:
    groups, current = [], ""
    for ch in text:
        if ch.isdecimal():
            current += digits_of(ch)
        elif current:
            groups.append(current)
            current = ""
    return [*groups, current] if current else groups


def _words_in_order(value: str, quote: str) -> bool:
    words, pos = normalise(quote).split(), 0
    for w in normalise(value).split():
        try:
            pos = words.index(w, pos) + 1
        except ValueError:
            return False
    return True


def _words_present(value: str, quote: str) -> bool:
    return set(normalise(value).split()) <= set(normalise(quote).split())


def _chunks_in_order(value: str, quote: str) -> bool:
    """Each run of the value between punctuation stands whole, in order, in the quote's letters
    (spoken separators such as "dot" fall between the runs)."""
    hay, pos = normalise(quote).replace(" ", ""), 0
    for chunk in normalise(value).split():
        found = hay.find(chunk, pos)
        if found < 0:
            return False
        pos = found + len(chunk)
    return True


def _supports(field: FieldSpec, value: str, quote: str) -> tuple[str | None, str | None]:
    """(problem, note): problem is why the quote does not support the value; note qualifies an accept."""
    unchecked = "the quote has no numerals, so the value's structure is unchecked"
    match field.type:
        case FieldType.PHONE_NUMBER:
            national = phonenumbers.national_significant_number(phonenumbers.parse(value))
            said = digits_of(quote)
            if not said:
                return "the quote has no numerals to check the number against", None
            return (None if national in said else "the number's digits are not in order in the quote"), None
        case FieldType.DATE:
            groups = _numeral_groups(quote)
            if not groups:
                return None, unchecked
            year, month, day = value.split("-")
            if not any(g == year or (len(g) == 2 and g == year[2:]) for g in groups):
                return "the year is not among the quote's numerals", None
            parts = {int(year), int(month), int(day), int(year[2:])}
            if any(int(g) not in parts for g in groups):
                return "a numeral in the quote is not the date's year, month or day", None
            years = {year, year[2:]}
            if any(g not in years for g in groups) and not any(int(g) == int(day) for g in groups):
                return "the quote's numerals do not include the day", None  # the month may be a word
            return None, None
        case FieldType.NUMBER:
            said = digits_of(quote)
            if not said:
                return None, unchecked
            return (None if digits_of(value) in said else "the number's digits are not in the quote"), None
        case FieldType.PERSON_NAME:
            return (None if _words_in_order(value, quote) else "the name's words are not in the quote in order"), None
        case FieldType.TEXT | FieldType.CHOICE:
            return (None if _words_present(value, quote) else "the value uses words the caller did not say"), None
        case FieldType.EMAIL:
            ok = _chunks_in_order(value, quote)
            return (None if ok else "the address's parts are not in order in the quote"), None
        case FieldType.BOOLEAN:
            return "a yes/no cannot be checked against a quote by structure", None
    raise AssertionError(f"unhandled field type {field.type}")  # pragma: no cover - exhaustive above
