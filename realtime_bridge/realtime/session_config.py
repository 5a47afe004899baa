"""The session the bridge asks for, built from the agent spec: G.711 mu-law both ways
(Chime's PCMU passes through untouched), server or semantic VAD, caller transcription
on, one tool per field plus the fixed tools, the spec's voice."""

from __future__ import annotations

from typing import Any, Literal

from realtime_bridge.realtime.events import CLIENT_EVENT
from voice_agent.spec import AgentSpec
from voice_agent.tool_catalog import build_tools

TurnDetection = Literal["server_vad", "semantic_vad"]


def build_session(
    spec: AgentSpec,
    *,
    turn_detection: TurnDetection = "server_vad",
    silence_duration_ms: int = 500,
    transcription_model: str = "gpt-realtime-whisper",
    extra_instructions: str = "",
) -> dict[str, Any]:
    """The `session` object of a session.update (validated against the SDK types).

    `interrupt_response` is off: the bridge owns barge-in. The service's VAD would cancel any
    in-conversation response on any sound, the closing included, and phone-line echo of the
    agent's own voice counts as sound; the bridge checks the caller's line first, cancels what
    should be cut itself, and never cuts the closing."""
    detection: dict[str, Any] = {"type": turn_detection, "create_response": True, "interrupt_response": False}
    if turn_detection == "server_vad":
        detection["silence_duration_ms"] = silence_duration_ms
    instructions = spec.instructions.strip()
    if extra_instructions:
        instructions += "\n\n" + extra_instructions.strip()
    session = {
        "type": "realtime",
        "instructions": instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": transcription_model},
                "turn_detection": detection,
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": spec.voice},
        },
        "tools": [tool.model_dump() for tool in build_tools(spec)],
        "tool_choice": "auto",
    }
    CLIENT_EVENT.validate_python({"type": "session.update", "session": session})
    return session
