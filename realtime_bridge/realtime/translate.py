"""The one place that knows the OpenAI Realtime GA wire shapes: server JSON -> `ModelEvent`,
`ModelCommand` -> client JSON.

Every server event is validated with the SDK's own discriminated types, except
`response.output_audio.delta`: it is most of the traffic, so its type is read first and its
three fields are checked by hand (a malformed one still becomes an error, never a crash).
Events call control does not need become None.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, assert_never

from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeErrorEvent,
    ResponseCreatedEvent,
    ResponseDoneEvent,
    ResponseOutputItemAddedEvent,
    SessionUpdatedEvent,
)
from pydantic import ValidationError

from realtime_bridge.realtime.events import CLIENT_EVENT, SERVER_EVENT, audio_append_bytes, audio_append_json
from realtime_bridge.realtime.model_events import (
    AddText,
    AgentTranscriptDelta,
    AudioDelta,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    CallerTranscriptFailed,
    CallerTurnCommitted,
    CancelResponse,
    Configure,
    CreateResponse,
    FunctionCall,
    FunctionCallStarted,
    FunctionOutput,
    ModelCommand,
    ModelError,
    ModelEvent,
    ResponseFinished,
    ResponseStarted,
    ResponseStatus,
    SessionReady,
    SessionRejected,
    Truncate,
)

INVALID_SERVER_EVENT = "invalid_server_event"
PCMU = "audio/pcmu"
_AUDIO_DELTA = "response.output_audio.delta"
_TRANSCRIPT_DELTA = "response.output_audio_transcript.delta"
# Frequent events nothing in the bridge reads (item bookkeeping, streamed deltas we do not use):
# dropped on their type, before the SDK's validation, which costs more than the rest of `decode`.
_UNREAD = frozenset({
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.input_audio_transcription.delta",
    "rate_limits.updated",
    "response.content_part.added",
    "response.content_part.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.output_item.done",
})  # fmt: skip
audio_append = audio_append_json  # the caller's frames: the one encoder that skips validation
append_frame = audio_append_bytes  # the same, as the bytes of a frame written straight to the socket


# ---- server -> bridge -------------------------------------------------------------------------
def decode(raw: str | bytes) -> ModelEvent | None:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _invalid(f"not JSON: {exc}")
    if not isinstance(data, dict):
        return _invalid(f"not an object: {type(data).__name__}")
    kind = data.get("type")
    if kind == _AUDIO_DELTA:
        return _audio_delta(data)
    if kind in _UNREAD:
        return None
    if kind == _TRANSCRIPT_DELTA:
        return _transcript_delta(data)
    try:
        event = SERVER_EVENT.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        return _invalid(f"event {data.get('type')!r} rejected by the SDK types: {first['msg']} at {where}")
    return _neutral(event)


def _audio_delta(data: dict[str, Any]) -> ModelEvent:
    response_id, item_id, delta = data.get("response_id"), data.get("item_id"), data.get("delta")
    if not (isinstance(response_id, str) and isinstance(item_id, str) and isinstance(delta, str)):
        return _invalid("response.output_audio.delta without response_id, item_id and delta")
    try:
        audio = base64.b64decode(delta, validate=True)
    except (binascii.Error, ValueError):
        return _invalid("response.output_audio.delta whose delta is not base64")
    return AudioDelta(response_id, item_id, audio)


def _transcript_delta(data: dict[str, Any]) -> ModelEvent:
    item_id, delta = data.get("item_id"), data.get("delta")
    if not (isinstance(item_id, str) and isinstance(delta, str)):
        return _invalid("response.output_audio_transcript.delta without item_id and delta")
    return AgentTranscriptDelta(item_id, delta)


def _neutral(event: object) -> ModelEvent | None:
    match event:
        case SessionUpdatedEvent():
            audio = event.session.audio if hasattr(event.session, "audio") else None
            formats = (
                getattr(getattr(getattr(audio, "input", None), "format", None), "type", None),
                getattr(getattr(getattr(audio, "output", None), "format", None), "type", None),
            )
            if formats != (PCMU, PCMU):
                return SessionRejected(f"the session kept audio formats {formats}, not {PCMU} both ways")
            return SessionReady()
        case RealtimeErrorEvent():
            err = event.error
            return ModelError(err.code or err.type, err.message, err.event_id)
        case ResponseCreatedEvent():
            metadata = event.response.metadata or {}
            request = metadata.get("request")
            return ResponseStarted(event.response.id or "", request if isinstance(request, str) else None)
        case ResponseOutputItemAddedEvent():
            item = event.item
            if item.type == "function_call":
                return FunctionCallStarted(event.response_id, item.id or "", item.name)
            return None
        case ResponseDoneEvent():
            return _finished(event)
        case InputAudioBufferSpeechStartedEvent():
            return CallerSpeechStarted(event.item_id)
        case InputAudioBufferSpeechStoppedEvent():
            return CallerSpeechStopped(event.item_id)
        case InputAudioBufferCommittedEvent():
            return CallerTurnCommitted(event.item_id)
        case ConversationItemInputAudioTranscriptionCompletedEvent():
            return CallerTranscript(event.item_id, event.transcript, event.usage)
        case ConversationItemInputAudioTranscriptionFailedEvent():
            return CallerTranscriptFailed(event.item_id, event.error.code or event.error.message or "failed")
        case _:
            return None  # session.created, rate limits, item bookkeeping: nothing to decide on


def _finished(event: ResponseDoneEvent) -> ResponseFinished:
    response = event.response
    details = response.status_details
    reason = ""
    if details is not None and details.reason:
        reason = details.reason
    elif details is not None and details.error is not None:
        reason = details.error.code or details.error.type or "error"
    messages: list[tuple[str, str]] = []
    calls: list[FunctionCall] = []
    for item in response.output or []:
        if item.type == "message" and item.id:
            parts = (getattr(part, "transcript", None) or getattr(part, "text", None) or "" for part in item.content)
            messages.append((item.id, " ".join(parts).strip()))
        elif item.type == "function_call" and item.call_id:
            calls.append(FunctionCall(item.call_id, item.name, item.arguments))
    status: ResponseStatus = "completed"
    if response.status is not None and response.status != "in_progress":
        status = response.status
    return ResponseFinished(response.id or "", status, reason, tuple(messages), tuple(calls), response.usage)


def _invalid(message: str) -> ModelError:
    return ModelError(INVALID_SERVER_EVENT, message[:500], None)


# ---- bridge -> server -------------------------------------------------------------------------
def encode(command: ModelCommand) -> str:
    """Client JSON for one command, validated against the SDK types (a malformed event is our
    bug: it raises rather than reaching the service)."""
    data = _wire(command)
    CLIENT_EVENT.validate_python(data)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _wire(command: ModelCommand) -> dict[str, Any]:
    match command:
        case Configure():
            return {"type": "session.update", "event_id": command.request_id, "session": command.session}
        case CreateResponse():
            response: dict[str, Any] = {
                "metadata": {"request": command.request_id, "purpose": command.purpose, "field": command.field or ""}
            }
            if command.instructions is not None:
                response["instructions"] = command.instructions
            if not command.allow_tools:
                response["tool_choice"] = "none"
            return {"type": "response.create", "event_id": command.request_id, "response": response}
        case CancelResponse():
            return {"type": "response.cancel", "event_id": command.request_id, "response_id": command.response_id}
        case Truncate():
            return {
                "type": "conversation.item.truncate",
                "event_id": command.request_id,
                "item_id": command.item_id,
                "content_index": 0,
                "audio_end_ms": command.audio_end_ms,
            }
        case FunctionOutput():
            item = {"type": "function_call_output", "call_id": command.call_id, "output": command.output}
            return {"type": "conversation.item.create", "event_id": command.request_id, "item": item}
        case AddText():
            part = "input_text" if command.role == "user" else "output_text"
            message = {"type": "message", "role": command.role, "content": [{"type": part, "text": command.text}]}
            return {"type": "conversation.item.create", "event_id": command.request_id, "item": message}
        case _:
            assert_never(command)
