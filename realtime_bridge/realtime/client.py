"""The seam between the bridge and the model: connect / send / events / close.

`OpenAIRealtimeClient` is the production implementation over the official SDK
(`AsyncOpenAI().realtime.connect`); the offline stand-in is reached by the same code
through the SDK's base-URL settings. Test fakes implement `RealtimeClient` too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from websockets.exceptions import ConnectionClosed

from realtime_bridge.realtime.events import audio_append_json, decode_server_event, encode_client_event

log = logging.getLogger(__name__)


class RealtimeClient(Protocol):
    async def connect(self, model: str) -> None: ...

    async def send(self, event: RealtimeClientEvent | dict[str, Any]) -> None: ...

    async def append_audio(self, ulaw: bytes) -> None:
        """The hot path: one caller frame, forwarded as input_audio_buffer.append."""
        ...

    def events(self) -> AsyncIterator[RealtimeServerEvent]:
        """Every server event, decoded; ends when the socket closes (see `close_code`)."""
        ...

    async def close(self) -> None: ...

    @property
    def close_code(self) -> int | None: ...


class OpenAIRealtimeClient:
    def __init__(self, openai_client: AsyncOpenAI) -> None:
        self._openai = openai_client
        self._connection: AsyncRealtimeConnection | None = None
        self._close_code: int | None = None

    @property
    def close_code(self) -> int | None:
        return self._close_code

    async def connect(self, model: str) -> None:
        # The model name always comes from configuration: names change and retire.
        self._close_code = None
        self._connection = await self._openai.realtime.connect(model=model).enter()

    async def send(self, event: RealtimeClientEvent | dict[str, Any]) -> None:
        await self._require().send_raw(encode_client_event(event))

    async def append_audio(self, ulaw: bytes) -> None:
        # 50 times a second per call: a fixed shape, so skip model validation and dict building.
        await self._require().send_raw(audio_append_json(ulaw))

    async def events(self) -> AsyncIterator[RealtimeServerEvent]:
        connection = self._require()
        while True:
            try:
                raw = await connection.recv_bytes()
            except ConnectionClosed as exc:
                self._close_code = exc.rcvd.code if exc.rcvd is not None else 1006
                log.info("realtime socket closed", extra={"close_code": self._close_code})
                return
            yield decode_server_event(raw)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    def _require(self) -> AsyncRealtimeConnection:
        if self._connection is None:
            raise RuntimeError("connect() first")
        return self._connection
