"""Read-back words and verdicts, provider matching, language policy: structure, not language."""

from __future__ import annotations

from voice_agent.directives import LanguageFallback, SwitchLanguage
from voice_agent.language_policy import decide_language
from voice_agent.provider_match import match_provider
from voice_agent.readback import readback_words, verify_readback
from voice_agent.spec import AgentSpec


def test_readback_words_group_digits_as_numbers_are_written() -> None:
    assert readback_words("+16175550142") == ("6 1 7, 5 5 5, 0 1 4 2", "6175550142")
    assert readback_words("+442079460958") == ("0 2 0, 7 9 4 6, 0 9 5 8", "02079460958")


def test_readback_verdicts_compare_digits_only() -> None:
    assert verify_readback("+16175550142", "That's 6 1 7, 5 5 5, 0 1 4 2, right?").verdict == "pass"
    assert verify_readback("+16175550142", "+1 617-555-0142").verdict == "pass"  # with country code
    assert verify_readback("+16175550142", "seis uno siete 617 555 0142").verdict == "pass"
    assert verify_readback("+16175550142", "٦١٧ ٥٥٥ ٠١٤٢").verdict == "pass"  # Arabic-Indic numerals
    assert verify_readback("+16175550142", "6 1 7, 5 5 5, 0 1 4 3").verdict == "fail"
    assert verify_readback("+16175550142", "6 1 7 5 5 5 0 1 4 2 2").verdict == "fail"  # an extra digit
    # Words without numerals cannot be checked: never a pass.
    assert verify_readback("+16175550142", "six one seven five five five").verdict == "unverified"


PROVIDERS = ["Dr. Alice Nguyen", "Dr. Robert Okafor"]


def test_provider_match_tolerates_titles_case_accents_and_slips() -> None:
    for spoken in ("doctor nguyen", "Nguyen", "DRA. ALICE NGUYÊN", "Nguen"):
        assert match_provider(spoken, PROVIDERS).match == "Dr. Alice Nguyen", spoken
    assert match_provider("Okafor", PROVIDERS).match == "Dr. Robert Okafor"


def test_provider_match_returns_candidates_or_nothing() -> None:
    both = match_provider("Alice", ["Dr. Alice Nguyen", "Dr. Alice Okafor"])
    assert both.match is None and both.candidates == ["Dr. Alice Nguyen", "Dr. Alice Okafor"]
    assert match_provider("Smith", PROVIDERS).candidates == []


def test_language_policy_switches_or_falls_back(spec: AgentSpec) -> None:
    es = decide_language(spec, "es")
    assert es.supported and es.directive == SwitchLanguage(language="es")
    assert decide_language(spec, "es-MX").language == "es"
    fr = decide_language(spec, "fr")
    assert not fr.supported and fr.language == "en"
    assert fr.directive == LanguageFallback(language="en", text=spec.languages.fallback)
    assert "'fr' is not supported" in fr.output and "Continue in 'en'" in fr.output
