"""Each documented error, as the SDK sees it; the session survives all but the fatal ones."""

from __future__ import annotations

import asyncio
import json

import pytest

from simulator import mulaw
from tests.simulator.sim_helpers import Reader, caller_audio, phone_session, running, sdk_client, speak


async def _connected(handle, **connect):  # type: ignore[no-untyped-def]
    manager = sdk_client(handle).realtime.connect(model="gpt-realtime", **connect)
    connection = await manager.enter()
    return connection, Reader(connection)


def test_recoverable_errors_carry_the_real_codes_and_keep_the_session() -> None:
    async def main() -> list[str]:
        async with running(speed=1.0) as handle:
            connection, reader = await _connected(handle)
            await connection.session.update(session=phone_session())  # type: ignore[arg-type]
            await reader.until("session.updated")
            codes = []

            await connection.response.cancel()
            codes.append((await reader.until("error"))["error"]["code"])

            await connection.input_audio_buffer.commit()
            codes.append((await reader.until("error"))["error"]["code"])

            await connection.response.create(response={"instructions": "Say exactly: One moment please."})
            await reader.until("response.created")
            await connection.response.create()
            codes.append((await reader.until("error"))["error"]["code"])

            # Still one session: a cancel now succeeds.
            await connection.response.cancel()
            done = await reader.until("response.done")
            assert (done["response"]["status"], done["response"]["status_details"]["reason"]) == (
                "cancelled",
                "client_cancelled",
            )

            await connection.send_raw(
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "item": {"type": "function_call_output", "call_id": "nope", "output": "x"},
                    }
                )
            )
            codes.append((await reader.until("error"))["error"]["code"])
            await connection.send_raw(json.dumps({"type": "response.create", "respnse": {}}))
            codes.append((await reader.until("error"))["error"]["code"])
            await connection.close()
            return codes

    assert asyncio.run(main()) == [
        "response_cancel_not_active",
        "input_audio_buffer_commit_empty",
        "conversation_already_has_active_response",
        "invalid_value",  # unknown call_id
        "invalid_value",  # a key the GA protocol does not have
    ]


def test_manual_commit_with_enough_audio_is_accepted() -> None:
    async def main() -> None:
        async with running() as handle:
            connection, reader = await _connected(handle)
            session = phone_session()
            session["audio"]["input"]["turn_detection"] = None  # type: ignore[index]
            await connection.session.update(session=session)  # type: ignore[arg-type]
            await speak(connection, mulaw.silence(60))
            await connection.input_audio_buffer.commit()
            assert (await reader.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
            await speak(connection, caller_audio("hello there"))
            await connection.input_audio_buffer.commit()
            await reader.until("input_audio_buffer.committed")
            await connection.close()

    asyncio.run(main())


@pytest.mark.parametrize("how", ["header", "event"])
def test_beta_shaped_client_is_refused_with_4000(how: str) -> None:
    async def main() -> tuple[str, int]:
        async with running() as handle:
            if how == "header":
                connection, reader = await _connected(handle, extra_headers={"OpenAI-Beta": "realtime=v1"})
            else:
                connection, reader = await _connected(handle)
                await connection.send_raw(
                    json.dumps(
                        {
                            "type": "session.update",
                            "session": {"modalities": ["audio", "text"], "input_audio_format": "g711_ulaw"},
                        }
                    )
                )
            code = await reader.until_closed()
            errors = [e for e in reader.events if e["type"] == "error"]
            return errors[0]["error"]["code"], code

    assert asyncio.run(main()) == ("beta_api_shape_disabled", 4000)


def test_session_limit_ends_with_session_expired_and_1001() -> None:
    async def main() -> tuple[str, int]:
        async with running(session_limit_s=0.3) as handle:
            _connection, reader = await _connected(handle)
            created = await reader.until("session.created")
            assert created["session"]["expires_at"] > 0
            code = await reader.until_closed()
            return reader.events[-1]["error"]["code"], code

    assert asyncio.run(main()) == ("session_expired", 1001)


def test_missing_api_key_is_refused_at_the_handshake() -> None:
    import websockets

    async def main() -> int:
        async with running() as handle:
            try:
                async with websockets.connect(handle.url + "/realtime?model=gpt-realtime"):
                    return 101
            except websockets.exceptions.InvalidStatus as exc:
                return exc.response.status_code

    assert asyncio.run(main()) == 401
