"""A strict scripted RealtimeClient for tests: it fails on an outbound event the script does not
expect and, at the end, on scripted steps never used. Messages are wire JSON, validated with the
SDK types both ways, exactly as production sends and receives them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from realtime_bridge.realtime.events import CLIENT_EVENT, SERVER_EVENT


@dataclass(frozen=True)
class Step:
    expect: str  # the client event type the bridge must send next
    reply: tuple[dict[str, Any], ...] = ()  # server events (wire dicts) the fake answers with


@dataclass
class ScriptedRealtimeClient:
    steps: list[Step]
    on_connect: tuple[dict[str, Any], ...] = ()
    ignore: frozenset[str] = frozenset({"input_audio_buffer.append"})
    sent: list[dict[str, Any]] = field(default_factory=list)
    _queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    _close_code: int | None = None

    @property
    def close_code(self) -> int | None:
        return self._close_code

    def __post_init__(self) -> None:
        self.frame_write: Callable[[bytes], bool] = lambda payload: False  # every frame through send
        self.frame_send: Callable[[str], Awaitable[None]] = self.send  # checked here like any event
        self.closed_errors: tuple[type[BaseException], ...] = (ConnectionError,)

    async def connect(self, model: str) -> None:
        self.enqueue(self.on_connect)

    async def send(self, text: str) -> None:
        data = json.loads(text)
        CLIENT_EVENT.validate_python(data)  # what production would send must be valid
        self.sent.append(data)
        if data["type"] in self.ignore:
            return
        if not self.steps:
            raise AssertionError(f"unexpected outbound {data['type']}: the script is finished")
        if self.steps[0].expect != data["type"]:
            raise AssertionError(f"unexpected outbound {data['type']}, the script expects {self.steps[0].expect}")
        self.enqueue(self.steps.pop(0).reply)

    async def messages(self) -> AsyncIterator[str | bytes]:
        while (message := await self._queue.get()) is not None:
            yield message

    async def close(self) -> None:
        self.drop(1000)

    def drop(self, code: int) -> None:
        """End the message stream as a closed socket would."""
        self._close_code = code
        self._queue.put_nowait(None)

    def assert_done(self) -> None:
        if self.steps:
            raise AssertionError(f"scripted steps never used: {[s.expect for s in self.steps]}")

    def enqueue(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            SERVER_EVENT.validate_python(event)  # a fake that sends what the service never would is no test
            self._queue.put_nowait(json.dumps(event))
