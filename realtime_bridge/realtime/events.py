"""Wire events in and out, decoded through the SDK's own types.

The SDK's `recv()` builds models without validating; here every received message goes
through a discriminated TypeAdapter. A message that fails becomes an `error` event
(code `invalid_server_event`) so the receive loop never dies on one bad event.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from openai.types.realtime import (
    RealtimeClientEvent,
    RealtimeError,
    RealtimeErrorEvent,
    RealtimeServerEvent,
)
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(Annotated[RealtimeServerEvent, Field(discriminator="type")])
CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(Annotated[RealtimeClientEvent, Field(discriminator="type")])
INVALID_SERVER_EVENT = "invalid_server_event"


def decode_server_event(raw: str | bytes) -> RealtimeServerEvent:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _invalid(f"not JSON: {exc}")
    try:
        return SERVER_EVENT.validate_python(data)
    except ValidationError as exc:
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        return _invalid(
            f"event {kind!r} rejected by the SDK types: {exc.errors()[0]['msg']} "
            f"at {'.'.join(map(str, exc.errors()[0]['loc']))}"
        )


def encode_client_event(event: RealtimeClientEvent | dict[str, Any]) -> str:
    """Validate an outbound event against the SDK types and serialise it.
    Raises ValidationError: sending a malformed event is our bug, not the model's."""
    data = event.model_dump(exclude_unset=True) if isinstance(event, BaseModel) else event
    CLIENT_EVENT.validate_python(data)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


_APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'


def audio_append_json(ulaw: bytes) -> str:
    """input_audio_buffer.append for one frame (base64 needs no JSON escaping)."""
    return _APPEND_HEAD + base64.b64encode(ulaw).decode("ascii") + '"}'


def is_invalid_marker(event: RealtimeServerEvent) -> bool:
    return isinstance(event, RealtimeErrorEvent) and event.error.code == INVALID_SERVER_EVENT


def _invalid(message: str) -> RealtimeErrorEvent:
    return RealtimeErrorEvent(
        type="error",
        event_id="local_invalid",
        error=RealtimeError(type="client_error", code=INVALID_SERVER_EVENT, message=message[:500]),
    )
