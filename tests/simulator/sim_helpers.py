"""Shared test plumbing: start the stand-in, point the unmodified SDK at it, speak, read."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosed

from simulator import mulaw, server, speech
from simulator.wire import check_server_event

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
FIXTURES = ROOT / "tests" / "fixtures" / "realtime"


def function_tool(name: str, **properties: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": f"Test tool {name}.",
        "parameters": {
            "type": "object",
            "properties": {key: {"type": kind} for key, kind in properties.items()},
            "required": list(properties),
            "additionalProperties": False,
        },
    }


RIVERSIDE_TOOLS = [
    function_tool("record_caller_name", value="string"),
    function_tool("record_date_of_birth", value="string"),
    function_tool("record_callback_number", value="string"),
    function_tool("record_reason", value="string"),
    function_tool("categorize_call", category="string"),
    function_tool("resolve_provider", spoken_name="string"),
    function_tool("decline_field", field="string", quote="string"),
    function_tool("set_language", language="string"),
    function_tool("end_call", reason="string"),
]


def phone_session(tools: list[dict[str, Any]] | None = None, *, silence_ms: int = 400, **vad: Any) -> dict[str, Any]:
    """The session our bridge asks for: PCMU both ways, server VAD, caller transcription."""
    return {
        "type": "realtime",
        "instructions": "You answer the phone.",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "gpt-realtime-whisper"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": silence_ms, **vad},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
        "tools": tools if tools is not None else [],
    }


def caller_audio(text: str, lead_ms: int = 200, tail_ms: int = 700) -> bytes:
    return mulaw.silence(lead_ms) + speech.synthesize(text, "synthetic") + mulaw.silence(tail_ms)


@contextlib.asynccontextmanager
async def running(scenario: Any = None, **options: Any) -> AsyncIterator[server.SimulatorHandle]:
    options.setdefault("speed", 40.0)
    options.setdefault("engine", "synthetic")
    handle = await server.start(scenario=scenario, **options)
    try:
        yield handle
    finally:
        await handle.close()


def sdk_client(handle: server.SimulatorHandle) -> AsyncOpenAI:
    # Exactly how production code builds its client; only the base URLs differ.
    return AsyncOpenAI(api_key="sk-test", websocket_base_url=handle.url, base_url=handle.http_url, max_retries=0)


class Reader:
    """Reads raw events off an SDK connection, validating each one strictly."""

    def __init__(self, connection: AsyncRealtimeConnection) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def next(self) -> dict[str, Any]:
        import json

        raw = await self.connection.recv_bytes()
        data = json.loads(raw)
        check_server_event(data)  # a violation fails the test right here
        self.events.append(data)
        return data

    async def until(self, kind: str, **match: Any) -> dict[str, Any]:
        while True:
            event = await self.next()
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    async def until_closed(self) -> int:
        try:
            while True:
                await self.next()
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
            return self.close_code or 1006

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


async def speak(
    connection: AsyncRealtimeConnection, audio: bytes, frame_ms: int = 20, bytes_per_ms: int = mulaw.BYTES_PER_MS
) -> None:
    step = frame_ms * bytes_per_ms
    for start in range(0, len(audio), step):
        await connection.input_audio_buffer.append(audio=base64.b64encode(audio[start : start + step]).decode())


class CallLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.agent_lines: list[list[str]] = []  # per response: the transcripts of its audio items
        self.reader: Reader | None = None


async def run_scripted_call(handle: server.SimulatorHandle, scenario: Any, closing: str = "Goodbye now.") -> CallLog:
    """A minimal bridge: greets, speaks each turn, answers every tool call with a short
    result, and after end_call asks for the closing line exactly."""
    import json

    log = CallLog()
    async with sdk_client(handle).realtime.connect(model="gpt-realtime") as connection:
        reader = Reader(connection)
        log.reader = reader
        await connection.session.update(session=phone_session(RIVERSIDE_TOOLS))  # type: ignore[arg-type]
        await reader.until("session.updated")

        async def finish_response() -> dict[str, Any]:
            done = await reader.until("response.done")
            await reader.until("rate_limits.updated")
            log.agent_lines.append(
                [
                    part["transcript"]
                    for item in done["response"]["output"]
                    if item["type"] == "message"
                    for part in item["content"]
                ]
            )
            return done

        await connection.response.create(response={"instructions": "Say exactly: Thanks for calling."})
        await finish_response()
        for turn in scenario.caller.spoken_turns:
            await speak(connection, caller_audio(turn.say))
            while True:
                done = await finish_response()
                calls = [o for o in done["response"]["output"] if o["type"] == "function_call"]
                if not calls:
                    break
                ended = False
                for call in calls:
                    log.calls.append((call["name"], json.loads(call["arguments"])))
                    ended = ended or call["name"] == "end_call"
                    await connection.conversation.item.create(
                        item={"type": "function_call_output", "call_id": call["call_id"], "output": "recorded"}
                    )
                if ended and len(log.calls) and turn is scenario.caller.spoken_turns[-1]:
                    await connection.response.create(response={"instructions": f"Say exactly: {closing}"})
                    await finish_response()
                    return log
                await connection.response.create()
    return log


@contextlib.asynccontextmanager
async def open_call(scenario: Any = None, **options: Any) -> AsyncIterator[tuple[AsyncRealtimeConnection, Reader]]:
    """A running stand-in and one SDK connection to it, with a strict reader."""
    async with (
        running(scenario, **options) as handle,
        sdk_client(handle).realtime.connect(model="gpt-realtime") as connection,
    ):
        yield connection, Reader(connection)
