"""Call control's vocabulary: what happens to a call (events in) and what it asks its shell to do
(actions out). Model events come from `realtime_bridge.realtime.model_events`; the rest are the
shell's reports: a session opened or refused, a worker's result, the clock, SIP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from realtime_bridge.realtime.model_events import FunctionCall, ModelCommand, ModelEvent
from voice_agent.directives import Directive
from voice_agent.invocation import PolicyEvent


# ---- events (shell -> call control) --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Connected:
    """A model session is open; `record_state` is what the store holds (for a reconnect's seed)."""

    record_state: str = ""


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    status: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    code: int | None


@dataclass(frozen=True, slots=True)
class ToolRoundDone:
    response_id: str
    session: int  # the session the calls came from: outputs for a dead session are not sent
    outputs: tuple[tuple[str, str], ...]  # (call id, output the model sees)
    directives: tuple[Directive, ...]


@dataclass(frozen=True, slots=True)
class PolicyDone:
    action: str  # the PolicyEvent's action
    ok: bool  # False: the invoke itself failed (the reply is unknown)
    directives: tuple[Directive, ...] = ()


@dataclass(frozen=True, slots=True)
class Keypad:
    digit: str


@dataclass(frozen=True, slots=True)
class Drain:
    """The bridge is shutting down past its drain deadline."""


@dataclass(frozen=True, slots=True)
class SipEnded:
    by_caller: bool


@dataclass(frozen=True, slots=True)
class Tick:
    """The deadline call control asked for has come."""


CallEvent = Connected | ConnectFailed | SessionClosed | ToolRoundDone | PolicyDone | Keypad | Drain | SipEnded | Tick
Event = ModelEvent | CallEvent


# ---- actions (call control -> shell) -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Send:
    command: ModelCommand


@dataclass(frozen=True, slots=True)
class Play:
    item_id: str
    audio: bytes


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a (new) model session; report Connected or ConnectFailed."""

    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class FlushAudio:
    """The session is live: send the caller audio buffered while it was not."""


@dataclass(frozen=True, slots=True)
class RunTools:
    response_id: str
    session: int
    calls: tuple[FunctionCall, ...]
    answers_item: str | None  # the caller turn (item id) the response answered


@dataclass(frozen=True, slots=True)
class CallPolicy:
    event: PolicyEvent
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ReserveTurn:
    """A turn starts to be heard (the caller speaks, the agent's first audio plays): its place in
    the transcript is now, its words come later."""

    item_id: str
    t_ms: int


@dataclass(frozen=True, slots=True)
class FillCallerTurn:
    item_id: str
    text: str
    status: Literal["transcribed", "untranscribed", "noise"]  # noise: echo, nothing to keep


@dataclass(frozen=True, slots=True)
class WriteTurn:
    speaker: Literal["agent", "system"]
    text: str
    t_ms: int
    item_id: str | None = None
    interrupted: bool = False
    heard_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Decide:
    kind: str
    verdict: str
    reason: str
    extra: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class AddUsage:
    usage: object
    kind: Literal["response", "transcription"] = "response"


@dataclass(frozen=True, slots=True)
class HangUp:
    reason: str


Action = (
    Send
    | Play
    | Connect
    | FlushAudio
    | RunTools
    | CallPolicy
    | ReserveTurn
    | FillCallerTurn
    | WriteTurn
    | Decide
    | AddUsage
    | HangUp
)
