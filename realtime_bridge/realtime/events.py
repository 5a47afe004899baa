"""The SDK's own discriminated types for every wire event, both ways (validation lives here,
the mapping to the bridge's vocabulary in `translate`), and the one hot-path encoder."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import Field, TypeAdapter

SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(Annotated[RealtimeServerEvent, Field(discriminator="type")])
CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(Annotated[RealtimeClientEvent, Field(discriminator="type")])
_APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'
_APPEND_HEAD_BYTES, _APPEND_TAIL_BYTES = _APPEND_HEAD.encode(), b'"}'


def audio_append_json(ulaw: bytes) -> str:
    """input_audio_buffer.append for one caller frame: a fixed shape, built without a model
    (base64 needs no JSON escaping). 50 times a second per call."""
    return _APPEND_HEAD + base64.b64encode(ulaw).decode("ascii") + '"}'


def audio_append_bytes(ulaw: bytes) -> bytes:
    """The same append as UTF-8, for a websocket frame written as bytes (`frame_writer`)."""
    return _APPEND_HEAD_BYTES + base64.b64encode(ulaw) + _APPEND_TAIL_BYTES
