"""A suite's calls summed into metrics, each threshold checked, and the report as people read it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, TextIO

from pydantic import BaseModel

from .scoring import CallScore
from .stats import bootstrap_mean, paired_difference, pass_hat_k, wilson
from .suite import METRICS, Suite


class FieldSummary(BaseModel):
    meant: int = 0  # calls in which the caller gave it (a value or a refusal)
    correct: int = 0
    live: int = 0  # correct, written during the call
    backfill: int = 0  # correct, written by the post-call pass
    wrong: int = 0
    missing: int = 0
    candidates: int = 0  # missing, with an unverified candidate kept for the office
    unsupported: int = 0  # written, though the caller never gave it


class PersonaSummary(BaseModel):
    """One scenario (a persona: one caller and what it means) over its runs."""

    scenario: str
    runs: int
    passes: int
    pass_rate: float
    wilson_low: float  # 95%
    wilson_high: float


class Check(BaseModel):
    metric: str
    value: float | None  # None: nothing to measure (no turn answered, no cost reported)
    bound: Literal["min", "max"]
    threshold: float
    passed: bool


class Comparison(BaseModel):
    """The same personas and seeds answered by another spec: per persona pass rates, paired."""

    other_spec: str
    other_personas: list[PersonaSummary]
    other_metrics: dict[str, float | None]
    difference: float  # mean over personas of (ours - theirs) pass rate
    interval: tuple[float, float]  # bootstrap 95% over personas
    detectable: bool  # the interval leaves zero out
    verdict: str


class GateOutcome(BaseModel):
    """`--gate`: every run passed, or each failing persona, rerun, kept its Wilson lower bound up."""

    passed: bool
    reruns: int  # the most extra runs a persona may get
    min_lower_bound: float
    personas: list[PersonaSummary]  # the failing personas after their reruns
    verdict: str


class SuiteReport(BaseModel):
    suite: str
    tier: str
    wall_s: float
    runs: int  # per persona: the k of pass^k
    calls: list[CallScore]  # every run, those where the caller broke character included
    broke_character: list[str] = []  # "persona seed N": excluded from every number below
    rubric: dict[str, dict[str, int]] = {}  # criterion -> verdict -> runs
    cost_usd_total: float | None = None
    harness_cost_usd_total: float | None = None  # online: the persona LLM, transcription and judge calls
    personas: list[PersonaSummary]
    pass_rate_interval: tuple[float, float] | None  # bootstrap 95% over personas of their pass rates
    metrics: dict[str, float | None]
    fields: dict[str, FieldSummary]
    checks: list[Check]
    errors: list[str] = []  # calls that broke before they could be scored
    comparison: Comparison | None = None  # with --compare
    gate: GateOutcome | None = None  # with --gate
    passed: bool


def tier_label(tier: str) -> str:
    """Which tier ran, said the same way in every output."""
    if tier == "offline":
        return (
            "OFFLINE tier: the project's stand-ins play the model (and the persona LLM and judge); "
            "this measures the harness and the product around the model, not the model"
        )
    if tier == "online":
        return (
            "ONLINE tier: the real realtime model behind the real bridge (AWS is moto), an LLM persona caller "
            "heard through transcription, the LLM judge"
        )
    return f"{tier.upper()} tier"


def percentile(values: Sequence[int], q: float) -> float | None:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarise_fields(calls: Sequence[CallScore]) -> dict[str, FieldSummary]:
    out: dict[str, FieldSummary] = {}
    for call in calls:
        for f in call.fields:
            s = out.setdefault(f.field, FieldSummary())
            if f.outcome == "unsupported":
                s.unsupported += 1
                continue
            s.meant += 1
            if f.outcome == "correct":
                s.correct += 1
                s.live += f.source == "live"
                s.backfill += f.source == "backfill"
            elif f.outcome == "wrong":
                s.wrong += 1
            else:
                s.missing += 1
                s.candidates += f.candidate
    return out


def summarise_personas(calls: Sequence[CallScore]) -> list[PersonaSummary]:
    runs: dict[str, list[bool]] = {}
    for call in calls:
        runs.setdefault(call.scenario, []).append(call.passed)
    out = []
    for scenario, passed in runs.items():
        low, high = wilson(sum(passed), len(passed))
        out.append(
            PersonaSummary(
                scenario=scenario,
                runs=len(passed),
                passes=sum(passed),
                pass_rate=sum(passed) / len(passed),
                wilson_low=low,
                wilson_high=high,
            )
        )
    return out


def compute_metrics(
    calls: Sequence[CallScore], fields: dict[str, FieldSummary], personas: Sequence[PersonaSummary], k: int
) -> dict[str, float | None]:
    meant = sum(s.meant for s in fields.values())
    table = [(p.runs, p.passes) for p in personas]
    latencies = [ms for c in calls for ms in c.latencies_ms]
    costs = [c.cost_usd for c in calls if c.cost_usd is not None]
    metrics: dict[str, float | None] = {
        "pass_hat_1": pass_hat_k(table, 1),
        "pass_hat_k": pass_hat_k(table, k),
        "expectations_pass_rate": _ratio(sum(c.expectations_passed for c in calls), len(calls)),
        "field_capture_rate": _ratio(sum(s.correct for s in fields.values()), meant),
        "live_capture_rate": _ratio(sum(s.live for s in fields.values()), meant),
        "wrong_values": sum(s.wrong for s in fields.values()),
        "unsupported_values": sum(s.unsupported for s in fields.values()),
        "extra_goodbyes": sum(c.extra_goodbyes for c in calls),
        "missing_closings": sum(c.missing_closing for c in calls),
        "unanswered_calls": sum(not c.answered for c in calls),
        "incomplete_calls": sum(c.incomplete for c in calls),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
        "cost_usd_per_call": sum(costs) / len(costs) if costs else None,
    }
    assert set(metrics) == set(METRICS), "every metric a suite may name is computed"
    return metrics


def check(metrics: dict[str, float | None], thresholds: dict[str, float]) -> list[Check]:
    checks = []
    for name, threshold in thresholds.items():
        value, bound = metrics[name], METRICS[name]
        held = value is not None and (value >= threshold if bound == "min" else value <= threshold)
        checks.append(Check(metric=name, value=value, bound=bound, threshold=threshold, passed=held))
    return checks


def summarise_rubric(calls: Sequence[CallScore]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for call in calls:
        for c in call.judgment.criteria if call.judgment else []:
            counts = out.setdefault(c.id, {"pass": 0, "fail": 0, "unsure": 0})
            counts[c.verdict] += 1
    return out


def build_report(
    suite: Suite, everything: Sequence[CallScore], wall_s: float, *, errors: Sequence[str] = ()
) -> SuiteReport:
    # A run where the simulated caller broke character says nothing about the agent: reported, not scored.
    calls = [c for c in everything if not c.broke_character]
    costs = [c.cost_usd for c in everything if c.cost_usd is not None]
    harness = [c.harness_cost_usd for c in everything if c.harness_cost_usd is not None]
    fields = summarise_fields(calls)
    personas = summarise_personas(calls)
    metrics = compute_metrics(calls, fields, personas, suite.repeats)
    checks = check(metrics, suite.thresholds)
    return SuiteReport(
        suite=suite.name,
        tier=suite.tier,
        wall_s=round(wall_s, 1),
        runs=suite.repeats,
        calls=list(everything),
        broke_character=[f"{_name(c.scenario)} seed {c.seed}" for c in everything if c.broke_character],
        rubric=summarise_rubric(calls),
        cost_usd_total=round(sum(costs), 4) if costs else None,
        harness_cost_usd_total=round(sum(harness), 4) if harness else None,
        personas=personas,
        pass_rate_interval=bootstrap_mean([p.pass_rate for p in personas]) if personas else None,
        metrics=metrics,
        fields=fields,
        checks=checks,
        errors=list(errors),
        passed=bool(calls) and not errors and all(c.passed for c in checks),
    )


def compare(ours: SuiteReport, theirs: SuiteReport, other_spec: str) -> Comparison:
    rates = {p.scenario: p.pass_rate for p in theirs.personas}
    shared = [p for p in ours.personas if p.scenario in rates]
    mean, interval, detectable = paired_difference([p.pass_rate for p in shared], [rates[p.scenario] for p in shared])
    verdict = ("ours is better" if mean > 0 else "ours is worse") if detectable else "no detectable difference"
    return Comparison(
        other_spec=other_spec,
        other_personas=theirs.personas,
        other_metrics=theirs.metrics,
        difference=mean,
        interval=interval,
        detectable=detectable,
        verdict=verdict,
    )


def _name(scenario: str) -> str:
    return scenario.rsplit("/", 1)[-1].removesuffix(".yaml")


def gate_outcome(suite: Suite, calls: Sequence[CallScore]) -> GateOutcome:
    """Pass when every in-persona run passed; else each persona with a failing run (its reruns
    already among `calls`) needs its Wilson lower bound at least the suite's `gate.min_lower_bound`."""
    settings = suite.gate
    failing = [p for p in summarise_personas([c for c in calls if not c.broke_character]) if p.passes < p.runs]
    low = [p for p in failing if p.wilson_low < settings.min_lower_bound]
    if not failing:
        verdict = "every run passed"
    elif not low:
        verdict = f"failing personas held a Wilson lower bound >= {settings.min_lower_bound} after reruns"
    else:
        verdict = "below the bound after reruns: " + ", ".join(
            f"{_name(p.scenario)} {p.passes}/{p.runs} (lower {p.wilson_low:.2f})" for p in low
        )
    return GateOutcome(
        passed=bool(calls) and not low,
        reruns=settings.reruns,
        min_lower_bound=settings.min_lower_bound,
        personas=failing,
        verdict=verdict,
    )


def _shown(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if value.is_integer() else f"{value:.3f}"


def print_report(report: SuiteReport, out: TextIO) -> None:
    out.write(
        f"\nSuite {report.suite} ({tier_label(report.tier)}): {len(report.calls)} calls in {report.wall_s:.0f} s\n\n"
    )
    out.write(f"  {'scenario':<34} {'seed':>4}  {'expect':<6} {'fields ok':>9} {'wrong':>5} {'unsup':>5}")
    out.write(f"  {'ended by':<8} {'bye':>3} {'p50 ms':>6}\n")
    for c in report.calls:
        name = _name(c.scenario)
        meant = [f for f in c.fields if f.outcome != "unsupported"]
        ok = sum(f.outcome == "correct" for f in meant)
        wrong = sum(f.outcome == "wrong" for f in meant)
        unsupported = len(c.fields) - len(meant)
        p50 = percentile(c.latencies_ms, 0.5)
        out.write(f"  {name:<34} {c.seed:>4}  {'ok' if c.expectations_passed else 'FAIL':<6} {ok:>4}/{len(meant):<4}")
        out.write(f" {wrong:>5} {unsupported:>5}  {c.ended_by or '-':<8} {c.goodbyes:>3} {_shown(p50):>6}\n")
        for failure in c.failures:
            out.write(f"      fails: {failure}\n")
        for f in c.fields:
            if f.outcome in ("wrong", "unsupported"):
                out.write(f"      {f.outcome}: {f.field} meant {f.meant!r}, recorded {f.got!r} ({f.source})\n")
    out.write(f"\n  {'field':<22} {'meant':>5} {'correct':>7} {'live':>5} {'backfill':>8} {'wrong':>5}")
    out.write(f" {'missing':>7} {'(cand.)':>7} {'unsup':>5}\n")
    for name, s in report.fields.items():
        out.write(f"  {name:<22} {s.meant:>5} {s.correct:>7} {s.live:>5} {s.backfill:>8} {s.wrong:>5}")
        out.write(f" {s.missing:>7} {s.candidates:>7} {s.unsupported:>5}\n")
    out.write(f"\n  {'persona (scenario)':<34} {'passed':>7} {'rate':>5}  Wilson 95%\n")
    for p in report.personas:
        name = _name(p.scenario)
        out.write(
            f"  {name:<34} {p.passes:>3}/{p.runs:<3} {p.pass_rate:>5.2f}  [{p.wilson_low:.2f}, {p.wilson_high:.2f}]\n"
        )
    if report.pass_rate_interval is not None:
        low, high = report.pass_rate_interval
        out.write(f"  suite pass rate, bootstrap 95% over personas: [{low:.2f}, {high:.2f}]; k = {report.runs}\n")
    out.write("\n  metric                      value    threshold\n")
    bars = {c.metric: c for c in report.checks}
    for name, value in report.metrics.items():
        bar = bars.get(name)
        held = "" if bar is None else f"{'>=' if bar.bound == 'min' else '<='} {_shown(bar.threshold):<8}"
        verdict = "" if bar is None else ("ok" if bar.passed else "FAIL")
        out.write(f"  {name:<26} {_shown(value):>8}    {held} {verdict}\n")
    for error in report.errors:
        out.write(f"  error: {error}\n")
    if report.rubric:
        out.write("\n  rubric criterion            pass  fail unsure\n")
        for criterion, n in report.rubric.items():
            out.write(f"  {criterion:<26} {n['pass']:>5} {n['fail']:>5} {n['unsure']:>6}\n")
    if report.broke_character:
        out.write(f"\n  the caller broke character (excluded): {', '.join(report.broke_character)}\n")
    if report.cost_usd_total is not None:
        per_call = report.metrics["cost_usd_per_call"] or 0.0
        out.write(f"  model cost: ${report.cost_usd_total:.4f} in all, ${per_call:.4f} per call (estimated)\n")
    if report.harness_cost_usd_total is not None:
        out.write(f"  persona LLM, transcription and judge: ${report.harness_cost_usd_total:.4f} in all (estimated)\n")
    if (gate := report.gate) is not None:
        out.write(f"\n  gate: {'PASS' if gate.passed else 'FAIL'}: {gate.verdict}\n")
    if (cmp := report.comparison) is not None:
        theirs = cmp.other_metrics["pass_hat_1"]
        out.write(f"\n  compared with {cmp.other_spec} (same scenarios and seeds):\n")
        out.write(f"    pass^1 ours {_shown(report.metrics['pass_hat_1'])}, theirs {_shown(theirs)}; ")
        out.write(
            f"paired difference {cmp.difference:+.2f}, bootstrap 95% [{cmp.interval[0]:+.2f}, {cmp.interval[1]:+.2f}]: "
        )
        out.write(f"{cmp.verdict}\n")
    out.write(f"\nSuite {'PASSED' if report.passed else 'FAILED'}\n")
