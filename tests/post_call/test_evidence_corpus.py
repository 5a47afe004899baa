"""The verifier on the generated corpus (bench/evidence_corpus.py, seeded): fabrications are not
written, and what real models return for what the caller really said is. The full-size run and its
table are `python bench/evidence_corpus.py`; this one is smaller so that CI stays fast."""

from __future__ import annotations

import pytest

from bench.evidence_corpus import CLASSES, Rates, build_corpus, measure, table

PER_CLASS = 700  # 0.1% of it is under one case: a negative class passes only with none accepted


@pytest.fixture(scope="module")
def rates() -> dict[str, Rates]:
    measured = measure(build_corpus(PER_CLASS))
    print("\n" + table(measured))  # shown with -s, and in the failure report
    return measured


def test_every_class_is_measured(rates: dict[str, Rates]) -> None:
    assert set(rates) == set(CLASSES) and all(r.cases == PER_CLASS for r in rates.values())


@pytest.mark.parametrize("cls", [c for c, (group, _, _) in CLASSES.items() if group == "negative"])
def test_fabrications_are_not_written(rates: dict[str, Rates], cls: str) -> None:
    r = rates[cls]
    assert r.claim_accepted / r.cases <= 0.001, table(rates)
    assert r.wrong_written / r.cases <= 0.005, table(rates)  # nor anything else than what the caller gave


@pytest.mark.parametrize("cls", [c for c, (group, _, _) in CLASSES.items() if group in ("positive", "deviation")])
def test_the_callers_real_values_are_written(rates: dict[str, Rates], cls: str) -> None:
    r = rates[cls]
    # A recovered caller's wording is the wrong span about 0.5% of the time (0.43% of 3,000 in
    # bench/evidence_corpus.py, 4 of 700 in one full-suite run): a 1% bar reports a regression, not noise.
    assert r.written / r.cases >= 0.98 and r.wrong_written / r.cases <= 0.01, table(rates)


@pytest.mark.parametrize("cls", [c for c, (group, _, _) in CLASSES.items() if group == "candidate"])
def test_values_said_in_words_are_candidates_never_values(rates: dict[str, Rates], cls: str) -> None:
    r = rates[cls]
    assert r.written == 0 and r.candidate / r.cases >= 0.98, table(rates)


def test_the_corpus_is_the_same_every_run() -> None:
    first, second = build_corpus(20), build_corpus(20)
    assert [(c.cls, c.claim, c.turns) for c in first] == [(c.cls, c.claim, c.turns) for c in second]
