"""The error events the real service sends (type, code, message), in one place."""

from __future__ import annotations

from typing import Any


def error_event(
    code: str,
    message: str,
    *,
    param: str | None = None,
    event_id: str | None = None,
    kind: str = "invalid_request_error",
) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": kind, "code": code, "message": message, "param": param, "event_id": event_id},
    }


def active_response(response_id: str, event_id: str | None) -> dict[str, Any]:
    return error_event(
        "conversation_already_has_active_response",
        f"Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one.",
        event_id=event_id,
    )


def cancel_not_active(event_id: str | None) -> dict[str, Any]:
    return error_event("response_cancel_not_active", "Cancellation failed: no active response found", event_id=event_id)


def commit_empty(buffered_ms: float, event_id: str | None) -> dict[str, Any]:
    return error_event(
        "input_audio_buffer_commit_empty",
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
        f"audio, but buffer only has {buffered_ms:.2f}ms of audio.",
        event_id=event_id,
    )


def truncate_too_long(generated_ms: int, audio_end_ms: int, event_id: str | None) -> dict[str, Any]:
    return error_event(
        "invalid_value",
        f"Audio content of {generated_ms}ms is already shorter than {audio_end_ms}ms",
        param="audio_end_ms",
        event_id=event_id,
    )


def not_model_audio(event_id: str | None) -> dict[str, Any]:
    return error_event(
        "unsupported_content_type",
        "Only model output audio messages can be truncated",
        param="item_id",
        event_id=event_id,
    )


def item_not_found(item_id: str, param: str, event_id: str | None) -> dict[str, Any]:
    return error_event("item_not_found", f"Item with item_id '{item_id}' not found", param=param, event_id=event_id)


def invalid_event(message: str, event_id: str | None, param: str | None = None) -> dict[str, Any]:
    return error_event("invalid_value", message, param=param, event_id=event_id)


def invalid_json() -> dict[str, Any]:
    return error_event("invalid_json", "The server could not parse the event as JSON.")


def assistant_audio_injected(event_id: str | None) -> dict[str, Any]:
    return error_event(
        "invalid_value",
        "Assistant messages can only carry text content; audio cannot be added to the conversation by a client.",
        param="item.content",
        event_id=event_id,
    )


def beta_disabled() -> dict[str, Any]:
    return error_event(
        "beta_api_shape_disabled",
        "The beta Realtime API shape (OpenAI-Beta: realtime=v1) is no longer supported. Use the GA interface.",
    )


def session_expired(minutes: float) -> dict[str, Any]:
    return error_event("session_expired", f"Your session hit the maximum duration of {minutes:g} minutes.")


def unknown_voice(voice: str, known: tuple[str, ...], event_id: str | None) -> dict[str, Any]:
    supported = ", ".join(f"'{v}'" for v in known)
    return error_event(
        "invalid_value",
        f"Invalid value: '{voice}'. Supported values are: {supported}.",
        param="session.audio.output.voice",
        event_id=event_id,
    )


def voice_unavailable(voice: str, model: str, event_id: str | None) -> dict[str, Any]:
    """The reject_session_update knob: the same error, for a voice this model does not offer."""
    return error_event(
        "invalid_value",
        f"Invalid value: '{voice}'. This voice is not available for model '{model}'.",
        param="session.audio.output.voice",
        event_id=event_id,
    )


def transcription_error() -> dict[str, Any]:
    """The `error` of conversation.item.input_audio_transcription.failed (not an `error` event)."""
    return {
        "type": "transcription_error",
        "code": "audio_unintelligible",
        "message": "Audio could not be transcribed.",
        "param": None,
    }


def handshake_refusal(status: int) -> dict[str, Any]:
    """The JSON body of a refused websocket handshake, as the real API sends it."""
    bodies: dict[int, tuple[str, str | None, str]] = {
        401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
        429: (
            "requests",
            "rate_limit_exceeded",
            "Rate limit reached for requests per min (RPM). Please try again in 20s.",
        ),
        503: ("server_error", "server_overloaded", "The server is overloaded or not ready yet."),
    }
    kind, code, message = bodies[status]
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
