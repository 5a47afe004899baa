"""The bridge's model seam: wire events through the translator, invalid events as errors,
refused connects with their status, and a strict fake with the same interface."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from realtime_bridge.realtime.client import ConnectRefused, OpenAIRealtimeClient
from realtime_bridge.realtime.fake import ScriptedRealtimeClient, Step
from realtime_bridge.realtime.model_events import (
    Configure,
    CreateResponse,
    ModelError,
    ResponseFinished,
    SessionReady,
)
from realtime_bridge.realtime.session_config import build_session
from realtime_bridge.realtime.translate import INVALID_SERVER_EVENT, decode, encode
from tests.simulator.sim_helpers import SCENARIOS, running, sdk_client
from voice_agent.spec import load_spec

SPEC = load_spec(SCENARIOS.parent / "agents" / "riverside_clinic.yaml")


def test_the_client_and_translator_configure_a_session_and_hear_the_greeting() -> None:
    async def main() -> list[object]:
        async with running() as handle:
            client = OpenAIRealtimeClient(sdk_client(handle))
            await client.connect(SPEC.model)
            await client.send(encode(Configure("req_1", build_session(SPEC))))
            await client.send(encode(CreateResponse("req_2", "greeting", f"Say exactly: {SPEC.greeting}")))
            heard: list[object] = []
            async for raw in client.messages():
                event = decode(raw)
                if isinstance(event, SessionReady | ResponseFinished):
                    heard.append(event)
                if isinstance(event, ResponseFinished):
                    break
            await client.close()
            return heard

    ready, done = asyncio.run(main())
    assert ready == SessionReady()  # PCMU both ways, as the bridge asked
    assert isinstance(done, ResponseFinished) and done.status == "completed"
    assert [text for _, text in done.messages] == [SPEC.greeting]


def test_an_invalid_server_event_becomes_an_error_event_and_the_loop_goes_on() -> None:
    bad = [
        "not json",
        json.dumps({"type": "response.flying"}),
        json.dumps({"type": "response.done", "event_id": "e", "response": {"status": "finished"}}),
        json.dumps({"type": "response.output_audio.delta", "event_id": "e", "response_id": "r", "delta": "AA=="}),
    ]
    stopped = {"type": "input_audio_buffer.speech_stopped", "event_id": "e2", "audio_end_ms": 5, "item_id": "i"}
    good = json.dumps(stopped)

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
            async for raw in client.messages():
                event = decode(raw)
                invalid = isinstance(event, ModelError) and event.code == INVALID_SERVER_EVENT
                kinds.append("invalid" if invalid else type(event).__name__)
            return kinds, client.close_code

    assert asyncio.run(main()) == (["invalid"] * 4 + ["CallerSpeechStopped"], 1011)


@pytest.mark.parametrize("status", [401, 429, 503])
def test_a_refused_handshake_is_a_connect_refused_with_its_status(status: int) -> None:
    from http import HTTPStatus

    def refuse(connection, request):  # type: ignore[no-untyped-def]
        return connection.respond(HTTPStatus(status), "no\n")

    async def main() -> ConnectRefused:
        async with websockets.serve(lambda c: None, "127.0.0.1", 0, process_request=refuse) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            from openai import AsyncOpenAI

            client = OpenAIRealtimeClient(AsyncOpenAI(api_key="k", websocket_base_url=f"ws://127.0.0.1:{port}/v1"))
            with pytest.raises(ConnectRefused) as refused:
                await client.connect("gpt-realtime")
            return refused.value

    assert asyncio.run(main()).status == status


def test_scripted_fake_is_strict_about_order_and_leftovers() -> None:
    created = {"type": "input_audio_buffer.cleared", "event_id": "e1"}

    async def main() -> None:
        fake = ScriptedRealtimeClient([Step("session.update", (created,)), Step("response.create")])
        await fake.connect("m")
        await fake.send(encode(Configure("req_1", {"type": "realtime"})))
        with pytest.raises(AssertionError, match=r"unexpected outbound response\.cancel"):
            await fake.send(json.dumps({"type": "response.cancel"}))
        fake.drop(1006)
        kinds = [json.loads(raw)["type"] async for raw in fake.messages()]
        assert kinds == ["input_audio_buffer.cleared"] and fake.close_code == 1006
        with pytest.raises(AssertionError, match="never used"):
            fake.assert_done()

    asyncio.run(main())
