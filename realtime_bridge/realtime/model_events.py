"""The bridge's own vocabulary for the model session, free of wire shapes.

`ModelEvent`s are what call control hears from the model; `ModelCommand`s are what it asks of
it. Only `realtime_bridge.realtime.translate` knows how either looks on the OpenAI websocket, so
call control can be driven (and tested) with these plain values alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ResponseStatus = Literal["completed", "cancelled", "incomplete", "failed"]


# ---- events (model -> bridge) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SessionReady:
    """session.updated: the service accepted our configuration (formats checked by the translator)."""


@dataclass(frozen=True, slots=True)
class SessionRejected:
    reason: str


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    response_id: str
    request_id: str | None  # ours (echoed from metadata) or None: the service's own VAD response


@dataclass(frozen=True, slots=True)
class AudioDelta:
    response_id: str
    item_id: str
    audio: bytes  # G.711 mu-law, 8 bytes per ms


@dataclass(frozen=True, slots=True)
class AgentTranscriptDelta:
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCallStarted:
    response_id: str
    item_id: str
    name: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ResponseFinished:
    response_id: str
    status: ResponseStatus
    reason: str  # status_details: turn_detected, max_output_tokens, an error code, or ""
    messages: tuple[tuple[str, str], ...] = ()  # (item id, transcript) of each assistant message
    calls: tuple[FunctionCall, ...] = ()
    usage: object | None = None  # the SDK's usage object, for cost accounting


@dataclass(frozen=True, slots=True)
class CallerSpeechStarted:
    item_id: str


@dataclass(frozen=True, slots=True)
class CallerSpeechStopped:
    item_id: str


@dataclass(frozen=True, slots=True)
class CallerTurnCommitted:
    item_id: str


@dataclass(frozen=True, slots=True)
class CallerTranscript:
    item_id: str
    text: str
    usage: object | None = None  # the transcription's usage (duration or tokens), for cost accounting


@dataclass(frozen=True, slots=True)
class CallerTranscriptFailed:
    item_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ModelError:
    code: str
    message: str
    request_id: str | None  # the client event_id the error names, when it names one


ModelEvent = (
    SessionReady
    | SessionRejected
    | ResponseStarted
    | AudioDelta
    | AgentTranscriptDelta
    | FunctionCallStarted
    | ResponseFinished
    | CallerSpeechStarted
    | CallerSpeechStopped
    | CallerTurnCommitted
    | CallerTranscript
    | CallerTranscriptFailed
    | ModelError
)


# ---- commands (bridge -> model) ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Configure:
    request_id: str
    session: dict[str, object]  # the session.update payload, built (and validated) from the spec


@dataclass(frozen=True, slots=True)
class CreateResponse:
    request_id: str
    purpose: str  # greeting | read_back | closing | fallback | follow_up | idle_prompt | retry
    instructions: str | None = None
    field: str | None = None
    allow_tools: bool = True


@dataclass(frozen=True, slots=True)
class CancelResponse:
    request_id: str
    response_id: str


@dataclass(frozen=True, slots=True)
class Truncate:
    request_id: str
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class FunctionOutput:
    request_id: str
    call_id: str
    output: str


@dataclass(frozen=True, slots=True)
class AddText:
    """A text message in the conversation: keypad digits, or history seeded into a new session."""

    request_id: str
    role: Literal["user", "assistant"]
    text: str


ModelCommand = Configure | CreateResponse | CancelResponse | Truncate | FunctionOutput | AddText


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    speaker: Literal["caller", "agent"]
    text: str


@dataclass
class RequestIds:
    """Client event ids, unique within a call: an error names the one request that failed."""

    prefix: str
    _n: int = field(default=0)

    def next(self) -> str:
        self._n += 1
        return f"{self.prefix}_{self._n}"
