"""The evidence checks, pure: verbatim caller quotes, structural agreement by field type."""

from __future__ import annotations

import pytest

from voice_agent.evidence import Accepted, Claim, Rejected, normalise, verify
from voice_agent.record_store import Turn
from voice_agent.spec import AgentSpec, FieldSpec, FieldType


def turns(*lines: tuple[str, str]) -> list[Turn]:
    return [Turn(call_id="c", seq=i, t_ms=i, speaker=s, text=t) for i, (s, t) in enumerate(lines)]  # type: ignore[arg-type]


T = turns(
    ("agent", "Can I have your full name, please?"),
    ("caller", "It's  MARIA Lopez -- L O P E Z!"),
    ("agent", "And a number to call you back?"),
    ("caller", "Sure: (617) 555-0142, that's my cell."),
    ("caller", "Born March 3rd, 1985."),
    ("caller", "July twelfth, nineteen sixty."),
)


def field(spec: AgentSpec, name: str) -> FieldSpec:
    f = spec.field(name)
    assert f is not None
    return f


def test_normalise_forgives_only_case_whitespace_and_punctuation() -> None:
    assert normalise("  It's\tMARIA,  Lopez¡ ") == "it s maria lopez"
    assert normalise("Lopez") != normalise("Lopes")


def test_quote_with_other_case_spacing_and_punctuation_is_verbatim(spec: AgentSpec) -> None:
    got = verify(field(spec, "caller_name"), Claim(value="Maria Lopez", quote="maria lopez, l o p e z", seq=1), T)
    assert isinstance(got, Accepted) and (got.value, got.turn_seq) == ("Maria Lopez", 1)


def test_wrong_seq_is_corrected_to_the_caller_turn_holding_the_quote(spec: AgentSpec) -> None:
    got = verify(field(spec, "caller_name"), Claim(value="Maria Lopez", quote="Maria Lopez", seq=0), T)
    assert isinstance(got, Accepted) and got.turn_seq == 1 and "named turn 0" in got.reason


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (Claim(value="Maria Lopez", quote="My name is Maria Lopez", seq=1), "not in any turn"),
        (Claim(value="Maria Lopez", quote="Can I have your full name", seq=0), "from agent turn 0"),
        (Claim(value="Maria Lopez", quote=None, seq=1), "no quote"),
        (Claim(value="Maria Lopez", quote=" ,.! ", seq=1), "no quote"),
        (Claim(value=None, quote="Maria Lopez", seq=1), "no value"),
        (Claim(value="Lopez Maria", quote="Maria Lopez", seq=1), "not in the quote in order"),
        (Claim(value="Maria Lopez 2", quote="Maria Lopez", seq=1), "validation"),
    ],
)
def test_name_claims_that_are_not_grounded_are_rejected(spec: AgentSpec, claim: Claim, reason: str) -> None:
    got = verify(field(spec, "caller_name"), claim, T)
    assert isinstance(got, Rejected) and reason in got.reason
    assert "Maria" not in got.reason and "Lopez" not in got.reason  # reasons never carry values


def test_phone_digits_must_stand_in_the_quote_numerals(spec: AgentSpec) -> None:
    phone = field(spec, "callback_number")
    ok = verify(phone, Claim(value="617-555-0142", quote="(617) 555-0142", seq=3), T)
    assert isinstance(ok, Accepted) and ok.value == "+16175550142"
    wrong = verify(phone, Claim(value="617-555-0143", quote="(617) 555-0142", seq=3), T)
    assert isinstance(wrong, Rejected) and "not in order" in wrong.reason


def test_phone_in_another_scripts_numerals_counts() -> None:
    phone = FieldSpec(name="callback_number", type=FieldType.PHONE_NUMBER)
    arabic = turns(("caller", "رقمي ٦١٧ ٥٥٥ ٠١٤٢"))
    assert isinstance(verify(phone, Claim(value="6175550142", quote="٦١٧ ٥٥٥ ٠١٤٢", seq=0), arabic), Accepted)


def test_phone_quote_without_numerals_proves_nothing(spec: AgentSpec) -> None:
    words = turns(("caller", "six one seven, five five five, oh one four two"))
    claim = Claim(value="6175550142", quote="six one seven, five five five, oh one four two", seq=0)
    got = verify(field(spec, "callback_number"), claim, words)
    assert isinstance(got, Rejected) and "no numerals" in got.reason


def test_dates_check_numerals_when_there_are_some(spec: AgentSpec) -> None:
    dob = field(spec, "date_of_birth")
    ok = verify(dob, Claim(value="1985-03-03", quote="March 3rd, 1985", seq=4), T)
    assert isinstance(ok, Accepted) and "unchecked" not in ok.reason
    wrong_year = verify(dob, Claim(value="1958-03-03", quote="March 3rd, 1985", seq=4), T)
    assert isinstance(wrong_year, Rejected) and "year" in wrong_year.reason
    wrong_day = verify(dob, Claim(value="1985-03-04", quote="March 3rd, 1985", seq=4), T)
    assert isinstance(wrong_day, Rejected) and "day" in wrong_day.reason
    stray = turns(("caller", "March 3rd, 1985, and I'm 41"))
    contradicted = verify(dob, Claim(value="1985-03-03", quote="March 3rd, 1985, and I'm 41", seq=0), stray)
    assert isinstance(contradicted, Rejected) and "not the date's" in contradicted.reason
    spoken = verify(dob, Claim(value="1960-07-12", quote="July twelfth, nineteen sixty", seq=5), T)
    assert isinstance(spoken, Accepted) and "unchecked" in spoken.reason  # said honestly in the decision
    not_iso = verify(dob, Claim(value="03/03/1985", quote="March 3rd, 1985", seq=4), T)
    assert isinstance(not_iso, Rejected) and "validation" in not_iso.reason


def test_text_must_be_the_callers_words(spec: AgentSpec) -> None:
    reason = field(spec, "reason")
    lines = turns(("caller", "Hello, I need a refill of my blood pressure prescription."))
    quote = "I need a refill of my blood pressure prescription"
    ok = verify(reason, Claim(value="Refill of a blood pressure prescription", quote=quote, seq=0), lines)
    assert isinstance(ok, Accepted)
    invented = verify(reason, Claim(value="Refill of a heart medication", quote=quote, seq=0), lines)
    assert isinstance(invented, Rejected) and "did not say" in invented.reason


def test_booleans_are_never_backfilled() -> None:
    flag = FieldSpec(name="new_patient", type=FieldType.BOOLEAN)
    got = verify(flag, Claim(value="true", quote="yes", seq=0), turns(("caller", "yes")))
    assert isinstance(got, Rejected) and "cannot be checked" in got.reason


def test_email_letters_in_order() -> None:
    email = FieldSpec(name="email", type=FieldType.EMAIL)
    lines = turns(("caller", "it's maria dot lopez at example dot com"))
    quote = "maria dot lopez at example dot com"
    assert isinstance(verify(email, Claim(value="maria.lopez@example.com", quote=quote, seq=0), lines), Accepted)
    assert isinstance(verify(email, Claim(value="mario.lopez@example.com", quote=quote, seq=0), lines), Rejected)
