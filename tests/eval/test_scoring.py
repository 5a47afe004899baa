"""Scoring and the suite's sums, on call results built by hand: each test changes one thing a real
call could get wrong and checks the score, the metric and the threshold that must catch it."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.caller_result import CallerResult
from simulator.runner import Expectations, SimulationResult
from simulator.scenario import Scenario, load_scenario, parse_scenario
from voice_agent.decisions import DecisionLine
from voice_agent.record_store import Turn
from voice_agent.record_view import CallRecord, RecordedField
from voice_agent.spec import AgentSpec, load_spec
from voice_eval.report import build_report, percentile
from voice_eval.scoring import REFUSED, CallScore, meant_by_caller, score_call
from voice_eval.suite import Suite

from ..conftest import EXAMPLE_SPEC, ROOT

HAPPY = ROOT / "scenarios" / "riverside_happy_path.yaml"
# What the happy path's caller means, as the record stores it when everything goes right.
RIGHT = {
    "caller_name": "Maria Lopez",
    "date_of_birth": "1985-03-04",
    "callback_number": "+16175550142",
    "reason": "Appointment with Dr. Nguyen for a bad cough",
}


@pytest.fixture(scope="module")
def happy() -> Scenario:
    return load_scenario(HAPPY)


@pytest.fixture(scope="module")
def clinic() -> AgentSpec:
    return load_spec(EXAMPLE_SPEC)


def result(
    spec: AgentSpec,
    values: dict[str, str],
    *,
    source: str = "live",
    spoken: int = 5,
    total: int = 5,
    declined: tuple[str, ...] = (),
    candidates: tuple[str, ...] = (),
    category: str | None = "appointment",
    provider: str | None = "Dr. Alice Nguyen",
    goodbyes: int = 1,
    ended_by: str | None = "agent",
    latencies: tuple[int | None, ...] = (900, 1000, 1100, 950, 1200),
    expectations_passed: bool = True,
) -> SimulationResult:
    fields: dict[str, RecordedField] = {}
    for f in spec.fields:
        if f.name in values:
            quote = "s" if source == "backfill" else None  # the caller's turn says "s"
            fields[f.name] = RecordedField(status="value", value=values[f.name], source=source, quote=quote, turn_seq=2)  # type: ignore[arg-type]
        elif f.name in declined:
            fields[f.name] = RecordedField(status="declined", source="live", quote="I'd rather not say")
        else:
            candidate = (
                {"value": "x", "quote": "q", "turn_seq": 3, "reason": "unverified"} if f.name in candidates else None
            )
            fields[f.name] = RecordedField.model_validate({"status": "missing", "candidate": candidate})
    record = CallRecord(
        call_id="c1", agent=spec.name, started_ms=0, status="ENDED", ended_by=ended_by, ended_reason=None,
        ended_ms=1, cost_usd=0.08, language="en", category=category, provider=provider, fields=fields,
        missing_required=[],
    )  # fmt: skip
    turns = [
        {"index": i, "say": "s", "audio_ms": 1000, "start_ms": i * 5000, "end_ms": i * 5000 + 1000,
         "barge_in_after_ms": None, "agent_was_speaking": False, "latency_ms": ms}
        for i, ms in enumerate(latencies[:spoken])
    ]  # fmt: skip
    caller: dict[str, Any] = {
        "call_id": "c1", "transport": "udp", "local_rtp_port": 1, "answered": True, "ended_by": "agent",
        "turns_spoken": spoken, "turns_total": total, "turns": turns, "agent_segments": [], "agent_audio_ms": 0,
        "rtp_frames_sent": 0, "rtp_frames_received": 0, "duration_ms": 40_000, "events": [],
    }  # fmt: skip
    failures = [] if expectations_passed else ["record.caller_name: expected 'Maria Lopez', got None"]
    # What the tool log and transcript of a well-run call hold: the checks in voice_eval/checks.py read them.
    transcript = [Turn(call_id="c1", seq=1, t_ms=0, speaker="agent", text="Hello"),
                  Turn(call_id="c1", seq=2, t_ms=1, speaker="caller", text="s")]  # fmt: skip
    decisions = [
        DecisionLine(ts=1, call_id="c1", decision="readback", verdict="pass", reason="match", field="callback_number"),
        DecisionLine(ts=2, call_id="c1", decision="end_call_gate", verdict="allow", reason="satisfied"),
    ]
    return SimulationResult(
        scenario=str(HAPPY), call_id="c1", record=record, transcript=transcript, decisions=decisions, goodbyes=goodbyes,
        ended_by=ended_by, latency=CallerResult.model_validate(caller).latency,  # type: ignore[arg-type]
        caller=CallerResult.model_validate(caller),
        expectations=Expectations(passed=expectations_passed, failures=failures),
    )  # fmt: skip


def outcomes(score: CallScore) -> dict[str, str]:
    return {f.field: f.outcome for f in score.fields}


def suite(**thresholds: float) -> Suite:
    return Suite(name="t", scenarios=["x.yaml"], thresholds=thresholds)


def test_a_call_that_gets_everything_right_scores_every_meant_field_correct(happy, clinic) -> None:
    score = score_call(happy, clinic, result(clinic, RIGHT), seed=7)
    assert outcomes(score) == {
        "caller_name": "correct", "date_of_birth": "correct", "callback_number": "correct", "reason": "correct",
        "category": "correct", "provider": "correct",
    }  # fmt: skip
    report = build_report(suite(field_capture_rate=1.0, wrong_values=0), [score], 1.0)
    assert report.metrics["field_capture_rate"] == 1.0
    assert report.metrics["live_capture_rate"] == 1.0
    assert report.passed


def test_values_are_compared_in_their_stored_form_not_as_typed(happy, clinic) -> None:
    # The scenario says "6175550142" and "Maria Lopez"; the record holds E.164 and the name as heard.
    score = score_call(happy, clinic, result(clinic, {**RIGHT, "caller_name": "maria LOPEZ"}), seed=7)
    assert outcomes(score)["callback_number"] == "correct"
    assert outcomes(score)["caller_name"] == "correct"


def test_a_wrong_digit_is_a_wrong_value_and_fails_the_wrong_values_threshold(happy, clinic) -> None:
    score = score_call(happy, clinic, result(clinic, {**RIGHT, "callback_number": "+16175550143"}), seed=7)
    assert outcomes(score)["callback_number"] == "wrong"
    report = build_report(suite(wrong_values=0), [score], 1.0)
    assert report.metrics["wrong_values"] == 1
    assert not report.passed
    assert [c.metric for c in report.checks if not c.passed] == ["wrong_values"]


def test_a_value_for_a_field_the_caller_never_gave_is_unsupported(happy, clinic) -> None:
    score = score_call(happy, clinic, result(clinic, {**RIGHT, "insurance_member_id": "XK-99"}), seed=7)
    assert outcomes(score)["insurance_member_id"] == "unsupported"
    report = build_report(suite(unsupported_values=0), [score], 1.0)
    assert report.fields["insurance_member_id"].unsupported == 1
    assert report.fields["insurance_member_id"].meant == 0
    assert not report.passed


def test_a_missing_field_counts_against_capture_and_its_candidate_is_counted(happy, clinic) -> None:
    values = {k: v for k, v in RIGHT.items() if k != "date_of_birth"}
    score = score_call(happy, clinic, result(clinic, values, candidates=("date_of_birth",)), seed=7)
    assert outcomes(score)["date_of_birth"] == "missing"
    report = build_report(suite(field_capture_rate=0.9), [score], 1.0)
    assert report.fields["date_of_birth"].candidates == 1
    assert report.metrics["field_capture_rate"] == pytest.approx(5 / 6)
    assert not report.passed


def test_backfilled_values_count_as_captured_but_not_live(happy, clinic) -> None:
    score = score_call(happy, clinic, result(clinic, RIGHT, source="backfill"), seed=7)
    report = build_report(suite(), [score], 1.0)
    assert report.fields["caller_name"].backfill == 1
    assert report.metrics["field_capture_rate"] == 1.0
    assert report.metrics["live_capture_rate"] == pytest.approx(2 / 6)  # category and provider


def test_only_the_turns_the_caller_got_to_say_are_meant(happy, clinic) -> None:
    # The agent hung up after two turns: the date of birth was never given, so its absence is no miss,
    # but a date of birth in the record is one the caller never gave.
    short = {"caller_name": "Maria Lopez", "reason": RIGHT["reason"]}
    score = score_call(happy, clinic, result(clinic, short, spoken=2), seed=7)
    assert "date_of_birth" not in outcomes(score)
    assert score.incomplete
    invented = score_call(happy, clinic, result(clinic, {**short, "date_of_birth": "1985-03-04"}, spoken=2), seed=7)
    assert outcomes(invented)["date_of_birth"] == "unsupported"
    assert build_report(suite(incomplete_calls=0), [score], 1.0).passed is False


def test_a_refusal_is_correct_only_when_the_caller_refused(clinic) -> None:
    data = {
        "agent": str(EXAMPLE_SPEC),
        "caller": {"turns": [
            {"say": "Maria Lopez.", "means": {"caller_name": "Maria Lopez"}},
            {"say": "I'd rather not say.", "means": {"declined": "date_of_birth"}},
            {"say": "Actually, it's Maria Lopes.", "means": {"caller_name": "Maria Lopes"}},
        ]},
    }  # fmt: skip
    scenario = parse_scenario(data, ROOT)
    assert meant_by_caller(scenario, 3) == {"caller_name": "Maria Lopes", "date_of_birth": REFUSED}
    refused = result(clinic, {"caller_name": "Maria Lopes"}, declined=("date_of_birth",), spoken=3, total=3,
                     category=None, provider=None)  # fmt: skip
    assert outcomes(score_call(scenario, clinic, refused, seed=0)) == {
        "caller_name": "correct",
        "date_of_birth": "correct",
    }
    # The first answer, corrected later, is no longer what the caller means; a date the caller refused is invented.
    stale = result(clinic, {"caller_name": "Maria Lopez", "date_of_birth": "1985-03-04"}, spoken=3, total=3,
                   category=None, provider=None)  # fmt: skip
    assert outcomes(score_call(scenario, clinic, stale, seed=0)) == {"caller_name": "wrong", "date_of_birth": "wrong"}


def test_goodbyes_a_second_one_or_none_at_all_fail_their_thresholds(happy, clinic) -> None:
    bars = suite(extra_goodbyes=0, missing_closings=0)
    twice = score_call(happy, clinic, result(clinic, RIGHT, goodbyes=2), seed=7)
    never = score_call(happy, clinic, result(clinic, RIGHT, goodbyes=0), seed=7)
    hung_up = score_call(happy, clinic, result(clinic, RIGHT, goodbyes=0, ended_by="caller"), seed=7)
    assert [c.metric for c in build_report(bars, [twice], 1.0).checks if not c.passed] == ["extra_goodbyes"]
    assert [c.metric for c in build_report(bars, [never], 1.0).checks if not c.passed] == ["missing_closings"]
    assert build_report(bars, [hung_up], 1.0).passed  # the caller left: no closing was owed


def test_latency_is_over_every_turn_of_every_call_and_unmeasured_never_passes(happy, clinic) -> None:
    slow = score_call(happy, clinic, result(clinic, RIGHT, latencies=(3000, 4000, None, 900, 950)), seed=7)
    fast = score_call(happy, clinic, result(clinic, RIGHT), seed=7)
    report = build_report(suite(latency_p95_ms=3500), [slow, fast], 1.0)
    assert report.metrics["latency_p50_ms"] == 1000
    assert report.metrics["latency_p95_ms"] == 4000
    assert not report.passed
    silent = score_call(happy, clinic, result(clinic, RIGHT, latencies=(None,) * 5), seed=7)
    check = build_report(suite(latency_p95_ms=3500), [silent], 1.0).checks[0]
    assert check.value is None and not check.passed


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert percentile(list(range(1, 101)), 0.95) == 95
    assert percentile([7], 0.95) == 7
    assert percentile([], 0.5) is None


def test_a_failed_expectation_or_a_broken_call_fails_the_suite(happy, clinic) -> None:
    failed = score_call(happy, clinic, result(clinic, RIGHT, expectations_passed=False), seed=7)
    assert build_report(suite(expectations_pass_rate=1.0), [failed], 1.0).passed is False
    good = score_call(happy, clinic, result(clinic, RIGHT), seed=7)
    assert build_report(suite(), [good], 1.0, errors=["x.yaml seed 7: TimeoutError: "]).passed is False
    assert build_report(suite(), [], 1.0).passed is False  # no call, no verdict


def test_a_run_passes_only_when_every_deterministic_check_holds(happy, clinic) -> None:
    assert score_call(happy, clinic, result(clinic, RIGHT), seed=7).failures == []
    no_dob = {k: v for k, v in RIGHT.items() if k != "date_of_birth"}
    assert score_call(happy, clinic, result(clinic, no_dob), seed=7).failures == ["missing: date_of_birth"]
    wrong = score_call(happy, clinic, result(clinic, {**RIGHT, "caller_name": "Maria Lopes"}, goodbyes=2), seed=7)
    assert wrong.failures == ["wrong: caller_name", "goodbyes heard: 2"]
    # What the spec does not require (the provider) may be missing without failing the run.
    no_provider = score_call(happy, clinic, result(clinic, RIGHT, provider=None), seed=7)
    assert outcomes(no_provider)["provider"] == "missing" and no_provider.passed


def test_runs_of_one_persona_give_its_rate_wilson_interval_and_pass_hat_k(happy, clinic) -> None:
    good = score_call(happy, clinic, result(clinic, RIGHT), seed=7)
    bad = score_call(happy, clinic, result(clinic, {**RIGHT, "callback_number": "+16175550143"}), seed=8)
    two_runs = Suite(name="t", scenarios=["x.yaml"], repeats=2, thresholds={"pass_hat_k": 0.5})
    report = build_report(two_runs, [good, bad], 1.0)
    (persona,) = report.personas
    assert (persona.runs, persona.passes, persona.pass_rate) == (2, 1, 0.5)
    assert persona.wilson_low < 0.5 < persona.wilson_high
    assert report.metrics["pass_hat_1"] == 0.5
    assert report.metrics["pass_hat_k"] == 0.0  # both runs pass: never
    assert [c.metric for c in report.checks if not c.passed] == ["pass_hat_k"]


def test_the_report_files_name_each_failed_run_and_bar(happy, clinic, tmp_path) -> None:
    from xml.etree import ElementTree as ET

    from voice_eval.report_files import write_report

    good = score_call(happy, clinic, result(clinic, RIGHT), seed=7)
    bad = score_call(happy, clinic, result(clinic, {**RIGHT, "callback_number": "+16175550143"}), seed=8)
    report = build_report(Suite(name="t", scenarios=["x"], repeats=2, thresholds={"wrong_values": 0}), [good, bad], 1.0)
    written = write_report(report, tmp_path / "r")
    assert [p.name for p in written] == ["report.json", "junit.xml", "report.html"]
    junit = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("3", "2")
    failures = [case.find("failure") for case in junit.iter("testcase")]
    assert [f.get("message") if f is not None else None for f in failures] == [
        None, "wrong: callback_number", "wrong_values = 1.0 (must be <= 0.0)",
    ]  # fmt: skip
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "t: FAILED" in page and "riverside_happy_path seed 8" in page and "wrong: callback_number" in page


def judged(score: CallScore, *, in_persona: bool = True, verdict: str = "pass") -> CallScore:
    from voice_eval.judge import Judgment

    criteria = [{"id": "no_time", "verdict": verdict, "evidence": [], "reason": "r"}]
    judgment = Judgment.model_validate({"in_persona": in_persona, "persona_evidence": [], "criteria": criteria})
    return score.model_copy(update={"judgment": judgment, "scenario": "persona_a"})


def test_the_judge_fails_a_run_on_fail_or_unsure_and_a_caller_out_of_persona_is_not_counted(happy, clinic) -> None:
    good = score_call(happy, clinic, result(clinic, RIGHT), seed=1)
    assert judged(good).passed
    assert judged(good, verdict="unsure").failures == ["rubric no_time: unsure"]  # unsure counts as fail
    broke = judged(good, in_persona=False, verdict="fail").model_copy(update={"seed": 2})
    report = build_report(suite(), [judged(good), broke], 1.0)
    assert report.broke_character == ["persona_a seed 2"]
    (persona,) = report.personas
    assert (persona.runs, persona.passes) == (1, 1)  # the broken run is reported, not scored
    assert report.rubric == {"no_time": {"pass": 1, "fail": 0, "unsure": 0}} and len(report.calls) == 2


def test_the_gate_passes_every_run_passing_or_a_flake_whose_wilson_lower_bound_holds(happy, clinic) -> None:
    from voice_eval.report import gate_outcome

    good = judged(score_call(happy, clinic, result(clinic, RIGHT), seed=1))
    bad = judged(good, verdict="fail")
    settings = Suite(name="t", scenarios=["x"], gate={"reruns": 5, "min_lower_bound": 0.4})
    assert gate_outcome(settings, [good, good]).verdict == "every run passed"
    flaky = gate_outcome(settings, [bad, *[good] * 5])  # 5/6: Wilson lower bound 0.44
    assert flaky.passed and flaky.personas[0].passes == 5
    failing = gate_outcome(settings, [bad, bad, *[good] * 4])  # 4/6: 0.30
    assert not failing.passed and failing.verdict == "below the bound after reruns: persona_a 4/6 (lower 0.30)"


def test_a_run_out_of_persona_is_skipped_in_junit_and_not_listed_as_failed(happy, clinic, tmp_path) -> None:
    from xml.etree import ElementTree as ET

    from voice_eval.report_files import write_report

    good = judged(score_call(happy, clinic, result(clinic, RIGHT), seed=1))
    broke = judged(good, in_persona=False, verdict="fail").model_copy(update={"seed": 2})
    write_report(build_report(suite(), [good, broke], 1.0), tmp_path)
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert (junit.get("failures"), junit.get("skipped")) == ("0", "1")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "broke character (excluded)</h2><ul>\n<li>persona_a seed 2</li>" in page
    assert "<h2>Failed runs</h2>\n<p>none</p>" in page
