"""The stand-in produces the event orders of real recorded sessions (fixtures: see
tests/fixtures/realtime/ATTRIBUTION.md), and those recordings pass our strict checks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from simulator.scenario import parse_scenario
from simulator.wire import check_client_event, check_server_event
from tests.simulator.sim_helpers import (
    FIXTURES,
    RIVERSIDE_TOOLS,
    SCENARIOS,
    caller_audio,
    open_call,
    phone_session,
    speak,
)

# Deltas arrive in varying counts and interleavings; transcription of the caller and
# rate limits arrive asynchronously. The skeleton of a turn is what must match.
_CONTENT_DELTAS = {
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
}
_CONTENT_DONE = {"response.output_audio.done", "response.output_audio_transcript.done", "response.output_text.done"}
_ASYNC = {
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "rate_limits.updated",
}


def skeleton(types: list[str]) -> list[str]:
    out: list[str] = []
    for kind in types:
        if kind in _ASYNC:
            continue
        token = "<content deltas>" if kind in _CONTENT_DELTAS else "<content done>" if kind in _CONTENT_DONE else kind
        if out and out[-1] == token and token.startswith(("<", "response.function_call_arguments.delta")):
            continue
        out.append(token)
    return out


def recording(name: str) -> list[dict]:
    return yaml.safe_load((FIXTURES / name).read_text())["interactions"]


def received_between(interactions: list[dict], first: str, last: str, occurrence: int = 0) -> list[str]:
    types = [i["data"]["type"] for i in interactions if i["direction"] == "received"]
    starts = [n for n, t in enumerate(types) if t == first]
    start = starts[occurrence]
    end = types.index(last, start)
    return skeleton(types[start : end + 1])


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: Path(p).stem)
def test_every_recorded_event_passes_the_strict_checks(path: Path) -> None:
    for interaction in recording(path.name):
        check = check_server_event if interaction["direction"] == "received" else check_client_event
        check(interaction["data"])


def test_audio_turn_with_server_vad_matches_the_recording() -> None:
    expected = received_between(
        recording("audio_in_server_vad_turn.yaml"), "input_audio_buffer.speech_started", "response.done"
    )

    async def main() -> list[str]:
        async with open_call(first_audio_ms=0) as (connection, reader):
            await connection.session.update(session=phone_session())  # type: ignore[arg-type]
            await reader.until("session.updated")
            await speak(connection, caller_audio("Hello, my name is Marcelo."))
            await reader.until("response.done")
            types = reader.types()
            return skeleton(types[types.index("input_audio_buffer.speech_started") :])

    assert asyncio.run(main()) == expected


def test_three_vad_turns_match_the_recording() -> None:
    interactions = recording("input_audio_retention_segments_three_server_vad_turns.yaml")
    expected = [
        received_between(interactions, "input_audio_buffer.speech_started", "response.done", n) for n in range(3)
    ]

    async def main() -> list[list[str]]:
        async with open_call(first_audio_ms=0) as (connection, reader):
            await connection.session.update(session=phone_session())  # type: ignore[arg-type]
            await reader.until("session.updated")
            turns = []
            for _ in range(3):
                start = len(reader.events)
                await speak(connection, caller_audio("Hello, my name is Marcelo."))
                await reader.until("response.done")
                turns.append(skeleton(reader.types()[start:]))
            return turns

    assert asyncio.run(main()) == expected


def test_tool_call_round_matches_the_recording() -> None:
    interactions = recording("tool_call_round.yaml")
    first = received_between(interactions, "response.created", "response.done")
    types = [i["data"]["type"] for i in interactions if i["direction"] == "received"]
    after_first = types.index("response.done") + 1
    second = skeleton(types[after_first : types.index("response.done", after_first) + 1])
    scenario = parse_scenario(
        {
            "agent": "../agents/riverside_clinic.yaml",
            "model": {"first_audio_ms": 0},
            "caller": {
                "turns": [
                    {"say": "Maria Lopez.", "means": {"caller_name": "Maria Lopez"}},
                    {"say": "Thanks.", "means": {}},
                ]
            },
        },
        SCENARIOS,
    )

    async def main() -> tuple[list[str], list[str]]:
        async with open_call(scenario) as (connection, reader):
            await connection.session.update(session=phone_session(RIVERSIDE_TOOLS))  # type: ignore[arg-type]
            await reader.until("session.updated")
            await speak(connection, caller_audio("Maria Lopez."))
            await reader.until("response.created")
            start = len(reader.events) - 1
            done = await reader.until("response.done")
            got_first = skeleton(reader.types()[start:])
            await reader.until("rate_limits.updated")
            call = done["response"]["output"][0]
            start = len(reader.events)
            await connection.conversation.item.create(
                item={"type": "function_call_output", "call_id": call["call_id"], "output": json.dumps("ok")}
            )
            await connection.response.create()
            await reader.until("response.done")
            return got_first, skeleton(reader.types()[start:])

    got_first, got_second = asyncio.run(main())
    assert got_first == first
    assert got_second == second
