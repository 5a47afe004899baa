"""The simulated caller against a real SipServer over loopback: SIP setup, turn order,
barge-in, hang-up either way, the timeout, continuous RTP. UDP and TCP."""

from __future__ import annotations

import asyncio
import statistics
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from realtime_bridge.sip.events import EndReason
from simulator.caller import SimulatedCaller
from simulator.caller_result import CallerOptions, CallerResult
from simulator.scenario import Caller, Turn
from tests.caller.agent_stub import ScriptedAgent, agent_voice, start_bridge
from tests.sip.sipp_harness import VC_ID

ROOT = Path(__file__).resolve().parents[2]

GREETING = agent_voice("Hi, clinic.")
SHORT_ANSWER = agent_voice("Okay, go on.")
LONG_ANSWER = agent_voice("Right. Let me explain every option we have for you.")
CLOSING = agent_voice("Bye now.")
# Distinct lengths, so the order of what the bridge heard shows in the durations.
CONVERSATION = Caller(
    language="en",
    turns=[
        Turn(say="Hi there."),
        Turn(say="My name is Maria Lopez and I live in Boston."),
        Turn(say="It is about my bill.", barge_in_after_ms=300),
    ],
)


async def call(
    agent: ScriptedAgent, script: Caller, transport: str, **options: object
) -> tuple[CallerResult, ScriptedAgent]:
    server = await start_bridge(agent, transport)
    try:
        opts = CallerOptions.model_validate({"transport": transport, "voice_connector_id": VC_ID, **options})
        result = await asyncio.wait_for(SimulatedCaller(script, "127.0.0.1", server.sip_port, options=opts).run(), 30)
        await asyncio.wait_for(agent.done.wait(), 5)
        assert server.active_calls == 0
    finally:
        await server.close()
    return result, agent


def kinds(result: CallerResult) -> list[str]:
    return [e.kind for e in result.events if not e.kind.startswith("agent_speech")]


@pytest.mark.parametrize(("transport", "engine"), [("udp", "auto"), ("tcp", "synthetic")])
def test_a_whole_conversation_with_a_barge_in_ended_by_the_agent(transport: str, engine: str) -> None:
    agent = ScriptedAgent(greeting=GREETING, answers=[SHORT_ANSWER, LONG_ANSWER], closing=CLOSING, close_after=3)
    result, agent = asyncio.run(call(agent, CONVERSATION, transport, engine=engine))

    # SIP: a PCMU + telephone-event offer naming the caller's RTP port, answered, ended by the agent's BYE.
    (offer,) = agent.offers
    media = offer.remote_media
    assert (media.address, media.port) == ("127.0.0.1", result.local_rtp_port)
    assert media.payload_types == (0, 101) and media.telephone_event_pt == 101 and media.ptime == 20
    assert media.direction == "sendrecv" and offer.source.transport == transport
    assert offer.voice_connector_id == VC_ID and offer.callee_number == "+15550100"
    assert kinds(result)[:3] == ["invite_sent", "ringing", "answered"]
    assert kinds(result)[-2:] == ["bye_received", "ended"] and "bye_sent" not in kinds(result)
    assert result.answered and result.ended_by == "agent" and not result.timed_out
    assert agent.ended == [EndReason.LOCAL_BYE]

    # Every turn heard once, in order: one VAD segment per turn, each as long as that turn's audio.
    assert [t.index for t in result.turns] == [0, 1, 2] and result.turns_spoken == result.turns_total == 3
    assert len(agent.heard) == 3
    for heard, turn in zip(agent.heard, result.turns, strict=True):
        assert heard.speech_ms is not None and abs(heard.speech_ms - turn.audio_ms) <= 60, (heard, turn)

    # Plain turns wait for the agent to finish, then ~700 ms of quiet.
    greeting, answer1, answer2, closing = agent.played
    for played, heard in ((greeting, agent.heard[0]), (answer1, agent.heard[1])):
        assert 0.65 <= heard.onset - played.ends <= 1.0, (played, heard)
    assert not result.turns[0].agent_was_speaking and not result.turns[1].agent_was_speaking

    # The barge-in turn starts 300 ms into the long answer, while it is still being sent.
    assert answer2.item == "answer-2" and answer2.cut_at is not None and answer2.heard_ms is not None
    assert 0.3 <= agent.heard[2].onset - answer2.started <= 0.45
    assert answer2.heard_ms < answer2.length_ms - 1000
    assert result.turns[2].agent_was_speaking and result.turns[2].barge_in_after_ms == 300
    assert closing.item == "closing" and closing.started > agent.heard[2].onset

    # What the caller heard: four agent utterances, and the latency after each of its turns
    # (the stub's 500 ms VAD silence + 200 ms answer delay).
    assert len(result.agent_segments) == 4
    heard_ms = greeting.length_ms + answer1.length_ms + answer2.heard_ms + closing.length_ms
    assert abs(result.agent_audio_ms - heard_ms) <= 100
    for turn in result.turns:
        assert turn.latency_ms is not None and 650 <= turn.latency_ms <= 900, turn
    assert result.latency.count == 3 and result.latency.p50_ms is not None

    # RTP like a phone: every 20 ms for the whole call, no sequence gaps, full PCMU frames.
    frames = agent.frames
    assert all(f.size == 160 for f in frames)
    assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in pairwise(frames))
    gaps = [b.arrived - a.arrived for a, b in pairwise(frames)]
    assert abs(statistics.median(gaps) - 0.020) < 0.002 and max(gaps) < 0.08
    span = frames[-1].arrived - frames[0].arrived
    assert abs(len(frames) - (span / 0.020 + 1)) <= max(3, 0.02 * len(frames))
    assert abs(result.rtp_frames_sent - len(frames)) <= 3


def test_hang_up_turn_sends_bye_after_the_agent_answers() -> None:
    script = Caller(language="en", turns=[Turn(say="I am calling about my bill."), Turn(hang_up=True)])
    agent = ScriptedAgent(greeting=GREETING, answers=[SHORT_ANSWER])
    result, agent = asyncio.run(call(agent, script, "udp"))

    assert result.ended_by == "caller" and not result.timed_out and result.turns_spoken == result.turns_total == 1
    assert agent.ended == [EndReason.REMOTE_BYE] and len(agent.heard) == 1
    assert kinds(result)[-2:] == ["bye_sent", "ended"] and "bye_received" not in kinds(result)
    bye = next(e for e in result.events if e.kind == "bye_sent")
    last_answer = result.agent_segments[-1]
    assert len(result.agent_segments) == 2  # the greeting and the answer, heard out before hanging up
    assert 650 <= bye.t_ms - last_answer.end_ms <= 900


def test_silent_agent_the_caller_goes_on_then_times_out_and_hangs_up() -> None:
    script = Caller(language="en", turns=[Turn(say="Hi there.")])
    agent = ScriptedAgent(greeting=None, answers=[SHORT_ANSWER])  # no greeting, never hangs up
    result, agent = asyncio.run(call(agent, script, "tcp", reply_timeout_s=1.0, hangup_timeout_s=1.0))

    assert kinds(result) == [
        "invite_sent",
        "ringing",
        "answered",
        "no_reply",
        "caller_turn_start",
        "caller_turn_end",
        "timeout",
        "bye_sent",
        "ended",
    ]
    assert result.timed_out and result.ended_by == "caller" and agent.ended == [EndReason.REMOTE_BYE]
    answered, no_reply = (next(e for e in result.events if e.kind == k) for k in ("answered", "no_reply"))
    assert 950 <= no_reply.t_ms - answered.t_ms <= 1200
    assert len(agent.heard) == 1 and len(result.agent_segments) == 1  # the answer to the one turn


def test_a_rejected_call_is_reported_not_answered() -> None:
    script = Caller(language="en", turns=[Turn(say="Hi there.")])
    result, agent = asyncio.run(call(ScriptedAgent(greeting=None, answers=[], reject=486), script, "udp"))
    assert not result.answered and result.failure_status == 486 and result.ended_by is None
    assert kinds(result) == ["invite_sent", "ringing", "failed"] and result.turns == []
    assert agent.ended == [EndReason.REJECTED]


def test_no_answer_in_time_cancels_the_invite() -> None:
    script = Caller(language="en", turns=[Turn(say="Hi there.")])
    agent = ScriptedAgent(greeting=None, answers=[], offer_delay_s=3.0)
    result, agent = asyncio.run(call(agent, script, "tcp", answer_timeout_s=0.3, engine="synthetic"))
    assert not result.answered and result.failure_status == 408 and result.ended_by is None
    assert kinds(result) == ["invite_sent", "ringing", "failed"]
    assert agent.ended == [EndReason.CANCELLED]


def test_cancelling_the_caller_mid_call_propagates_and_hangs_up() -> None:
    async def main() -> ScriptedAgent:
        agent = ScriptedAgent(greeting=LONG_ANSWER, answers=[])
        server = await start_bridge(agent, "udp")
        try:
            opts = CallerOptions(voice_connector_id=VC_ID, engine="synthetic")
            script = Caller(language="en", turns=[Turn(say="Hi there.")])
            task = asyncio.create_task(SimulatedCaller(script, "127.0.0.1", server.sip_port, options=opts).run())
            while len(agent.frames) < 10:  # the call is up and RTP flows
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(agent.done.wait(), 5)
        finally:
            await server.close()
        return agent

    agent = asyncio.run(main())
    assert agent.ended == [EndReason.REMOTE_BYE] and agent.heard == []


def test_command_line_call_prints_the_event_log(tmp_path: Path) -> None:
    scenario = tmp_path / "hang_up.yaml"
    scenario.write_text('agent: agent.yaml\ncaller:\n  turns:\n    - say: "Hi there."\n    - hang_up: true\n')

    async def main() -> tuple[int, str, ScriptedAgent]:
        agent = ScriptedAgent(greeting=GREETING, answers=[SHORT_ANSWER])
        server = await start_bridge(agent, "tcp")
        try:
            proc = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "simulator.caller", "--scenario", str(scenario), "--tcp"),
                *("--port", str(server.sip_port), "--voice-connector-id", VC_ID, "--engine", "synthetic"),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 20)
            await asyncio.wait_for(agent.done.wait(), 5)
        finally:
            await server.close()
        return proc.returncode or 0, out.decode(), agent

    code, out, agent = asyncio.run(main())
    assert code == 0, out
    lines = out.splitlines()
    logged = [line.split()[1] for line in lines[:-1]]
    assert logged[:3] == ["invite_sent", "ringing", "answered"] and logged[-2:] == ["bye_sent", "ended"]
    assert "caller_turn_start" in logged and "'Hi there.'" in out
    assert lines[-1].startswith("answered=True ended_by=caller timed_out=False turns=1/1")
    assert agent.ended == [EndReason.REMOTE_BYE]
