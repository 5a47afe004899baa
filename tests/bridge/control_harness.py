"""Drive `CallControl` by hand: events in, actions out, a fake clock and a real (memory-only)
playout buffer that plays when the test says time passes. Shared by the unit tests and the
stateful fuzz test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from realtime_bridge.call_control import CallControl, ControlSettings
from realtime_bridge.call_events import Action, Event, Play, Send, Tick
from realtime_bridge.realtime.model_events import (
    AudioDelta,
    CreateResponse,
    ResponseFinished,
    ResponseStarted,
)
from realtime_bridge.rtp.playout import FRAME_BYTES, PlayoutBuffer
from voice_agent.spec import AgentSpec

T = TypeVar("T")
SESSION: dict[str, Any] = {"type": "realtime", "instructions": "You answer the phone."}


@dataclass
class Level:
    loud: bool = True

    def audible(self) -> bool:
        return self.loud


@dataclass
class Harness:
    spec: AgentSpec
    settings: ControlSettings = field(default_factory=ControlSettings)
    now: float = 0.0
    actions: list[Action] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.playout = PlayoutBuffer()
        self.level = Level()
        self.control = CallControl("CAtest", self.spec, SESSION, self.playout, self.level, 0.0, self.settings)
        self.actions.extend(self.control.start(self.now))
        self._frame = memoryview(bytearray(FRAME_BYTES))

    def feed(self, event: Event) -> list[Action]:
        out = self.control.handle(event, self.now)
        self.actions.extend(out)
        for action in out:
            if isinstance(action, Play):
                self.playout.push(action.item_id, action.audio)
        return out

    def advance(self, seconds: float) -> list[Action]:
        """Let time pass: the pacer plays 20 ms frames, and every deadline that comes is ticked."""
        out: list[Action] = []
        end = self.now + seconds
        while True:
            deadline = self.control.next_deadline()
            step_to = min(end, self.now + 0.02)
            if deadline is not None and deadline <= step_to:
                step_to = max(self.now, deadline)
            frames = round((step_to - self.now) / 0.02)
            for _ in range(frames):
                self.playout.fill_frame(self._frame)
            self.now = step_to
            if deadline is not None and deadline <= self.now:
                out += self.feed(Tick())
                after = self.control.next_deadline()
                # A tick consumes every deadline that has come; one still due would loop forever.
                assert after is None or after > self.now, f"deadline {after} still due at {self.now} after a tick"
            if self.now >= end - 1e-9 and (deadline is None or deadline > self.now):
                return out

    def of(self, kind: type[T], actions: list[Action] | None = None) -> list[T]:
        return [a for a in (self.actions if actions is None else actions) if isinstance(a, kind)]

    def sent(self, kind: type[T], actions: list[Action] | None = None) -> list[T]:
        return [a.command for a in self.of(Send, actions) if isinstance(a.command, kind)]

    def last_request(self) -> CreateResponse:
        return self.sent(CreateResponse)[-1]

    def respond(self, request: CreateResponse | None, response_id: str, items: dict[str, int]) -> None:
        """A whole response: started, audio per item (ms), finished completed with transcripts."""
        self.feed(ResponseStarted(response_id, request.request_id if request else None))
        for item_id, ms in items.items():
            self.feed(AudioDelta(response_id, item_id, b"\x00" * (ms * 8)))
        self.feed(ResponseFinished(response_id, "completed", "", tuple((i, f"said {i}") for i in items)))
