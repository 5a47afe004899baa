"""The evidence checks, pure: whole-word ordered quotes in one caller turn, extractive values word for
word, structure or a candidate for phones, dates, numbers and emails, the caller's wording recovered."""

from __future__ import annotations

import pytest

from voice_agent.evidence import Accepted, Candidate, Claim, Rejected, Rule, normalise, verify
from voice_agent.record_store import Turn
from voice_agent.spec import AgentSpec, EvidenceRule, FieldSpec, FieldType


def turns(*lines: tuple[str, str]) -> list[Turn]:
    return [Turn(call_id="c", seq=i, t_ms=i, speaker=s, text=t) for i, (s, t) in enumerate(lines)]


T = turns(
    ("agent", "Can I have your full name, please?"),
    ("caller", "It's  MARIA Lopez -- L O P E Z!"),
    ("agent", "And a number to call you back? Is it 617 555 0142?"),
    ("caller", "Sure: (617) 555-0142, that's my cell."),
    ("caller", "Born 3/12/1985, I think."),
    ("caller", "July twelfth, nineteen sixty."),
    ("caller", "Um, I'd like, uh, a refill of my blood pressure prescription."),
)
NAME = FieldSpec(name="caller_name", type=FieldType.PERSON_NAME)
PHONE = FieldSpec(name="callback_number", type=FieldType.PHONE_NUMBER)
DOB = FieldSpec(name="date_of_birth", type=FieldType.DATE)
TEXT = FieldSpec(name="visit_address", type=FieldType.TEXT)
NUMBER = FieldSpec(name="tablets", type=FieldType.NUMBER)
EMAIL = FieldSpec(name="email", type=FieldType.EMAIL)


def check(field: FieldSpec, value: str, quote: str | None, lines: list[Turn] = T, seq: int | None = None) -> object:
    return verify(field, Claim(value=value, quote=quote, seq=seq), lines)


def accepted(got: object, rule: Rule) -> Accepted:
    assert isinstance(got, Accepted), got
    assert got.rule is rule and got.reason.startswith(f"{rule.value}: ")
    return got


def rejected(got: object, rule: Rule, words: str) -> Rejected:
    assert isinstance(got, Rejected), got
    assert got.rule is rule and got.reason.startswith(f"{rule.value}: ") and words in got.reason, got.reason
    return got


def test_tokens_forgive_case_punctuation_and_in_word_marks_only() -> None:
    assert normalise("  It's\tMARIA,  Lopez¡ ") == "its maria lopez"
    assert normalise("617-555-0143") == normalise("6175550143") == "6175550143"
    assert normalise("٦١٧") == "617"  # any script's numerals
    assert normalise("東京都") == "東 京 都"  # a script written without spaces: one token a character
    assert normalise("Lopez") != normalise("Lopes")


# --- the quote -----------------------------------------------------------------------------------
def test_quote_with_other_case_spacing_punctuation_and_marks_is_found() -> None:
    got = accepted(check(NAME, "Maria Lopez", "its maria lopez l o p e z"), Rule.EXTRACTIVE)
    assert (got.value, got.turn_seq) == ("Maria Lopez", 1)
    assert got.quote == "It's  MARIA Lopez -- L O P E Z!"  # stored as the transcript has it


def test_a_quote_without_the_callers_fillers_is_found_by_bounded_skips() -> None:
    got = accepted(check(TEXT, "a refill of my blood pressure prescription", "Id like a refill of my blood"
                         " pressure prescription"), Rule.EXTRACTIVE)  # fmt: skip
    assert got.turn_seq == 6 and "skipping 1 of the turn's words" in got.reason


def test_a_quote_that_skips_too_much_of_the_turn_is_not_the_callers_words() -> None:
    rejected(check(TEXT, "I'd like my prescription", "I'd like my prescription"), Rule.QUOTE, "not in any caller turn")


def test_a_reordered_quote_is_not_found() -> None:
    rejected(check(NAME, "Maria Lopez", "Lopez Maria"), Rule.QUOTE, "not in any caller turn")


def test_a_quote_never_matches_inside_a_word() -> None:
    lines = turns(("caller", "It's Annabelle."))
    rejected(check(NAME, "Ann", "Ann", lines), Rule.QUOTE, "not in any caller turn")
    rejected(check(NAME, "Ann", "It's Annabelle", lines), Rule.EXTRACTIVE, "do not stand in order")


def test_an_agent_turn_never_counts_even_when_it_repeats_the_value() -> None:
    rejected(check(PHONE, "6175550142", "Is it 617 555 0142"), Rule.QUOTE, "from agent turn 2, not from the caller")


def test_wrong_seq_is_corrected_to_the_caller_turn_holding_the_quote() -> None:
    got = accepted(check(NAME, "Maria Lopez", "Maria Lopez", seq=0), Rule.EXTRACTIVE)
    assert got.turn_seq == 1 and "the answer named turn 0" in got.reason


@pytest.mark.parametrize(("value", "quote"), [(None, "Maria Lopez"), ("Maria Lopez", None), ("Maria Lopez", " ,.! ")])
def test_no_value_or_no_quote_writes_nothing(value: str | None, quote: str | None) -> None:
    got = verify(NAME, Claim(value=value, quote=quote, seq=1), T)
    assert isinstance(got, Rejected) and got.rule in (Rule.NO_VALUE, Rule.QUOTE)


# --- extractive values ---------------------------------------------------------------------------
def test_a_name_must_stand_word_for_word_in_order() -> None:
    rejected(check(NAME, "Lopez Maria", "Maria Lopez"), Rule.EXTRACTIVE, "the name's words")
    rejected(check(NAME, "Maria Lopez 2", "Maria Lopez"), Rule.VALIDATION, "live tool's validation")
    accepted(check(NAME, "Maria Lopez", "Maria L O P E Z"), Rule.EXTRACTIVE)  # spelled letters are whole tokens


def test_a_bag_of_words_is_not_evidence_and_a_swapped_word_is_not_written() -> None:
    quote = "a refill of my blood pressure prescription"
    # "blood" swapped for "refill", a word the caller said elsewhere in the quote
    got = check(TEXT, "my refill pressure prescription", quote)
    assert not (isinstance(got, Accepted) and got.value == "my refill pressure prescription")
    rejected(check(TEXT, "prescription blood pressure", quote), Rule.EXTRACTIVE, "do not stand in order")


def test_one_normalised_word_is_recovered_as_the_callers_own_words() -> None:
    lines = turns(("caller", "It's 88 Canal Street, second floor, Lowell."))
    got = accepted(check(TEXT, "88 Canal Street, 2nd floor, Lowell", "88 Canal Street, second floor, Lowell", lines),
                   Rule.CALLER_WORDING)  # fmt: skip
    assert got.value == "88 Canal Street, second floor, Lowell" and "written instead" in got.reason


def test_a_name_is_never_rewritten_from_the_quote() -> None:
    rejected(check(NAME, "Marie Lopez", "Maria Lopez"), Rule.EXTRACTIVE, "the name's words")


def test_a_summary_field_may_paraphrase_its_quote() -> None:
    reason = FieldSpec(name="reason", type=FieldType.TEXT, evidence=EvidenceRule.SUMMARY)
    got = accepted(check(reason, "Blood pressure medication refill", "a refill of my blood pressure prescription"),
                   Rule.SUMMARY)  # fmt: skip
    assert got.value == "Blood pressure medication refill" and got.turn_seq == 6
    rejected(check(reason, "Refill", "Like I told you, it's in my file"), Rule.QUOTE, "not in any caller turn")


def test_choice_labels_must_be_the_callers_words(spec: AgentSpec) -> None:
    choice = FieldSpec(name="visit", type=FieldType.CHOICE, choices=["prescription_refill", "billing"])
    lines = turns(("caller", "It's about a prescription refill."))
    accepted(check(choice, "prescription_refill", "a prescription refill", lines), Rule.EXTRACTIVE)
    rejected(check(choice, "billing", "a prescription refill", lines), Rule.EXTRACTIVE, "the choice's words")


# --- structure -----------------------------------------------------------------------------------
def test_a_phone_number_is_written_only_when_the_callers_numerals_prove_it() -> None:
    got = accepted(check(PHONE, "617-555-0142", "(617) 555-0142"), Rule.STRUCTURE)
    assert got.value == "+16175550142" and got.quote == "(617) 555-0142,"
    accepted(check(PHONE, "6175550142", "Sure 6175550142 thats my cell"), Rule.STRUCTURE)  # marks dropped
    rejected(check(PHONE, "617-555-0143", "(617) 555-0142"), Rule.STRUCTURE, "prove a different value")


def test_phone_in_another_scripts_numerals_counts() -> None:
    arabic = turns(("caller", "رقمي ٦١٧ ٥٥٥ ٠١٤٢"))
    accepted(check(PHONE, "6175550142", "٦١٧ ٥٥٥ ٠١٤٢", arabic), Rule.STRUCTURE)


def test_a_phone_number_said_in_words_or_mixed_forms_is_only_a_candidate() -> None:
    lines = turns(("caller", "six one seven, five five five, oh one four two"), ("caller", "six one seven 555 0142"))
    for seq in (0, 1):
        got = check(PHONE, "6175550142", lines[seq].text, lines)
        assert isinstance(got, Candidate) and got.turn_seq == seq and got.reason.startswith("structure: unverified")


def test_dates_need_the_callers_numerals_for_year_month_and_day() -> None:
    accepted(check(DOB, "1985-03-12", "3/12/1985"), Rule.STRUCTURE)
    rejected(check(DOB, "1985-03-13", "3/12/1985"), Rule.STRUCTURE, "prove a different value")  # one day off
    rejected(check(DOB, "03/12/1985", "3/12/1985"), Rule.VALIDATION, "YYYY-MM-DD")
    right, wrong = check(DOB, "1960-07-12", "July twelfth, nineteen sixty"), check(DOB, "1960-07-13", "July twelfth")
    assert isinstance(right, Candidate) and isinstance(wrong, Candidate)  # neither is written
    month_in_words = turns(("caller", "March 3rd, 1985."))
    assert isinstance(check(DOB, "1985-03-03", "March 3rd, 1985", month_in_words), Candidate)


def test_the_extractors_numerals_are_never_evidence_but_can_contradict_it() -> None:
    words = verify(DOB, Claim(value="1960-07-12", quote="July twelfth, nineteen sixty", numerals="July 12, 1960"), T)
    assert isinstance(words, Candidate) and words.numerals == "July 12, 1960"  # still only a candidate
    contradicted = verify(DOB, Claim(value="1960-07-13", quote="July twelfth, nineteen sixty", numerals="7/12/1960"), T)
    rejected(contradicted, Rule.STRUCTURE, "own numerals contradict")


def test_numbers_match_a_whole_written_number_or_stay_candidates() -> None:
    lines = turns(("caller", "It was rated 4.1 and the visit is at 2:15 pm"), ("caller", "five days from the 6th"))
    accepted(check(NUMBER, "4.1", "rated 4.1", lines), Rule.STRUCTURE)
    assert isinstance(check(NUMBER, "4.4", "rated 4.1", lines), Candidate)
    assert isinstance(check(NUMBER, "2", "at 2:15 pm", lines), Candidate)
    assert isinstance(check(NUMBER, "5", "five days from the 6th", lines), Candidate)  # not rejected: said in words


def test_an_email_needs_its_letter_runs_in_order() -> None:
    lines = turns(("caller", "it's maria dot lopez at example dot com"), ("caller", "write to maria.lopez@example.com"))
    accepted(check(EMAIL, "maria.lopez@example.com", "maria dot lopez at example dot com", lines), Rule.STRUCTURE)
    accepted(check(EMAIL, "maria.lopez@example.com", "maria.lopez@example.com", lines), Rule.STRUCTURE)
    assert isinstance(check(EMAIL, "mario.lopez@example.com", "maria dot lopez at example dot com", lines), Candidate)


def test_booleans_are_never_backfilled() -> None:
    flag = FieldSpec(name="new_patient", type=FieldType.BOOLEAN)
    rejected(check(flag, "true", "yes", turns(("caller", "yes"))), Rule.BOOLEAN, "cannot be checked")


def test_reasons_never_carry_the_value_or_the_quote() -> None:
    for got in (
        check(NAME, "Lopez Maria", "Maria Lopez"),
        check(PHONE, "617-555-0143", "(617) 555-0142"),
        check(DOB, "1960-07-12", "July twelfth, nineteen sixty"),
    ):
        reason = got.reason  # type: ignore[attr-defined]
        assert not any(word in reason for word in ("Maria", "Lopez", "0142", "0143", "1960", "July"))
