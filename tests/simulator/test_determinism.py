"""Same scenario and seed, same event sequence; another seed, other identifiers."""

from __future__ import annotations

import asyncio

from simulator.scenario import load_scenario
from tests.simulator.sim_helpers import SCENARIOS, run_scripted_call, running


def events_of(seed: int) -> list[dict]:
    scenario = load_scenario(SCENARIOS / "misread_digits.yaml")

    async def main() -> list[dict]:
        async with running(scenario, seed=seed, speed=60.0, first_audio_ms=0) as handle:
            log = await run_scripted_call(handle, scenario)
            assert log.reader is not None
            return log.reader.events

    events = asyncio.run(main())
    for event in events:
        if event["type"] in ("session.created", "session.updated"):
            event["session"].pop("expires_at")  # wall-clock epoch: the one thing allowed to differ
    return events


def test_same_scenario_and_seed_give_the_same_event_sequence() -> None:
    first, second = events_of(5), events_of(5)
    assert len(first) > 100
    assert first == second


def test_another_seed_gives_other_ids_but_the_same_conversation() -> None:
    a, b = events_of(5), events_of(6)
    assert [e["type"] for e in a] == [e["type"] for e in b]
    assert a[0]["session"]["id"] != b[0]["session"]["id"]
