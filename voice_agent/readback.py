"""Read-back of phone numbers: exact words from the stored value, and a digits-only verdict.

The words are numerals grouped the way the number is written nationally ("6 1 7, 5 5 5, 0 1 4 2"),
so the model voices them in whatever language the call is in. Verification compares digit
sequences only; a transcript without numerals is "unverified", never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import phonenumbers

from .field_values import digits_of

MAX_ATTEMPTS = 2  # the first read-back and one corrective retry


def readback_words(e164: str) -> tuple[str, str]:
    """(words to say, the digits they must contain) for a stored E.164 number."""
    number = phonenumbers.parse(e164, None)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups: list[str] = []
    current = ""
    for ch in national:
        if ch.isdecimal():
            current += ch
        elif current:
            groups.append(current)
            current = ""
    if current:
        groups.append(current)
    words = ", ".join(" ".join(g) for g in groups)
    return words, "".join(groups)


ReadbackVerdict = Literal["pass", "fail", "unverified"]


@dataclass(frozen=True, slots=True)
class ReadbackCheck:
    verdict: ReadbackVerdict
    heard_digits: str
    reason: str


def verify_readback(e164: str, transcript: str) -> ReadbackCheck:
    """Pass only when the spoken digits are exactly the national or the international digits."""
    heard = digits_of(transcript)
    if not heard:
        return ReadbackCheck("unverified", "", "no numerals in the spoken transcript")
    _, national = readback_words(e164)
    if heard in (national, digits_of(e164)):
        return ReadbackCheck("pass", heard, "spoken digits match the stored number")
    return ReadbackCheck("fail", heard, "spoken digits differ from the stored number")
