"""The uplink's frame writer against a real websockets server: what it writes is what the library
would have sent, and it steps aside whenever the library would have had to wait or raise."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedError

from realtime_bridge.realtime.events import audio_append_bytes, audio_append_json
from realtime_bridge.realtime.frame_writer import FrameWriter

Run = Callable[[Coroutine[Any, Any, list[str]]], list[str]]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Both loops the bridge runs on (uvloop by default): their transports differ."""
    return asyncio.run if request.param == "asyncio" else uvloop.run


async def _session(body: object) -> list[str]:
    """Open a session to a server that keeps every text message, run `body(connection, writer)`,
    close, and return what the server received."""
    received: list[str] = []
    done = asyncio.Event()

    async def keep(ws: ServerConnection) -> None:
        try:  # a malformed or unmasked frame closes the session (1002): what follows goes missing
            async for message in ws:
                assert isinstance(message, str)
                received.append(message)
        except ConnectionClosedError:
            pass  # lost, not closed: what arrived before is the test's
        finally:
            done.set()

    async with serve(keep, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        connection = await connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None)
        await body(connection, FrameWriter(connection))  # type: ignore[operator]
        await connection.close()
        await asyncio.wait_for(done.wait(), 5)
    return received


def test_frames_written_straight_arrive_as_the_messages_the_library_sends_in_order(run: Run) -> None:
    frames = [bytes([i % 256]) * 160 for i in range(1100)]  # past the first batch of 1,024 mask keys
    sizes = ["x" * n for n in (0, 125, 126, 65535, 65536, 200_000)]  # every length encoding

    async def body(connection, writer: FrameWriter) -> None:  # type: ignore[no-untyped-def]
        for i, frame in enumerate(frames):
            if i % 3:
                assert writer.text(audio_append_bytes(frame))
            else:
                await connection.send(audio_append_json(frame))  # the library's path, interleaved
        for text in sizes:
            assert writer.text(json.dumps({"type": "t", "pad": text}).encode())

    received = run(_session(body))
    assert received[: len(frames)] == [audio_append_json(f) for f in frames]
    assert [len(json.loads(m)["pad"]) for m in received[len(frames) :]] == [len(t) for t in sizes]


def test_it_steps_aside_when_the_socket_asks_to_wait_or_has_closed(run: Run) -> None:
    async def body(connection, writer: FrameWriter) -> None:  # type: ignore[no-untyped-def]
        connection.pause_writing()  # what the transport calls above its high-water mark
        assert not writer.text(b'{"type":"held"}')  # the library's send would wait for the drain
        connection.resume_writing()
        assert writer.text(b'{"type":"after"}')
        await connection.close()
        assert not writer.text(b'{"type":"closed"}')  # the library's send raises ConnectionClosed

    assert run(_session(body)) == ['{"type":"after"}']


def test_it_steps_aside_as_soon_as_the_socket_is_lost_before_the_library_hears_of_it(run: Run) -> None:
    async def body(connection, writer: FrameWriter) -> None:  # type: ignore[no-untyped-def]
        assert writer.text(b'{"type":"before"}')
        await asyncio.sleep(0.05)  # delivered before the socket goes
        connection.transport.abort()  # the connection is told on a later loop turn
        assert not writer.text(b'{"type":"lost"}')  # never a write into a closed handle

    assert run(_session(body)) == ['{"type":"before"}']
