"""The session knobs over the real websocket, as the unmodified SDK sees them."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.simulator.session_driver import scenario_of
from tests.simulator.sim_helpers import Reader, phone_session, running, sdk_client

NAME = {"say": "Maria Lopez.", "means": {"caller_name": "Maria Lopez"}}
HEADERS = {"Authorization": "Bearer sk-test"}


async def handshake_status(url: str) -> tuple[int, dict[str, object]]:
    try:
        async with websockets.connect(url + "/realtime?model=gpt-realtime", additional_headers=HEADERS):
            return 101, {}
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code, json.loads(exc.response.body or b"{}")


@pytest.mark.parametrize(
    ("status", "code"), [(401, "invalid_api_key"), (429, "rate_limit_exceeded"), (503, "server_overloaded")]
)
def test_refuse_connect_refuses_the_handshake_with_the_apis_status_and_body(status: int, code: str) -> None:
    async def main() -> tuple[int, dict[str, object], list[int], int]:
        async with running(scenario_of([NAME], refuse_connect=status)) as handle:
            got, body = await handshake_status(handle.url)
            return got, body, handle.refused, len(handle.sessions)

    got, body, refused, sessions = asyncio.run(main())
    assert (got, refused, sessions) == (status, [status], 0)
    assert body["error"]["code"] == code  # type: ignore[index]


def test_refuse_connect_after_lets_the_first_sessions_through_and_the_sdk_raises() -> None:
    async def main() -> tuple[int, str]:
        async with running(scenario_of([NAME], refuse_connect=503, refuse_connect_after=1)) as handle:
            async with sdk_client(handle).realtime.connect(model="gpt-realtime") as connection:
                created = await Reader(connection).until("session.created")
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with sdk_client(handle).realtime.connect(model="gpt-realtime") as again:
                    await again.recv()
            return refused.value.response.status_code, created["type"]

    assert asyncio.run(main()) == (503, "session.created")


def test_drop_session_closes_only_the_first_session_with_1011() -> None:
    async def main() -> tuple[int, str, list[int | None]]:
        async with running(scenario_of([NAME], drop_session_at_s=0.4), speed=1.0) as handle:
            client = sdk_client(handle)
            async with client.realtime.connect(model="gpt-realtime") as connection:
                reader = Reader(connection)
                await connection.session.update(session=phone_session())  # type: ignore[arg-type]
                await connection.response.create(response={"instructions": "Say exactly: " + "Hello there. " * 8})
                code = await reader.until_closed()
            assert "response.done" not in reader.types()
            async with client.realtime.connect(model="gpt-realtime") as connection:
                reader = Reader(connection)
                await connection.session.update(session=phone_session())  # type: ignore[arg-type]
                await asyncio.sleep(0.6)  # past the first session's drop time
                await connection.response.create(response={"instructions": "Say exactly: Still here."})
                done = await reader.until("response.done")
            return code, done["response"]["status"], [s.close_code for s in handle.sessions]

    code, status, closes = asyncio.run(main())
    assert (code, status) == (1011, "completed")
    assert closes[0] == 1011 and closes[1] != 1011
