"""Validation of captured values by field type: structure only, never language.

Every value the live tools or the post-call pass write goes through `validate_value`, so a
field holds the same canonical form whoever wrote it (E.164 phone numbers, ISO dates).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

import phonenumbers

from .spec import FieldSpec, FieldType

MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class Valid:
    value: str  # canonical text form, as stored


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str  # why, in words the model can act on (see steering.py)


def _text(raw: object, limit: int) -> str | None:
    if not isinstance(raw, str):
        return None
    text = " ".join(raw.split())
    return text if 0 < len(text) <= limit else None


def digits_of(text: str) -> str:
    """The decimal digits in a text, in order, as ASCII (any script's numerals count)."""
    return "".join(str(unicodedata.decimal(ch)) for ch in text if ch.isdecimal())


def validate_value(field: FieldSpec, raw: object) -> Valid | Invalid:
    match field.type:
        case FieldType.TEXT:
            text = _text(raw, MAX_TEXT)
            return Valid(text) if text else Invalid(f"expected non-empty text of at most {MAX_TEXT} characters")
        case FieldType.PERSON_NAME:
            name = _text(raw, 120)
            if not name or not any(ch.isalpha() for ch in name) or any(ch.isdecimal() for ch in name):
                return Invalid("expected a person's name: letters, no digits")
            return Valid(name)
        case FieldType.PHONE_NUMBER:
            return _phone(field, raw)
        case FieldType.DATE:
            return _date(raw)
        case FieldType.EMAIL:
            if not isinstance(raw, str):
                return Invalid("expected an email address")
            # Imported here: it compiles large regexes (~40 ms of a Lambda cold start) and most
            # specs have no email field.
            from email_validator import EmailNotValidError, validate_email

            try:
                return Valid(validate_email(raw.strip(), check_deliverability=False).normalized)
            except EmailNotValidError as err:
                return Invalid(f"not a valid email address ({err})")
        case FieldType.NUMBER:
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                return Invalid("expected a number")
            return Valid(repr(raw) if isinstance(raw, float) and not raw.is_integer() else str(int(raw)))
        case FieldType.CHOICE:
            choices = field.choices or []
            match_ = next((c for c in choices if isinstance(raw, str) and c.casefold() == raw.strip().casefold()), None)
            return Valid(match_) if match_ else Invalid(f"expected one of: {', '.join(choices)}")
        case FieldType.BOOLEAN:
            return Valid("true" if raw else "false") if isinstance(raw, bool) else Invalid("expected true or false")
    raise AssertionError(f"unhandled field type {field.type}")  # pragma: no cover - exhaustive above


def _phone(field: FieldSpec, raw: object) -> Valid | Invalid:
    if not isinstance(raw, str) or not digits_of(raw):
        return Invalid("expected a phone number written with digits")
    try:
        number = phonenumbers.parse(raw, field.default_region)
    except phonenumbers.NumberParseException:
        return Invalid("not a phone number")
    if not phonenumbers.is_valid_number(number):
        return Invalid("not a valid phone number (check the area code and the count of digits)")
    return Valid(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _date(raw: object) -> Valid | Invalid:
    # Strict YYYY-MM-DD: fromisoformat alone also takes week dates and compact forms.
    if not isinstance(raw, str) or len(raw.strip()) != 10:
        return Invalid("expected a date as YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError:
        return Invalid("expected a real calendar date as YYYY-MM-DD")
    if day.isoformat() != raw.strip():
        return Invalid("expected a date as YYYY-MM-DD")
    if not 1900 <= day.year <= 2100:
        return Invalid("expected a year between 1900 and 2100")
    return Valid(day.isoformat())


def json_schema_for(field: FieldSpec) -> dict[str, object]:
    """The JSON schema of a record tool's `value`, typed by the field type."""
    match field.type:
        case FieldType.TEXT:
            return {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
        case FieldType.PERSON_NAME:
            return {"type": "string", "minLength": 1, "maxLength": 120}
        case FieldType.PHONE_NUMBER:
            return {"type": "string", "minLength": 3, "maxLength": 32}
        case FieldType.DATE:
            return {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
        case FieldType.EMAIL:
            return {"type": "string", "format": "email", "maxLength": 254}
        case FieldType.NUMBER:
            return {"type": "number"}
        case FieldType.CHOICE:
            return {"type": "string", "enum": list(field.choices or [])}
        case FieldType.BOOLEAN:
            return {"type": "boolean"}
    raise AssertionError(f"unhandled field type {field.type}")  # pragma: no cover
