"""Validation by field type: structure, canonical forms, and reasons the model can act on."""

from __future__ import annotations

import pytest

from voice_agent.field_values import Invalid, Valid, digits_of, validate_value
from voice_agent.spec import FieldSpec, FieldType


def _f(t: FieldType, **kw) -> FieldSpec:
    return FieldSpec(name="f", type=t, **kw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("(617) 555-0142", "+16175550142"), ("617.555.0142", "+16175550142"), ("+44 20 7946 0958", "+442079460958")],
)
def test_phone_numbers_are_stored_as_e164(raw: str, expected: str) -> None:
    assert validate_value(_f(FieldType.PHONE_NUMBER), raw) == Valid(expected)


@pytest.mark.parametrize("raw", ["555 212 4419", "12", "call me maybe", 6175550142, ""])
def test_invalid_phone_numbers_are_rejected(raw: object) -> None:
    assert isinstance(validate_value(_f(FieldType.PHONE_NUMBER), raw), Invalid)


def test_phone_region_comes_from_the_spec() -> None:
    assert validate_value(_f(FieldType.PHONE_NUMBER, default_region="GB"), "020 7946 0958") == Valid("+442079460958")


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("1985-03-03", True), ("1985-13-03", False), ("1985-02-30", False), ("03/03/1985", False), ("1985-W10-1", False),
     ("19850303", False), ("1850-01-01", False), (19850303, False)],
)  # fmt: skip
def test_dates_are_strict_iso(raw: object, ok: bool) -> None:
    assert isinstance(validate_value(_f(FieldType.DATE), raw), Valid) is ok


def test_email_is_normalised_and_checked() -> None:
    assert validate_value(_f(FieldType.EMAIL), " maria@Example.COM ") == Valid("maria@example.com")
    assert isinstance(validate_value(_f(FieldType.EMAIL), "maria at example"), Invalid)


def test_choice_returns_the_canonical_choice() -> None:
    f = _f(FieldType.CHOICE, choices=["Gold", "Silver"])
    assert validate_value(f, "gold") == Valid("Gold")
    assert validate_value(f, "bronze") == Invalid("expected one of: Gold, Silver")


def test_numbers_booleans_names_and_text() -> None:
    assert validate_value(_f(FieldType.NUMBER), 3) == Valid("3")
    assert validate_value(_f(FieldType.NUMBER), 2.5) == Valid("2.5")
    assert isinstance(validate_value(_f(FieldType.NUMBER), True), Invalid)
    assert isinstance(validate_value(_f(FieldType.NUMBER), "3"), Invalid)
    assert validate_value(_f(FieldType.BOOLEAN), False) == Valid("false")
    assert isinstance(validate_value(_f(FieldType.BOOLEAN), "yes"), Invalid)
    assert validate_value(_f(FieldType.PERSON_NAME), "  José   García ") == Valid("José García")
    assert validate_value(_f(FieldType.PERSON_NAME), "李小龍") == Valid("李小龍")
    assert isinstance(validate_value(_f(FieldType.PERSON_NAME), "R2D2"), Invalid)
    assert isinstance(validate_value(_f(FieldType.TEXT), "   "), Invalid)
    assert isinstance(validate_value(_f(FieldType.TEXT), "x" * 501), Invalid)


def test_digits_of_reads_numerals_of_any_script() -> None:
    assert digits_of("٦١٧ ٥٥٥ ٠١٤٢") == "6175550142"
    assert digits_of("no digits") == ""
