"""Strict validation of Realtime GA events against the openai SDK's own types.

The SDK does not validate what it receives, and its models allow extra keys, so a
misspelt field would pass silently. Here every event goes through a discriminated
TypeAdapter and, on top, every key must be one the SDK model declares.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(Annotated[RealtimeServerEvent, Field(discriminator="type")])
CLIENT_EVENTS: TypeAdapter[Any] = TypeAdapter(Annotated[RealtimeClientEvent, Field(discriminator="type")])


# Keys the real service sends that the SDK models do not declare (seen in the
# recordings): tolerated, everything else undeclared is a violation.
SERVICE_EXTRAS = frozenset({".session.object", ".session.id", ".session.expires_at", ".obfuscation"})


class WireViolation(ValueError):
    """An event the SDK types reject (or that carries keys they do not declare)."""


def _unknown_keys(model: Any, raw: Any, path: str) -> list[str]:
    # SDK models are extra="allow"; report keys that only survived as extras.
    found: list[str] = []
    if isinstance(model, BaseModel) and isinstance(raw, dict):
        fields = type(model).model_fields
        aliases = {f.alias or name: name for name, f in fields.items()}
        for key, value in raw.items():
            name = aliases.get(key)
            if name is None:
                if f"{path}.{key}" not in SERVICE_EXTRAS:
                    found.append(f"{path}.{key}")
                continue
            found.extend(_unknown_keys(getattr(model, name), value, f"{path}.{key}"))
    elif isinstance(model, list) and isinstance(raw, list):
        for i, (m, r) in enumerate(zip(model, raw, strict=False)):
            found.extend(_unknown_keys(m, r, f"{path}[{i}]"))
    return found


def _check(adapter: TypeAdapter[Any], data: dict[str, Any], side: str) -> Any:
    try:
        event = adapter.validate_python(data)
    except ValidationError as exc:
        raise WireViolation(f"{side} event {data.get('type')!r} rejected by SDK types: {exc}") from exc
    extra = _unknown_keys(event, data, "")
    if extra:
        raise WireViolation(f"{side} event {data.get('type')!r} has keys the SDK does not declare: {extra}")
    return event


def check_server_event(data: dict[str, Any]) -> Any:
    """Validate one server->client event; returns the typed SDK model."""
    return _check(SERVER_EVENTS, data, "server")


def check_client_event(data: dict[str, Any]) -> Any:
    """Validate one client->server event; returns the typed SDK model."""
    return _check(CLIENT_EVENTS, data, "client")


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
