"""Is an extracted value grounded in the caller's own words? The single owner of that question.

The extraction model's answer is a hypothesis; `verify` turns it into one of three outcomes:
  Accepted   the value is written (with the caller's words it stands on and the rule that proved it);
  Candidate  the quote is the caller's but cannot prove the value's structure (a date or number said
             in words): stored next to the field for the office to confirm, never counted as a value;
  Rejected   nothing is written.

Everything compares TOKENS, never raw substrings: a token is a whitespace-separated chunk (or one
character of a script written without spaces), Unicode-normalised (NFKC), case-folded, numerals of
any script as ASCII digits, with punctuation and symbols removed inside and around it. So "I'd" and
"Id", "617-555-0143" and "6175550143" compare equal, and "Ann" never matches inside "Annabelle".
A token may also equal a run of whole tokens joined ("L O P E Z" and "Lopez"). No word lists, no
language rules: only this structure.

The rules, each named in the decision line:
  quote          the quote is found in ONE caller turn as an ordered token sequence that may skip up
                 to `skip_budget` of the turn's tokens (an omitted filler or repetition) and may miss
                 at most one in ten of its own tokens; it is never reordered. Agent turns never count.
                 What is stored as the quote is the caller's words as the transcript has them.
  extractive     names, choice labels and extractive text: the value's tokens stand contiguous, in
                 order, in the quote's tokens that were found in the turn (a bag of words is not
                 evidence, and a quote word the turn does not hold supports nothing).
  caller_wording extractive text that fails that check by one interior edit (a normalised word, or
                 a word the model added, between two anchored runs of the value): the caller's own
                 words for that span are written instead of the model's, and the record says so.
  summary        a text field the spec marks `evidence: summary`: the value may paraphrase; it is
                 written with the caller's quote and flagged as a summary.
  structure      phone number, date, number, email: written only when the caller's numerals (or, for
                 an email, the address's letter runs) prove the value; when they prove a different
                 value the claim is rejected; when they prove nothing it is a candidate. The
                 extractor's `numerals` are never evidence: they can only reject an answer that
                 contradicts itself, and travel with a candidate for the office.
  validation     every value passes the live tool's validation first (`validate_value`).
  boolean        a yes/no cannot be read off a quote by structure: never backfilled.
Reasons name the rule and the check, never the value or the quote: they go into decision lines.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import phonenumbers
from pydantic import BaseModel, ConfigDict

from .field_values import Invalid, validate_value
from .record_store import Turn
from .spec import EvidenceRule, FieldSpec, FieldType

MAX_MERGE = 16  # whole tokens one token may stand for ("X J 4 5 5 2" for "XJ4552")
MAX_EDIT_VALUE, MAX_EDIT_QUOTE = 2, 3  # caller_wording: the one interior edit's size on each side
EMAIL_GAP = 2  # tokens allowed between an address's letter runs (its spoken separators)
# Numeric separators inside one written number: grouping or decimal marks of written numerals.
_NUMBER_MARKS = frozenset(".,'\u066b\u066c\u2019\u00a0\u202f")


class Rule(StrEnum):
    NO_VALUE = "no_value"
    QUOTE = "quote"
    VALIDATION = "validation"
    EXTRACTIVE = "extractive"
    CALLER_WORDING = "caller_wording"
    SUMMARY = "summary"
    STRUCTURE = "structure"
    BOOLEAN = "boolean"


class Claim(BaseModel):
    """One field of the extraction answer (docs/CONTRACTS-internal.md)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    value: str | None = None
    quote: str | None = None
    seq: int | None = None
    numerals: str | None = None  # the quote's numbers as numerals, by the model: never evidence


@dataclass(frozen=True, slots=True)
class Accepted:
    value: str  # canonical, as validate_value stores it (or the caller's words, rule caller_wording)
    quote: str  # the caller's words the value stands on, as the transcript has them
    turn_seq: int
    rule: Rule
    detail: str

    @property
    def reason(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Candidate:
    value: str  # canonical, validated, but unproven by the quote's structure
    quote: str
    turn_seq: int
    detail: str  # why the structure is unproven
    where: str  # where the quote was found
    numerals: str | None = None

    @property
    def reason(self) -> str:
        """The decision line's reason."""
        return f"{Rule.STRUCTURE}: unverified, kept as a candidate for the office: {self.detail}; {self.where}"

    @property
    def label(self) -> str:
        """What the record shows next to the field."""
        return f"unverified structure: {self.detail}"


@dataclass(frozen=True, slots=True)
class Rejected:
    rule: Rule
    detail: str
    turn_seq: int | None = None

    @property
    def reason(self) -> str:
        return f"{self.rule}: {self.detail}"


Verdict = Accepted | Candidate | Rejected


# --- tokens ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Token:
    key: str  # what matching compares
    start: int  # the chunk's place in the original text
    end: int


def _key(chunk: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFKC", chunk).casefold():
        if ch.isdecimal():
            out.append(str(unicodedata.decimal(ch)))
        elif not unicodedata.category(ch).startswith(("P", "S")):
            out.append(ch)
    return "".join(out)


def _spaceless(ch: str) -> bool:
    """A letter of a script written without spaces between words (wide CJK): one token each."""
    return unicodedata.east_asian_width(ch) in ("W", "F") and unicodedata.category(ch).startswith("L")


def tokens(text: str) -> list[Token]:
    return list(_tokens(text))


@functools.lru_cache(maxsize=4096)  # a call's turns are tokenised once for all its fields
def _tokens(text: str) -> tuple[Token, ...]:
    out: list[Token] = []
    start: int | None = None

    def close(end: int) -> None:
        if start is not None and (key := _key(text[start:end])):
            out.append(Token(key, start, end))

    for i, ch in enumerate(text):
        if ch.isspace() or _spaceless(ch):
            close(i)
            start = None
            if _spaceless(ch):
                out.append(Token(_key(ch), i, i + 1))
        elif start is None:
            start = i
    close(len(text))
    return tuple(out)


def normalise(text: str) -> str:
    """The token keys of a text joined by spaces: what matching sees."""
    return " ".join(t.key for t in tokens(text))


# --- alignment ---------------------------------------------------------------------------------
Keys = Sequence[str | None]  # None: a position that matches nothing (a quote word the turn lacks)


def _steps(a: Keys, i: int, b: Keys, j: int) -> Iterator[tuple[int, int]]:
    """Ways to match a[i:] against b[j:] one unit on: one token each, or one token for whole tokens joined."""
    x, y = a[i], b[j]
    if x is None or y is None:
        return
    if x == y:
        yield 1, 1
        return
    for short, long_, seq, at, flip in ((x, y, a, i, False), (y, x, b, j, True)):
        if len(short) < len(long_) and long_.startswith(short):
            acc, k = short, at + 1
            while k < len(seq) and k - at < MAX_MERGE and (nxt := seq[k]) is not None:
                acc += nxt
                k += 1
                if acc == long_:
                    yield (1, k - at) if flip else (k - at, 1)
                    break
                if not long_.startswith(acc):
                    break


def _run(a: Keys, b: Keys, j: int) -> int | None:
    """Where in b a contiguous, in-order match of all of a starting at b[j] ends; None if there is none."""

    def go(i: int, k: int) -> int | None:
        if i == len(a):
            return k
        if k >= len(b):
            return None
        for di, dk in _steps(a, i, b, k):
            if (end := go(i + di, k + dk)) is not None:
                return end
        return None

    return go(0, j)


def _runs(a: Keys, b: Keys) -> Iterator[tuple[int, int]]:
    for j in range(len(b)):
        if (end := _run(a, b, j)) is not None:
            yield j, end


def skip_budget(quote_tokens: int) -> int:
    """Turn tokens a quote may leave out (fillers, repetitions): two, plus one for every five words of quote."""
    return 2 + quote_tokens // 5


def miss_budget(quote_tokens: int) -> int:
    """Quote tokens that need not be in the turn: one in ten, none for a short quote."""
    return quote_tokens // 10


@dataclass(frozen=True, slots=True)
class Alignment:
    pairs: tuple[tuple[int, int, int, int], ...]  # (quote index, count, turn index, count) per match
    misses: int
    skips: int

    @property
    def turn_span(self) -> tuple[int, int]:
        return self.pairs[0][2], self.pairs[-1][2] + self.pairs[-1][3]

    def found_keys(self, quote: Sequence[Token]) -> list[str | None]:
        """The quote's keys with every token the turn does not hold masked out."""
        found = {q for qi, qn, _, _ in self.pairs for q in range(qi, qi + qn)}
        return [t.key if i in found else None for i, t in enumerate(quote)]

    def turn_index(self, quote_index: int, *, end: bool = False) -> int:
        """The turn token a quote token was matched to (the last one of a merge when `end`)."""
        for qi, qn, ti, tn in self.pairs:
            if qi <= quote_index < qi + qn:
                return ti + tn - 1 if end else ti
        raise ValueError("quote token has no match")


def align(quote: Sequence[str], turn: Sequence[str]) -> Alignment | None:
    """The best in-order alignment of a quote's tokens inside a turn's, within the skip and miss
    budgets: fewest missed quote tokens, then fewest skipped turn tokens. None when there is none."""
    m, n = len(quote), len(turn)
    if m == 0:
        return None
    for j in range(n):  # the common case: contiguous, found without the table
        if (end := _contiguous_pairs(quote, turn, j)) is not None:
            return Alignment(end, 0, 0)
    max_miss, max_skip = miss_budget(m), skip_budget(m)
    joined = "".join(turn)
    if sum(1 for q in quote if q in joined) < m - max_miss:
        return None  # cheap necessary condition: every matched token's letters stand in the turn
    # best[(i, j, misses)] = (skips, parent state, the match step that led here or None)
    State = tuple[int, int, int]
    best: dict[State, tuple[int, State | None, tuple[int, int, int, int] | None]] = {}

    def relax(state: State, skips: int, parent: State | None, step: tuple[int, int, int, int] | None) -> None:
        if skips <= max_skip and (state not in best or skips < best[state][0]):
            best[state] = (skips, parent, step)

    for i in range(m + 1):
        for j in range(n + 1):
            if i < m and j < n and i <= max_miss:  # start the match here, the first i quote tokens missed
                for di, dj in _steps(quote, i, turn, j):
                    relax((i + di, j + dj, i), 0, None, (i, di, j, dj))
            for u in range(max_miss + 1):
                here = best.get((i, j, u))
                if here is None:
                    continue
                skips = here[0]
                if i < m and j < n:
                    for di, dj in _steps(quote, i, turn, j):
                        relax((i + di, j + dj, u), skips, (i, j, u), (i, di, j, dj))
                if i < m and u < max_miss:
                    relax((i + 1, j, u + 1), skips, (i, j, u), None)
                if i < m and j < n:
                    relax((i, j + 1, u), skips + 1, (i, j, u), None)
    ends = [(u, best[(m, j, u)][0], j) for j in range(n + 1) for u in range(max_miss + 1) if (m, j, u) in best]
    if not ends:
        return None
    u, skips, j = min(ends)
    pairs: list[tuple[int, int, int, int]] = []
    state: State | None = (m, j, u)
    while state is not None:
        _, parent, step = best[state]
        if step is not None:
            pairs.append(step)
        state = parent
    return Alignment(tuple(reversed(pairs)), u, skips)


def _contiguous_pairs(a: Keys, b: Keys, j: int) -> tuple[tuple[int, int, int, int], ...] | None:
    out: list[tuple[int, int, int, int]] = []

    def go(i: int, k: int) -> bool:
        if i == len(a):
            return True
        if k >= len(b):
            return False
        for di, dk in _steps(a, i, b, k):
            out.append((i, di, k, dk))
            if go(i + di, k + dk):
                return True
            out.pop()
        return False

    return tuple(out) if go(0, j) else None


# --- the verifier ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Located:
    turn: Turn
    turn_tokens: list[Token]
    quote_tokens: list[Token]
    alignment: Alignment
    moved: int | None  # the turn the answer named, when the quote is not there

    def text(self, first: int, last: int) -> str:
        """The turn's own characters from turn token `first` to turn token `last`, inclusive."""
        return self.turn.text[self.turn_tokens[first].start : self.turn_tokens[last].end]

    @property
    def quote(self) -> str:
        first, end = self.alignment.turn_span
        return self.text(first, end - 1)

    @property
    def where(self) -> str:
        a = self.alignment
        how = f", skipping {a.skips} of the turn's words" if a.skips else ""
        how += f", missing {a.misses} of its own" if a.misses else ""
        named = f"; the answer named turn {self.moved}" if self.moved is not None else ""
        return f"quote found in caller turn {self.turn.seq}{how}{named}"


def verify(field: FieldSpec, claim: Claim, turns: Sequence[Turn]) -> Verdict:
    if claim.value is None or not claim.value.strip():
        return Rejected(Rule.NO_VALUE, "no value in the answer: nothing to write")
    quote_tokens = tokens(claim.quote or "")
    if not quote_tokens:
        return Rejected(Rule.QUOTE, "no quote: nothing is written without the caller's own words")
    found = _locate(quote_tokens, claim.seq, turns)
    if isinstance(found, Rejected):
        return found
    seq = found.turn.seq
    checked = validate_value(field, _json_typed(field, claim.value))
    if isinstance(checked, Invalid):
        return Rejected(Rule.VALIDATION, f"the value fails the live tool's validation: {checked.reason}", seq)
    value = checked.value
    match field.type:
        case FieldType.BOOLEAN:
            return Rejected(Rule.BOOLEAN, "a yes/no cannot be checked against a quote by structure", seq)
        case FieldType.TEXT if field.evidence is EvidenceRule.SUMMARY:
            detail = f"a summary of the quote (the wording is not checked); {found.where}"
            return Accepted(value, found.quote, seq, Rule.SUMMARY, detail)
        case FieldType.TEXT | FieldType.PERSON_NAME | FieldType.CHOICE:
            return _extractive(field, value, found)
        case FieldType.PHONE_NUMBER | FieldType.DATE | FieldType.NUMBER | FieldType.EMAIL:
            return _structure(field, value, claim.numerals, found)
    raise AssertionError(f"unhandled field type {field.type}")  # pragma: no cover - exhaustive above


def _locate(quote: list[Token], seq: int | None, turns: Sequence[Turn]) -> _Located | Rejected:
    """The caller turn holding the quote: the one the answer named if it holds it, else the best."""
    keys = [t.key for t in quote]
    held: list[tuple[Turn, list[Token], Alignment]] = []
    for turn in turns:
        turn_tokens = tokens(turn.text)
        if (a := align(keys, [t.key for t in turn_tokens])) is not None:
            held.append((turn, turn_tokens, a))
    callers = [h for h in held if h[0].speaker == "caller"]
    if not callers:
        if held:
            other = held[0][0]
            return Rejected(
                Rule.QUOTE, f"the quote is from {other.speaker} turn {other.seq}, not from the caller", other.seq
            )
        return Rejected(Rule.QUOTE, "the quote is not in any caller turn, even allowing skipped words (fabricated)")
    named = next((h for h in callers if h[0].seq == seq), None)
    turn, turn_tokens, alignment = named or min(callers, key=lambda h: (h[2].misses, h[2].skips))
    moved = seq if named is None and seq is not None else None
    return _Located(turn, turn_tokens, quote, alignment, moved)


def _json_typed(field: FieldSpec, raw: str) -> object:
    # The contract carries every value as a string; number and boolean fields validate JSON literals.
    if field.type in (FieldType.NUMBER, FieldType.BOOLEAN):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _extractive(field: FieldSpec, value: str, found: _Located) -> Accepted | Rejected:
    seq, said = found.turn.seq, found.alignment.found_keys(found.quote_tokens)
    wanted = [t.key for t in tokens(value)]
    if next(_runs(wanted, said), None) is not None:
        return Accepted(
            value, found.quote, seq, Rule.EXTRACTIVE, f"the value stands word for word in the quote; {found.where}"
        )
    if field.type is FieldType.TEXT and (span := _one_edit_span(wanted, said)) is not None:
        first, last = found.alignment.turn_index(span[0]), found.alignment.turn_index(span[1] - 1, end=True)
        words = _trim(found.text(first, last))
        if not isinstance(validate_value(field, words), Invalid):
            detail = f"the value is one edit from the caller's words, which are written instead; {found.where}"
            return Accepted(words, found.quote, seq, Rule.CALLER_WORDING, detail)
    what = {FieldType.PERSON_NAME: "the name's", FieldType.CHOICE: "the choice's"}.get(field.type, "the value's")
    return Rejected(Rule.EXTRACTIVE, f"{what} words do not stand in order, word for word, in the quote", seq)


def _one_edit_span(value: Keys, said: Keys) -> tuple[int, int] | None:
    """A quote window that is the value with ONE interior edit: an anchored run of the value on each
    side, and between them 1..MAX_EDIT_VALUE value tokens replaced by 0..MAX_EDIT_QUOTE other quote
    tokens ("2nd" by "second"; an added word dropped). Never a pure insertion: that would let a value
    stretch over caller words that are not part of it."""
    for p in range(1, len(value)):
        for start, mid in _runs(value[:p], said):
            for k in range(1, MAX_EDIT_VALUE + 1):
                rest, removed = value[p + k :], set(value[p : p + k])
                if not rest:
                    break
                for g in range(MAX_EDIT_QUOTE + 1):
                    inserted = said[mid : mid + g]
                    if mid + g >= len(said) or None in inserted or removed & set(inserted):
                        continue  # a replacement must be new words, not the value's own words moved
                    if (end := _run(rest, said, mid + g)) is not None:
                        return start, end
    return None


def _trim(text: str) -> str:
    """Drop punctuation and symbols around a span of the caller's words (kept inside), except a closing
    bracket or quote whose opening one is inside the span ("Hengelo (Gld)")."""
    keep = [i for i, ch in enumerate(text) if not unicodedata.category(ch).startswith(("P", "S", "Z"))]
    if not keep:
        return text
    first, last = keep[0], keep[-1]
    inside = {unicodedata.category(ch) for ch in text[first:last]}
    while last + 1 < len(text) and unicodedata.category(text[last + 1]) in ("Pe", "Pf") and inside & {"Ps", "Pi"}:
        last += 1
    return text[first : last + 1]


# --- structure ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Numeral:
    digits: str  # ASCII
    plus: bool  # written right after a "+"


def _numerals(text: str) -> list[_Numeral]:
    out: list[_Numeral] = []
    current, plus = "", False
    for i, ch in enumerate(text + " "):
        if ch.isdecimal():
            if not current:
                plus = i > 0 and text[i - 1] == "+"
            current += str(unicodedata.decimal(ch))
        elif current:
            out.append(_Numeral(current, plus))
            current = ""
    return out


def _written_numbers(text: str) -> list[set[Decimal]]:
    """Each number written with numerals, with what it can mean (every mark grouping, or the last one
    a decimal mark; grouping marks stand before groups of three, so "2.4" is never 24). Numerals
    joined by other marks ("2:15", "3/4", "617-555") are not one number."""
    out: list[set[Decimal]] = []
    for chunk in text.split():
        segments: list[tuple[int, int]] = []  # [start, end) of runs of digits and number marks
        i = 0
        while i < len(chunk):
            if chunk[i].isdecimal():
                j = i
                while j < len(chunk) and (chunk[j].isdecimal() or chunk[j] in _NUMBER_MARKS):
                    j += 1
                while not chunk[j - 1].isdecimal():
                    j -= 1
                segments.append((i, j))
                i = j
            else:
                i += 1
        for n, (start, end) in enumerate(segments):
            linked = (n > 0 and _joined(chunk, segments[n - 1][1], start)) or (
                n + 1 < len(segments) and _joined(chunk, end, segments[n + 1][0])
            )
            runs = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else " " for c in chunk[start:end]).split(" ")
            if linked or "" in runs:
                continue  # a compound numeral, or two marks in a row: not one number
            readings = {Decimal("".join(runs))} if _grouped(runs) else set()
            if len(runs) > 1 and _grouped(runs[:-1]):
                readings.add(Decimal("".join(runs[:-1]) + "." + runs[-1]))
            out.append(readings)
    return out


def _grouped(runs: Sequence[str]) -> bool:
    """Digit runs that read as one number with grouping marks: groups of three after the first
    (1,250 or 1.250.000), or of two then a last three (1,00,000)."""
    rest = runs[1:]
    return all(len(r) == 3 for r in rest) or (len(rest[-1]) == 3 and all(len(r) == 2 for r in rest[:-1]))


def _joined(chunk: str, end: int, start: int) -> bool:
    """Two numeral runs of one chunk joined only by marks (not letters): parts of one compound numeral."""
    between = chunk[end:start]
    return bool(between) and not any(ch.isalpha() for ch in between)


def _phones_in(text: str, region: str) -> set[str]:
    """Every valid phone number that consecutive numeral groups of the text spell, as E.164."""
    groups, found = _numerals(text), set()
    for i in range(len(groups)):
        digits = ""
        for g in groups[i:]:
            digits += g.digits
            if len(digits) > 17:
                break
            for raw in ((f"+{digits}",) if groups[i].plus else ()) + (digits,):
                try:
                    number = phonenumbers.parse(raw, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    found.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return found


def _dates_in(text: str) -> set[tuple[int | None, int, int, int]]:
    """(year or None, two-digit year, month, day) for every three consecutive numeral groups that
    read as a real date in the order year-month-day, day-month-year or month-day-year."""
    groups, found = _numerals(text), set()
    for a, b, c in zip(groups, groups[1:], groups[2:], strict=False):
        for y, mo, d in ((a, b, c), (c, b, a), (c, a, b)):
            if len(y.digits) not in (2, 4) or len(mo.digits) > 2 or len(d.digits) > 2:
                continue
            year = int(y.digits) if len(y.digits) == 4 else None
            try:
                dt.date(year or 2000 + int(y.digits), int(mo.digits), int(d.digits))
            except ValueError:
                continue
            found.add((year, int(y.digits) % 100, int(mo.digits), int(d.digits)))
    return found


def _date_in(value: str, dates: set[tuple[int | None, int, int, int]]) -> bool:
    day = dt.date.fromisoformat(value)
    return any(y in (None, day.year) and (yy, m, d) == (day.year % 100, day.month, day.day) for y, yy, m, d in dates)


def _email_runs(value: str) -> list[str]:
    return [k for k in (_key(part) for part in _split_marks(value)) if k]


def _split_marks(value: str) -> list[str]:
    parts, current = [], ""
    for ch in unicodedata.normalize("NFKC", value):
        if unicodedata.category(ch).startswith(("P", "S", "Z")):
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def _email_said(runs: Sequence[str], said: Keys) -> bool:
    """The address's letter runs stand whole, in order, with at most EMAIL_GAP tokens between runs."""

    def go(i: int, k: int) -> bool:
        if k >= len(said):
            return False
        for di, dk in _steps(runs, i, said, k):
            if i + di == len(runs) or any(go(i + di, k + dk + g) for g in range(EMAIL_GAP + 1)):
                return True
        return False

    return bool(runs) and any(go(0, k) for k in range(len(said)))


def _structure(field: FieldSpec, value: str, numerals: str | None, found: _Located) -> Accepted | Candidate | Rejected:
    seq, text, where = found.turn.seq, found.quote, found.where
    proof = _prove(field, value, text, found)
    what = "the address's letter runs" if field.type is FieldType.EMAIL else "the caller's numerals"
    if proof == "proven":
        return Accepted(value, text, seq, Rule.STRUCTURE, f"{what} prove the value; {where}")
    if proof == "contradicted":
        return Rejected(Rule.STRUCTURE, f"{what} prove a different value; {where}", seq)
    if numerals and _prove(field, value, numerals, None) == "contradicted":
        return Rejected(Rule.STRUCTURE, "the answer's own numerals contradict its value", seq)
    detail = {
        FieldType.EMAIL: "the address's letter runs are not all in the quote",
    }.get(field.type, "the quote's numerals do not prove the value (said in words?)")
    return Candidate(value, text, seq, detail, where, numerals)


def _prove(field: FieldSpec, value: str, text: str, found: _Located | None) -> str:
    """'proven', 'contradicted' or 'unproven': what a text's structure says about a value."""
    match field.type:
        case FieldType.PHONE_NUMBER:
            # Only a whole number of the value's length contradicts it: a shorter run of the caller's
            # numerals that happens to be valid somewhere ("310 7767") is part of the number, said mixed.
            phones = _phones_in(text, field.default_region)
            other = any(len(p) == len(value) for p in phones)
            return "proven" if value in phones else "contradicted" if other else "unproven"
        case FieldType.DATE:
            dates = _dates_in(text)
            return "proven" if _date_in(value, dates) else "contradicted" if dates else "unproven"
        case FieldType.NUMBER:
            wanted = Decimal(value)
            return "proven" if any(wanted in readings for readings in _written_numbers(text)) else "unproven"
        case FieldType.EMAIL:
            said = found.alignment.found_keys(found.quote_tokens) if found else [t.key for t in tokens(text)]
            return "proven" if _email_said(_email_runs(value), said) else "unproven"
    raise AssertionError(f"not a structured type: {field.type}")  # pragma: no cover
