"""Many agents behind one bridge: the dialled number picks the agent when the INVITE arrives, an
unknown number is refused with 404 and leaves no record, and a spec pushed between two calls
applies to the second only, with both versions' exact text archived.

One local world (one bridge, one moto, one stand-in model playing each agent's caller script by
the realtime model the agent names) carries every call of this module: short calls, run once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from simulator.caller import SimulatedCaller
from simulator.caller_result import CallerOptions, CallerResult
from simulator.local_stack import LOCAL_BUCKET
from simulator.local_world import LocalAgents, LocalWorld, start_local_world
from simulator.scenario import Scenario, load_scenario
from voice_agent.agent_registry import NumberPlan, agent_archive_key
from voice_agent.decisions import DecisionLine, ListSink
from voice_agent.record_store import CallMeta
from voice_agent.spec import spec_version

from ..conftest import ROOT

HERE = ROOT / "tests" / "bridge" / "routing"
CLINIC_SPEC = ROOT / "agents" / "riverside_clinic.yaml"
PLUMBING_SPEC = ROOT / "agents" / "plumbing_dispatch.yaml"
CLINIC, PLUMBING, UNKNOWN = "+12065550100", "+12065550101", "+12065550199"
CLINIC_V1 = CLINIC_SPEC.read_text(encoding="utf-8")
CLINIC_V2 = CLINIC_V1.replace("How can I help you today?", "What can I do for you?")
FLUSH_S = 60.0


@dataclass
class Calls:
    clinic: CallMeta
    plumbing: CallMeta
    unknown: CallerResult
    after_push: CallMeta
    fields: dict[str, set[str]]  # call id -> field names recorded
    decisions: list[DecisionLine]  # every line the bridge and the functions logged
    archived: dict[str, str]  # spec version -> archived text
    records_before_unknown: int
    records_after_unknown: int


async def _call(world: LocalWorld, script: Scenario, number: str) -> CallerResult:
    caller = SimulatedCaller(script, "127.0.0.1", world.sip_port, options=CallerOptions(callee=number))
    return await caller.run()


async def _answered(world: LocalWorld, script: Scenario, number: str) -> CallMeta:
    result = await _call(world, script, number)
    assert result.answered, result.failure_status
    call_id = await asyncio.wait_for(world.router.finished.get(), FLUSH_S)
    meta = await asyncio.to_thread(world.store.get_call, call_id)
    assert meta is not None
    return meta


async def _run() -> Calls:
    clinic, plumbing = load_scenario(HERE / "clinic_call.yaml"), load_scenario(HERE / "plumbing_call.yaml")
    sink = ListSink()
    agents = LocalAgents(
        {str(CLINIC_SPEC): CLINIC_V1, str(PLUMBING_SPEC): PLUMBING_SPEC.read_text(encoding="utf-8")},
        NumberPlan(numbers={CLINIC: "riverside-clinic", PLUMBING: "plumbing-dispatch"}),
    )
    by_model = {"gpt-realtime-2.1": clinic, "gpt-realtime-2.1-mini": plumbing}
    # route_ttl_s=0: the push below is seen by the very next INVITE (in service, within seconds).
    world = await start_local_world(agents, None, decision_sinks=(sink,), by_model=by_model, route_ttl_s=0)
    try:
        store, s3 = world.store, world.stack.client("s3")
        before = len(await asyncio.to_thread(store.scan_calls))
        unknown = await _call(world, clinic, UNKNOWN)
        after = len(await asyncio.to_thread(store.scan_calls))
        first, second = await asyncio.gather(_answered(world, clinic, CLINIC), _answered(world, plumbing, PLUMBING))
        if first.agent != "riverside-clinic":  # the two finish in either order
            first, second = second, first
        await asyncio.to_thread(world.registry.push, CLINIC_V2, source="clinic v2", label="shorter-greeting")
        third = await _answered(world, clinic, CLINIC)
        fields = {m.call_id: set(store.get_fields(m.call_id)) for m in (first, second, third)}
        archived = {}
        for version in {first.spec_version, third.spec_version}:
            assert version is not None
            key = agent_archive_key("riverside-clinic", version)
            archived[version] = s3.get_object(Bucket=LOCAL_BUCKET, Key=key)["Body"].read().decode()
        return Calls(first, second, unknown, third, fields, sink.lines, archived, before, after)
    finally:
        await world.close()


@pytest.fixture(scope="module")
def calls() -> Iterator[Calls]:
    yield asyncio.run(_run())


def test_two_numbers_reach_two_agents_through_one_bridge(calls: Calls) -> None:
    clinic, plumbing = calls.clinic, calls.plumbing
    assert (clinic.agent, plumbing.agent) == ("riverside-clinic", "plumbing-dispatch")
    assert clinic.spec_version == spec_version(CLINIC_V1)
    assert plumbing.spec_version == spec_version(PLUMBING_SPEC.read_text(encoding="utf-8"))
    # Each agent's own fields, recorded by its own tools (the plumbing spec has no caller_name).
    assert "caller_name" in calls.fields[clinic.call_id]
    assert {"customer_name", "problem"} <= calls.fields[plumbing.call_id]
    assert not calls.fields[plumbing.call_id] & {"caller_name", "date_of_birth"}


def test_every_decision_line_names_the_agent_and_version_of_its_call(calls: Calls) -> None:
    answered = {m.call_id: m for m in (calls.clinic, calls.plumbing, calls.after_push)}
    lines = [d for d in calls.decisions if d.call_id in answered]
    assert {d.call_id for d in lines} == set(answered)
    for d in lines:
        meta = answered[d.call_id]
        assert (d.agent, d.spec_version) == (meta.agent, meta.spec_version), d
    routed = [d for d in lines if d.decision == "routing"]
    assert sorted(d.agent or "" for d in routed) == ["plumbing-dispatch", "riverside-clinic", "riverside-clinic"]


def test_an_unknown_number_is_refused_and_leaves_no_record(calls: Calls) -> None:
    assert not calls.unknown.answered and calls.unknown.failure_status == 404
    assert calls.records_after_unknown == calls.records_before_unknown
    [refused] = [d for d in calls.decisions if d.decision == "routing" and d.verdict == "reject"]
    assert refused.agent is None and refused.masked and refused.masked.endswith("99")
    assert UNKNOWN not in refused.to_json()  # the number is masked like any value


def test_a_spec_pushed_between_calls_applies_to_the_next_call_only(calls: Calls) -> None:
    old, new = calls.clinic.spec_version, calls.after_push.spec_version
    assert (old, new) == (spec_version(CLINIC_V1), spec_version(CLINIC_V2))
    assert calls.archived == {old: CLINIC_V1, new: CLINIC_V2}  # both texts, exactly as pushed
