"""The session object: defaults as the real service reports them, session.update merged
in, and recognition of the retired beta shape."""

from __future__ import annotations

import copy
from typing import Any

from voice_agent.spec import VOICES

# Keys only the beta interface had (`OpenAI-Beta: realtime=v1`); the GA service refuses them.
BETA_SESSION_KEYS = frozenset({"modalities", "input_audio_format", "output_audio_format", "input_audio_transcription"})
BETA_EVENT_TYPES = frozenset({"response.audio.delta", "transcription_session.update"})

_SERVER_VAD_DEFAULTS = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
_SEMANTIC_VAD_DEFAULTS = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
# The built-in voices (SDK docstring of RealtimeAudioConfigOutput.voice); others are refused.
KNOWN_VOICES = VOICES  # the library owns the list; the stand-in refuses the rest as the service does
# How long semantic VAD waits, by eagerness: a stand-in for "the caller sounds finished".
SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "auto": 500, "high": 250}


def default_session(session_id: str, model: str, expires_at: int) -> dict[str, Any]:
    """What session.created carries (shape copied from the recordings)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, friendly assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(_SERVER_VAD_DEFAULTS),
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
        },
        "include": None,
    }


def is_beta_shaped(event: dict[str, Any]) -> bool:
    if event.get("type") in BETA_EVENT_TYPES:
        return True
    session = event.get("session")
    if event.get("type") == "session.update" and isinstance(session, dict):
        return "type" not in session or bool(BETA_SESSION_KEYS & session.keys())
    return False


# Objects a session.update replaces whole (an audio format is one value, not a patch).
_REPLACED = frozenset({"format", "transcription", "noise_reduction", "turn_detection"})


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in _REPLACED:
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_update(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """session.update is a partial patch; the reply is the whole session, filled in."""
    update = {k: v for k, v in update.items() if k != "model"}  # the model is fixed at connect
    merged = _merge(current, update)
    audio_in = merged["audio"]["input"]
    new_td = update.get("audio", {}).get("input", {}).get("turn_detection", "absent")
    if isinstance(new_td, dict):
        defaults = _SEMANTIC_VAD_DEFAULTS if new_td.get("type") == "semantic_vad" else _SERVER_VAD_DEFAULTS
        audio_in["turn_detection"] = {**defaults, **new_td}
    transcription = audio_in.get("transcription")
    if isinstance(transcription, dict):
        audio_in["transcription"] = {"language": None, "prompt": None, **transcription}
    for tool in merged.get("tools") or []:
        tool.setdefault("type", "function")
    return merged


def silence_ms(turn_detection: dict[str, Any]) -> int:
    if turn_detection.get("type") == "semantic_vad":
        return SEMANTIC_SILENCE_MS.get(turn_detection.get("eagerness") or "auto", 500)
    return int(turn_detection.get("silence_duration_ms") or 200)


def requested_voice(update: dict[str, Any]) -> str | None:
    """The built-in voice name a session.update asks for (a custom voice is an object: None)."""
    audio = update.get("audio")
    output = audio.get("output") if isinstance(audio, dict) else None
    voice = output.get("voice") if isinstance(output, dict) else None
    return voice if isinstance(voice, str) else None
