"""Many agents behind one bridge: the dialled number picks the agent when the INVITE arrives, an
unknown number is refused with 404 and leaves no record, and a spec pushed between two calls
applies to the second only, with both versions' exact text archived.

One local world (one bridge, one moto, one stand-in model playing each agent's caller script by
the realtime model the agent names) carries every call of this module: short calls, run once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator.caller import SimulatedCaller
from simulator.caller_result import CallerOptions, CallerResult
from simulator.local_stack import LOCAL_BUCKET
from simulator.local_world import LocalAgents, LocalWorld, start_local_world
from simulator.scenario import Scenario, load_scenario
from voice_agent.agent_registry import NumberPlan, agent_archive_key
from voice_agent.archive_store import ArchiveStore, Kind, archive_key
from voice_agent.cost import Prices
from voice_agent.decisions import DecisionLine, ListSink
from voice_agent.record_store import CallMeta
from voice_agent.spec import spec_version
from voice_agent_cli.main import main

from ..conftest import ROOT

HERE = ROOT / "tests" / "bridge" / "routing"
CLINIC_SPEC = ROOT / "agents" / "riverside_clinic.yaml"
PLUMBING_SPEC = ROOT / "agents" / "plumbing_dispatch.yaml"
CLINIC, PLUMBING, UNKNOWN = "+12065550100", "+12065550101", "+12065550199"
CLINIC_V1 = CLINIC_SPEC.read_text(encoding="utf-8")
CLINIC_V2 = CLINIC_V1.replace("How can I help you today?", "What can I do for you?")
FLUSH_S = 60.0
KINDS: tuple[Kind, ...] = ("transcripts", "records", "decisions")


@dataclass
class Calls:
    clinic: CallMeta
    plumbing: CallMeta
    unknown: CallerResult
    after_push: CallMeta
    fields: dict[str, set[str]]  # call id -> field names recorded
    decisions: list[DecisionLine]  # every line the bridge and the functions logged
    archived: dict[str, str]  # spec version -> archived text
    unknown_items: int  # items in the calls table under the refused call's id
    archive_dir: Path  # the archive bucket's transcripts/, records/, decisions/, copied as files
    stamps: dict[str, dict[str, tuple[str, str | None] | None]]  # call id -> kind -> the object's header


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


def _stamp(files: ArchiveStore, key: str) -> tuple[str, str | None] | None:
    stamp = files.stamp_of(key)
    return (stamp.agent, stamp.spec_version) if stamp else None


def _copy_archive(s3: Any, root: Path, call_ids: set[str]) -> None:
    """These calls' files, in the bucket's layout: what `voice-agent audit --local` reads (the
    bucket also holds other tests' calls: moto's state is one per process)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LOCAL_BUCKET):
        for obj in page.get("Contents", []):
            if obj["Key"].rsplit("/", 1)[-1].split(".")[0] in call_ids:
                path = root / obj["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=LOCAL_BUCKET, Key=obj["Key"])["Body"].read())


async def _run(archive_dir: Path) -> Calls:
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
        unknown = await _call(world, clinic, UNKNOWN)
        refused = [d.call_id for d in sink.lines if d.decision == "routing"]
        items = await asyncio.to_thread(
            world.stack.table.query,
            KeyConditionExpression="call_id = :c",
            ExpressionAttributeValues={":c": refused[0] if refused else "none"},
        )
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
        await asyncio.to_thread(_copy_archive, s3, archive_dir, {m.call_id for m in (first, second, third)})
        files = ArchiveStore(s3, LOCAL_BUCKET)
        stamps = {
            m.call_id: {kind: _stamp(files, archive_key(kind, m.call_id, m.started_ms)) for kind in KINDS}
            for m in (first, second, third)
        }
        return Calls(
            first, second, unknown, third, fields, sink.lines, archived, len(items["Items"]), archive_dir, stamps
        )
    finally:
        await world.close()


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calls]:
    yield asyncio.run(_run(tmp_path_factory.mktemp("archive")))


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
    [refused] = [d for d in calls.decisions if d.decision == "routing" and d.verdict == "reject"]
    assert calls.unknown_items == 0  # no META, no turn, no decision under its id
    assert refused.agent is None and refused.masked and refused.masked.endswith("99")
    assert UNKNOWN not in refused.to_json()  # the number is masked like any value


def test_a_spec_pushed_between_calls_applies_to_the_next_call_only(calls: Calls) -> None:
    old, new = calls.clinic.spec_version, calls.after_push.spec_version
    assert (old, new) == (spec_version(CLINIC_V1), spec_version(CLINIC_V2))
    assert calls.archived == {old: CLINIC_V1, new: CLINIC_V2}  # both texts, exactly as pushed


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["audit", *args, "--format", "json"]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows


def test_records_carry_usage_and_cost_priced_with_the_prices_date(calls: Calls) -> None:
    for meta in (calls.clinic, calls.plumbing, calls.after_push):
        record = json.loads(next(calls.archive_dir.glob(f"records/date=*/{meta.call_id}.json")).read_text())
        usage, cost = record["usage"], record["cost"]
        assert record["spec_version"] == meta.spec_version and record["agent"] == meta.agent
        assert usage["audio_in"] > 0 and usage["audio_out"] > 0 and usage["transcription_ms"] > 0
        assert usage["post_call_in"] > 0 and usage["call_ms"] > 0  # the pass asked for the missing fields
        assert cost["prices_set_on"] == Prices().set_on.isoformat()
        parts = cost["realtime_usd"] + cost["transcription_usd"] + cost["post_call_usd"] + cost["telephony_usd"]
        assert min(cost["realtime_usd"], cost["transcription_usd"], cost["post_call_usd"]) > 0
        assert record["cost_usd"] == cost["total_usd"] == pytest.approx(parts, abs=1e-5)


def test_cost_by_agent_answers_per_agent_per_day_from_the_archive_files(
    calls: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _audit(capsys, "cost_by_agent", "--local", str(calls.archive_dir))
    by_agent = {r["agent"]: r for r in rows}
    assert {(a, r["calls"]) for a, r in by_agent.items()} == {("riverside-clinic", 2), ("plumbing-dispatch", 1)}
    records = [json.loads(p.read_text()) for p in calls.archive_dir.glob("records/date=*/*.json")]
    for agent, row in by_agent.items():
        mine = [r for r in records if r["agent"] == agent]
        assert {row["call_date"]} == {
            archive_key("records", r["call_id"], r["started_ms"]).split("/")[1][5:] for r in mine
        }
        assert row["total_usd"] == pytest.approx(sum(r["cost_usd"] for r in mine), abs=1e-4)
        assert row["minutes"] == pytest.approx(sum(r["call_seconds"] for r in mine) / 60, abs=0.01)
        assert row["prices_set_on"] == Prices().set_on.isoformat()
    # One agent's calls, and only its calls: the agent is the query's parameter.
    plumbing = _audit(capsys, "agent_calls", "plumbing-dispatch", "--local", str(calls.archive_dir))
    assert [(r["call_id"], r["spec_version"]) for r in plumbing] == [
        (calls.plumbing.call_id, calls.plumbing.spec_version)
    ]
    capsys.readouterr()
    assert main(["calls", "--local", str(calls.archive_dir), "--json", "list", "--agent", "riverside-clinic"]) == 0
    listed = {r["call_id"] for r in json.loads(capsys.readouterr().out)}
    assert listed == {calls.clinic.call_id, calls.after_push.call_id}


def test_archived_call_files_name_the_agent_and_version_in_their_header(calls: Calls) -> None:
    """Every object of a call (transcript, record, decisions) carries x-amz-meta-agent and
    x-amz-meta-spec-version: an auditor reads which instructions the model had from the object."""
    assert calls.stamps == {
        m.call_id: {kind: (m.agent, m.spec_version) for kind in KINDS}
        for m in (calls.clinic, calls.plumbing, calls.after_push)
    }
