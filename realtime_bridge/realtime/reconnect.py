"""Surviving a dropped model socket: a new session, seeded with the conversation so far
and the record state, and one decision line saying so.

A reconnect is a new, empty session on the service side; what the model knew must be
sent again (instructions + the turns as text items). Assistant audio cannot be
injected, so agent turns go back as text.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent

from realtime_bridge.realtime.client import RealtimeClient
from voice_agent.decisions import DecisionLog

log = logging.getLogger(__name__)
RESUME_NOTE = (
    "This call is resuming after a dropped connection; the conversation so far is below. "
    "Do not greet the caller again; continue from where it stopped."
)


@dataclass(frozen=True)
class HistoryTurn:
    speaker: Literal["caller", "agent"]
    text: str


@dataclass(frozen=True)
class SessionSeed:
    session: dict[str, Any]  # the session.update payload the call started with
    history: tuple[HistoryTurn, ...]
    record_state: str  # what is recorded so far, one line per field, written by the call's owner


def seed_events(seed: SessionSeed) -> list[dict[str, Any]]:
    session = dict(seed.session)
    extra = RESUME_NOTE + ("\nRecorded so far:\n" + seed.record_state if seed.record_state else "")
    session["instructions"] = f"{session.get('instructions', '')}\n\n{extra}".strip()
    events: list[dict[str, Any]] = [{"type": "session.update", "session": session}]
    for turn in seed.history:
        if not turn.text:
            continue
        role, part = ("user", "input_text") if turn.speaker == "caller" else ("assistant", "output_text")
        events.append(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": role, "content": [{"type": part, "text": turn.text}]},
            }
        )
    return events


def should_reconnect(close_code: int | None) -> bool:
    # 4xxx are the service refusing us (e.g. 4000 beta shape): a retry would be refused too.
    return close_code is None or not 4000 <= close_code < 5000


class ReconnectingRealtimeClient:
    """A RealtimeClient that, on a close it did not ask for, opens a new session and seeds it."""

    def __init__(
        self,
        factory: Callable[[], RealtimeClient],
        seed: Callable[[], SessionSeed],
        *,
        call_id: str,
        decisions: DecisionLog | None = None,
        max_reconnects: int = 2,
    ) -> None:
        self._factory = factory
        self._seed = seed
        self._call_id = call_id
        self._decisions = decisions
        self._max = max_reconnects
        self._client: RealtimeClient | None = None
        self._model = ""
        self._closing = False
        self.reconnects = 0

    @property
    def close_code(self) -> int | None:
        return self._client.close_code if self._client else None

    async def connect(self, model: str) -> None:
        self._model = model
        self._client = self._factory()
        await self._client.connect(model)

    async def send(self, event: RealtimeClientEvent | dict[str, Any]) -> None:
        assert self._client is not None, "connect() first"
        await self._client.send(event)

    async def append_audio(self, ulaw: bytes) -> None:
        assert self._client is not None, "connect() first"
        await self._client.append_audio(ulaw)

    async def events(self) -> AsyncIterator[RealtimeServerEvent]:
        while self._client is not None:
            async for event in self._client.events():
                yield event
            if self._closing:
                return
            code = self._client.close_code
            if not should_reconnect(code) or self.reconnects >= self._max:
                self._decide("fail", f"model socket closed with {code}; not reconnecting")
                return
            self.reconnects += 1
            self._decide("retry", f"model socket closed with {code}; new session seeded with the call so far")
            await self.connect(self._model)
            for event in seed_events(self._seed()):
                await self._client.send(event)

    async def close(self) -> None:
        self._closing = True
        if self._client is not None:
            await self._client.close()

    def _decide(self, verdict: Literal["retry", "fail"], reason: str) -> None:
        log.warning(reason)
        if self._decisions is not None:
            self._decisions.record(self._call_id, "intervention", verdict, reason, attempt=self.reconnects)
