"""Statistics that survive non-determinism: pass^k, Wilson intervals, bootstrap over personas.

A persona (one scenario) is run n times with different seeds and passes c of them. pass^k is the
chance that k runs drawn from its n all pass, C(c,k)/C(n,k) (tau-bench's estimator), averaged over
personas. A persona's own pass rate gets a Wilson 95% interval; the suite's mean pass rate, and
the paired difference between two specs on the same personas and seeds, get a percentile
bootstrap over personas. Pure and seeded: the same inputs give the same intervals.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 2000


def pass_hat_k(outcomes: Sequence[tuple[int, int]], k: int) -> float | None:
    """Mean over personas of C(c,k)/C(n,k), for (n runs, c passes) each; personas with n < k
    cannot say and are left out (None when none can)."""
    usable = [(n, c) for n, c in outcomes if n >= k]
    if not usable or k < 1:
        return None
    return sum(math.comb(c, k) / math.comb(n, k) for n, c in usable) / len(usable)


def wilson(passes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion: honest at 0/n and n/n, where the plain one is not."""
    if n == 0:
        return (0.0, 1.0)
    p = passes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean(values: Sequence[float], *, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> tuple[float, float]:
    """95% percentile interval of the mean, resampling the values (one per persona) with replacement."""
    if not values:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choice(values) for _ in range(n)) / n for _ in range(samples))
    return (means[int(0.025 * samples)], means[min(samples - 1, math.ceil(0.975 * samples) - 1)])


def paired_difference(
    ours: Sequence[float], theirs: Sequence[float], *, seed: int = 0
) -> tuple[float, tuple[float, float], bool]:
    """Mean of ours - theirs over the same personas, its bootstrap interval, and whether the interval
    leaves zero out (a detectable difference)."""
    if len(ours) != len(theirs):
        raise ValueError("a paired difference needs the same personas on both sides")
    deltas = [a - b for a, b in zip(ours, theirs, strict=True)]
    low, high = bootstrap_mean(deltas, seed=seed)
    mean = sum(deltas) / len(deltas) if deltas else math.nan
    return mean, (low, high), bool(deltas) and (low > 0 or high < 0)
