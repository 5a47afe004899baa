"""The bridge's model seam: typed events from the SDK, invalid events as error events,
reconnects seeded with the call so far, and a strict fake with the same interface."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from openai.types.realtime import RealtimeErrorEvent, ResponseDoneEvent, SessionUpdatedEvent

from realtime_bridge.realtime import OpenAIRealtimeClient
from realtime_bridge.realtime.events import INVALID_SERVER_EVENT
from realtime_bridge.realtime.fake import ScriptedRealtimeClient, Step
from realtime_bridge.realtime.reconnect import HistoryTurn, ReconnectingRealtimeClient, SessionSeed
from realtime_bridge.realtime.session_config import build_session
from simulator import mulaw
from simulator.scenario import load_scenario
from tests.simulator.sim_helpers import SCENARIOS, caller_audio, running, sdk_client
from voice_agent.decisions import DecisionLog, ListSink
from voice_agent.spec import load_spec

SPEC = load_spec(SCENARIOS.parent / "agents" / "riverside_clinic.yaml")


async def speak(client, audio: bytes) -> None:  # type: ignore[no-untyped-def]
    import base64

    for start in range(0, len(audio), 160):
        chunk = base64.b64encode(audio[start : start + 160]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})


def test_client_builds_the_session_from_the_spec_and_yields_typed_events() -> None:
    async def main() -> tuple[SessionUpdatedEvent, ResponseDoneEvent]:
        async with running() as handle:
            client = OpenAIRealtimeClient(sdk_client(handle))
            await client.connect(SPEC.model)
            await client.send({"type": "session.update", "session": build_session(SPEC)})
            await client.send(
                {"type": "response.create", "response": {"instructions": f"Say exactly: {SPEC.greeting}"}}
            )
            updated = done = None
            async for event in client.events():
                if isinstance(event, SessionUpdatedEvent):
                    updated = event
                if isinstance(event, ResponseDoneEvent):
                    done = event
                    break
            await client.close()
            assert updated is not None and done is not None
            return updated, done

    updated, done = asyncio.run(main())
    assert updated.session.audio.input.format.type == "audio/pcmu"  # type: ignore[union-attr]
    assert "record_callback_number" in [t.name for t in updated.session.tools]  # type: ignore[union-attr]
    assert done.response.output[0].content[0].transcript == SPEC.greeting  # type: ignore[union-attr]


def test_an_invalid_server_event_becomes_an_error_event_and_the_loop_goes_on() -> None:
    bad = [
        "not json",
        json.dumps({"type": "response.flying"}),
        json.dumps({"type": "response.done", "event_id": "e", "response": {"status": "finished"}}),
    ]
    good = json.dumps({"type": "input_audio_buffer.cleared", "event_id": "e2"})

    async def handler(connection) -> None:  # type: ignore[no-untyped-def]
        for message in [*bad, good]:
            await connection.send(message)
        await connection.close(1011, "bye")

    async def main() -> tuple[list[str], int | None]:
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            from openai import AsyncOpenAI

            client = OpenAIRealtimeClient(AsyncOpenAI(api_key="k", websocket_base_url=f"ws://127.0.0.1:{port}/v1"))
            await client.connect("gpt-realtime")
            kinds = []
            async for event in client.events():
                invalid = isinstance(event, RealtimeErrorEvent) and event.error.code == INVALID_SERVER_EVENT
                kinds.append("invalid" if invalid else event.type)
            return kinds, client.close_code

    assert asyncio.run(main()) == (["invalid", "invalid", "invalid", "input_audio_buffer.cleared"], 1011)


def test_after_an_unexpected_close_a_new_session_is_seeded_with_the_call_so_far() -> None:
    scenario = load_scenario(SCENARIOS / "riverside_happy_path.yaml")
    first, second = scenario.caller.spoken_turns[:2]
    history = (HistoryTurn("agent", SPEC.greeting), HistoryTurn("caller", first.say or ""))
    sink = ListSink()

    async def main() -> list[str]:
        async with running(scenario, session_limit_s=1.0, first_audio_ms=0, speed=60.0) as handle:
            session = build_session(SPEC)
            client = ReconnectingRealtimeClient(
                lambda: OpenAIRealtimeClient(sdk_client(handle)),
                lambda: SessionSeed(session, history, "category: appointment"),
                call_id="call-1",
                decisions=DecisionLog(sink),
            )
            await client.connect("gpt-realtime")
            await client.send({"type": "session.update", "session": session})
            calls: list[str] = []
            async for event in client.events():
                if event.type == "session.created" and client.reconnects == 1:
                    await speak(client, caller_audio(second.say or "") + mulaw.silence(200))
                if isinstance(event, ResponseDoneEvent) and client.reconnects == 1:
                    calls = [item.name for item in event.response.output]  # type: ignore[union-attr]
                    break
            await client.close()
            return calls

    # The new session knows turn 1 was heard: turn 2's answer is recorded, not turn 1's again.
    assert asyncio.run(main()) == ["record_caller_name"]
    (line,) = sink.lines
    assert (line.decision, line.verdict, line.attempt) == ("intervention", "retry", 1)
    assert "1001" in line.reason


def test_scripted_fake_is_strict_about_order_and_leftovers() -> None:
    created = {"type": "input_audio_buffer.cleared", "event_id": "e1"}

    async def main() -> None:
        fake = ScriptedRealtimeClient([Step("session.update", (created,)), Step("response.create")])
        await fake.connect("m")
        await fake.send({"type": "session.update", "session": {"type": "realtime"}})
        with pytest.raises(AssertionError, match=r"unexpected outbound response\.cancel"):
            await fake.send({"type": "response.cancel"})
        fake.drop(1006)
        kinds = [event.type async for event in fake.events()]
        assert kinds == ["input_audio_buffer.cleared"] and fake.close_code == 1006
        with pytest.raises(AssertionError, match="never used"):
            fake.assert_done()

    asyncio.run(main())
