"""The seam between the bridge and the model's socket: connect / send / messages / close.

A transport only: it moves JSON text. What the text means is `translate`'s business, what to
do about it is call control's. `OpenAIRealtimeClient` is production over the official SDK
(`AsyncOpenAI().realtime.connect`); the offline stand-in is reached by the same code through
the SDK's base-URL settings, and test fakes implement `RealtimeClient` too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from openai import AsyncOpenAI, OpenAIError
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from realtime_bridge.realtime.frame_writer import FrameWriter

log = logging.getLogger(__name__)


class ConnectRefused(Exception):
    """The service would not open a session (bad key, unknown model, rate limit, outage)."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"realtime connect refused ({status or 'no answer'}): {detail}")
        self.status = status


class RealtimeClient(Protocol):
    async def connect(self, model: str) -> None:
        """Open one session; raises ConnectRefused."""
        ...

    async def send(self, text: str) -> None:
        """One client event, already encoded; raises ConnectionError once the socket is gone."""
        ...

    # Caller frames (50 a second per call): `frame_write` puts one on the socket now (True) or
    # declines (False: not open, or the socket asks to wait); then `frame_send`, the socket's own
    # awaited send with no coroutine of ours around it, waits or raises one of `closed_errors`.
    frame_write: Callable[[bytes], bool]
    frame_send: Callable[[str], Awaitable[None]]
    closed_errors: tuple[type[BaseException], ...]

    def messages(self) -> AsyncIterator[str | bytes]:
        """Every server message as received; ends when the socket closes (see `close_code`)."""
        ...

    async def close(self) -> None: ...

    @property
    def close_code(self) -> int | None: ...


class OpenAIRealtimeClient:
    def __init__(self, openai_client: AsyncOpenAI) -> None:
        self._openai = openai_client
        self._connection: AsyncRealtimeConnection | None = None
        self._close_code: int | None = None
        self.frame_write: Callable[[bytes], bool] = _not_now
        self.frame_send: Callable[[str], Awaitable[None]] = self.send  # until connected: ConnectionError
        self.closed_errors: tuple[type[BaseException], ...] = (ConnectionError, ConnectionClosed)

    @property
    def close_code(self) -> int | None:
        return self._close_code

    async def connect(self, model: str) -> None:
        # The model name always comes from configuration: names change and retire.
        try:
            self._connection = await self._openai.realtime.connect(model=model).enter()
            # Past the SDK's send_raw, whose reconnect queue call control does not use (see send).
            self.frame_send = self._connection._connection.send
            self.frame_write = FrameWriter(self._connection._connection).text
        except InvalidStatus as exc:
            raise ConnectRefused(exc.response.status_code, exc.response.reason_phrase) from exc
        except (OSError, TimeoutError, WebSocketException, OpenAIError) as exc:
            raise ConnectRefused(None, f"{type(exc).__name__}: {exc}") from exc

    async def send(self, text: str) -> None:
        connection = self._connection
        if connection is None:
            raise ConnectionError("no realtime session")
        try:
            # Straight onto the SDK's own websocket: `send_raw` passes every frame through a
            # reconnect queue we never use (call control owns reconnects), which cost about a
            # tenth of the bridge's loop at 100 calls (50 appends a second per call).
            await connection._connection.send(text)
        except ConnectionClosed as exc:
            raise ConnectionError("realtime socket closed") from exc

    async def messages(self) -> AsyncIterator[str | bytes]:
        connection = self._connection
        if connection is None:
            return
        while True:
            try:
                raw = await connection.recv_bytes()
            except ConnectionClosed as exc:
                self._close_code = exc.rcvd.code if exc.rcvd is not None else 1006
                log.info("realtime socket closed with %s", self._close_code)
                return
            yield raw

    async def close(self) -> None:
        self.frame_write, self.frame_send = _not_now, self.send
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


def _not_now(payload: bytes) -> bool:
    return False  # no socket to write to: the awaited path says why
