"""The statistics against values worked by hand."""

from __future__ import annotations

import pytest

from voice_eval.stats import bootstrap_mean, paired_difference, pass_hat_k, wilson


def test_pass_hat_k_is_the_tau_bench_estimator_on_a_small_table() -> None:
    # Three personas, 4 runs each: all pass, 2 of 4 pass, none pass.
    table = [(4, 4), (4, 2), (4, 0)]
    assert pass_hat_k(table, 1) == pytest.approx((1 + 0.5 + 0) / 3)
    # k=2: C(4,2)/C(4,2)=1, C(2,2)/C(4,2)=1/6, 0.
    assert pass_hat_k(table, 2) == pytest.approx((1 + 1 / 6 + 0) / 3)
    assert pass_hat_k(table, 3) == pytest.approx(1 / 3)  # C(2,3) = 0
    assert pass_hat_k([(3, 2)], 4) is None  # 3 runs cannot say anything about 4


def test_wilson_bounds_match_the_known_values() -> None:
    low, high = wilson(7, 10)
    assert (round(low, 2), round(high, 2)) == (0.40, 0.89)
    low, high = wilson(10, 10)
    assert high == pytest.approx(1.0) and round(low, 3) == 0.722
    low, high = wilson(0, 10)
    assert low == pytest.approx(0.0) and round(high, 3) == 0.278
    assert wilson(0, 0) == (0.0, 1.0)


def test_bootstrap_interval_holds_the_mean_and_is_seeded() -> None:
    values = [1.0, 1.0, 0.5, 0.0, 1.0, 0.75]
    low, high = bootstrap_mean(values, seed=3)
    assert low < sum(values) / len(values) < high
    assert bootstrap_mean(values, seed=3) == (low, high)
    assert bootstrap_mean([0.5] * 5) == (0.5, 0.5)


def test_paired_difference_detects_a_worse_spec_and_not_an_identical_one() -> None:
    shipped = [1.0, 1.0, 1.0, 0.67, 1.0, 1.0]
    weakened = [0.0, 0.33, 1.0, 0.0, 0.0, 0.33]
    mean, (low, high), detectable = paired_difference(shipped, weakened)
    assert mean > 0 and low > 0 and detectable
    mean, (low, high), detectable = paired_difference(shipped, shipped)
    assert (mean, low, high, detectable) == (0.0, 0.0, 0.0, False)
    # Noise both ways: the interval spans zero.
    _, (low, high), detectable = paired_difference([1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1])
    assert low < 0 < high and not detectable
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 0.0])
