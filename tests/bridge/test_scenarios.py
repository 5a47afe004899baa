"""Every shipped scenario through the whole local stack: a real SIP call over loopback to the
bridge, the simulated model misbehaving as the scenario says, the post-call pass, and the
result checked against the scenario's expectations plus what each one is there to prove.

Calls run a few at a time (tests/scenario_runs.py, which tests/cli reads too); one more goes
through the `voice-agent simulate --json --tcp` command line as a user runs it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.runner import SimulationResult

from ..conftest import ROOT
from ..scenario_runs import ScenarioRuns

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
CLI_SCENARIO = ROOT / "scenarios" / "caller_hang_up.yaml"
NO_MODEL = {"model_refuse_connect", "model_reject_session_update"}  # no session: nobody answers


async def _cli() -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_agent_cli", "simulate", str(CLI_SCENARIO), "--json", "--tcp", "--no-files",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())


@pytest.fixture(scope="module")
def runs(scenario_runs: ScenarioRuns) -> tuple[dict[str, SimulationResult], subprocess.CompletedProcess[str]]:
    return scenario_runs.get_alongside([p.stem for p in SCENARIOS], _cli())


@pytest.fixture(scope="module")
def results(runs) -> dict[str, SimulationResult]:  # type: ignore[no-untyped-def]
    return runs[0]


@pytest.mark.parametrize("name", [p.stem for p in SCENARIOS])
def test_scenario_expectations_hold(results: dict[str, SimulationResult], name: str) -> None:
    result = results[name]
    assert result.expectations.passed, result.expectations.failures
    assert result.caller.answered
    if name not in NO_MODEL:
        assert result.transcript[0].speaker == "agent"
        greeting = _greeting(result)
        # A greeting the caller talked over is in the transcript as far as it was heard.
        greetings = [
            t for t in result.transcript
            if t.speaker == "agent" and t.text and (greeting.startswith(t.text) or t.text.startswith(greeting[:20]))
        ]  # fmt: skip
        assert len(greetings) == 1, "the caller is greeted once, reconnects included"


@pytest.mark.parametrize("name", [p.stem for p in SCENARIOS if p.stem not in NO_MODEL])
def test_every_caller_turn_is_answered(results: dict[str, SimulationResult], name: str) -> None:
    turns = results[name].transcript
    for i, turn in enumerate(turns):
        if turn.speaker != "caller" or not turn.text:
            continue
        later = [t for t in turns[i + 1 :] if t.speaker == "agent" and (t.heard_ms is None or t.heard_ms > 0)]
        assert later, f"caller turn {turn.seq} ({turn.text!r}) was never answered"


def _greeting(result: SimulationResult) -> str:
    from simulator.scenario import load_scenario
    from voice_agent.spec import load_spec

    return load_spec(load_scenario(result.scenario).agent).greeting


def _decisions(result: SimulationResult, kind: str) -> list[tuple[str, str]]:
    return [(d.verdict, d.reason) for d in result.decisions if d.decision == kind]


def test_forgotten_tool_call_is_left_for_the_post_call_pass(results: dict[str, SimulationResult]) -> None:
    result = results["forgotten_tool_call"]
    dob = result.record.fields["date_of_birth"]
    assert (dob.source, dob.value) == ("backfill", "1960-07-12")
    quoted = next(t for t in result.transcript if t.seq == dob.turn_seq)
    assert quoted.speaker == "caller" and dob.quote and dob.quote.casefold() in quoted.text.casefold()
    assert tuple(v for v, _ in _decisions(result, "backfill")) == ("accept",)


def test_early_end_call_is_denied_then_allowed(results: dict[str, SimulationResult]) -> None:
    verdicts = [v for v, _ in _decisions(results["early_end_call"], "end_call_gate")]
    assert verdicts[0] == "deny" and verdicts.count("allow") == 1 and verdicts[-1] == "ended"


def test_extra_goodbye_is_never_heard(results: dict[str, SimulationResult]) -> None:
    result = results["extra_goodbye"]
    assert result.goodbyes == 1
    unplayed = [t for t in result.transcript if t.speaker == "agent" and t.interrupted and t.heard_ms == 0]
    assert unplayed, "the model's second goodbye is in the transcript, marked as never played"
    assert ("deny", "extra speech in an exact-words response") in _decisions(result, "intervention")


def test_misread_digits_are_caught_and_corrected(results: dict[str, SimulationResult]) -> None:
    result = results["misread_digits"]
    assert [v for v, _ in _decisions(result, "readback")] == ["retry", "pass"]
    readbacks = [t.text for t in result.transcript if t.speaker == "agent" and t.text[:1].isdigit()]
    assert len(readbacks) == 2 and readbacks[0] != readbacks[1]
    assert readbacks[1].replace(" ", "").replace(",", "") == "6175550111"


def test_barge_in_truncates_at_what_the_caller_heard(results: dict[str, SimulationResult]) -> None:
    result = results["barge_in"]
    cut = [t for t in result.transcript if t.speaker == "agent" and t.interrupted and (t.heard_ms or 0) > 0]
    assert len(cut) == 1
    heard = cut[0].heard_ms or 0
    # The caller starts 400 ms into the agent's turn; its VAD needs a moment to notice.
    assert 400 <= heard < 1500
    [(verdict, reason)] = [d for d in _decisions(result, "intervention") if "barge-in" in d[1]]
    assert verdict == "accept" and f"truncated at {heard} ms heard" in reason


def test_caller_hang_up_keeps_record_and_transcript(results: dict[str, SimulationResult]) -> None:
    result = results["caller_hang_up"]
    assert result.ended_by == "caller" and result.goodbyes == 0
    assert result.record.fields["caller_name"].value == "Sam Green"
    assert "callback_number" in result.record.missing_required
    assert [t.speaker for t in result.transcript].count("caller") == 2


def test_demo_scenario_shows_every_policy_at_once(results: dict[str, SimulationResult]) -> None:
    result = results["riverside_demo"]
    kinds = {(d.decision, d.verdict) for d in result.decisions}
    assert {("end_call_gate", "deny"), ("readback", "retry"), ("intervention", "deny")} <= kinds
    assert result.goodbyes == 1 and result.record.cost_usd and result.record.cost_usd > 0


def test_simulate_command_prints_the_json_contract(runs) -> None:  # type: ignore[no-untyped-def]
    done = runs[1]
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert {"call_id", "record", "transcript", "decisions", "goodbyes", "ended_by", "latency", "expectations"} <= set(
        data
    )
    assert data["expectations"] == {"passed": True, "failures": []}
    assert data["caller"]["transport"] == "tcp" and data["ended_by"] == "caller"
    fields = data["record"]["fields"]
    assert fields["caller_name"] == fields["caller_name"] | {"value": "Sam Green", "source": "live"}


def test_simulate_accepts_scenarios_from_any_folder_and_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("agent: nowhere.yaml\ncaller: {turns: [{say: hi}]}\n")
    res = subprocess.run(
        [sys.executable, "-m", "voice_agent_cli", "simulate", str(bad)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2 and res.stderr.startswith("error:") and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_dropped_session_is_replaced_and_the_call_goes_on(results: dict[str, SimulationResult]) -> None:
    result = results["model_drop_session"]
    verdicts = [v for v, _ in _decisions(result, "model_session")]
    assert verdicts[:1] == ["retry"] and "accept" in verdicts
    number = result.record.fields["callback_number"]
    assert number.source == "live" and number.value  # asked and recorded after the reconnect


@pytest.mark.parametrize("name", sorted(NO_MODEL | {"model_refuse_reconnect"}))
def test_no_model_session_ends_the_call_through_the_gate(results: dict[str, SimulationResult], name: str) -> None:
    result = results[name]
    assert result.ended_by == "system" and result.caller.answered
    assert "fail" in [v for v, _ in _decisions(result, "model_session")], "the record says why"
    gate = [v for v, _ in _decisions(result, "end_call_gate")]
    assert gate[-1] == "ended"


def test_echo_never_cuts_the_agent(results: dict[str, SimulationResult]) -> None:
    result = results["model_echo_speech_started"]
    over = [t.index for t in result.caller.turns if t.agent_was_speaking]
    assert not over, f"the simulated caller talked over the agent (turns {over}): a real barge-in, not echo"
    cut = [t for t in result.transcript if t.speaker == "agent" and t.interrupted]
    assert not cut, [reason for _, reason in _decisions(result, "intervention")]
    assert any("echo" in reason for _, reason in _decisions(result, "intervention"))


def test_a_farewell_before_end_call_is_muted(results: dict[str, SimulationResult]) -> None:
    result = results["model_goodbye_before_end_call"]
    closing = max(i for i, t in enumerate(result.transcript) if t.speaker == "agent")
    muted = [t for t in result.transcript[:closing] if t.speaker == "agent" and t.interrupted]
    assert muted and result.goodbyes == 1
    assert any("end_call response muted" in reason for _, reason in _decisions(result, "intervention"))


def test_late_transcripts_keep_the_order_things_were_said(results: dict[str, SimulationResult]) -> None:
    transcript = results["model_late_transcripts"].transcript
    started = [(t.t_ms, t.speaker, t.text[:20]) for t in transcript]
    assert started == sorted(started, key=lambda s: s[0]), "seq follows when each turn was spoken"
    answered = [t.turn_seq for t in results["model_late_transcripts"].record.fields.values() if t.turn_seq]
    assert all(transcript[[x.seq for x in transcript].index(seq)].speaker == "caller" for seq in answered)


def test_a_failed_transcription_leaves_a_marked_gap(results: dict[str, SimulationResult]) -> None:
    for name in ("model_failed_transcripts", "model_empty_transcripts"):
        gaps = [t for t in results[name].transcript if t.speaker == "caller" and t.untranscribed]
        assert gaps, name


def test_failed_responses_are_asked_again(results: dict[str, SimulationResult]) -> None:
    assert "retry" in [v for v, _ in _decisions(results["model_failed_responses"], "speech")]


def test_a_caller_talking_past_the_idle_limit_is_not_prompted_over(results: dict[str, SimulationResult]) -> None:
    result = results["caller_long_turn"]
    callers = [t for t in result.transcript if t.speaker == "caller"]
    opening, second = callers[0], callers[1]
    between = [t for t in result.transcript if t.speaker == "agent" and opening.seq < t.seq < second.seq]
    # One answer to the long turn: no idle prompt ("Could I have your reason?") while they talked.
    assert len(between) == 1, [t.text for t in between]
    reason = result.record.fields["reason"]
    assert reason.source == "live" and reason.turn_seq == opening.seq  # the tool cites the turn that said it
