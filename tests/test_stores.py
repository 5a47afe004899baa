"""Record store and archive against moto server mode: backfill never overwrites, turns persist
in order, stale live calls are findable, the S3 layout is the one Athena reads."""

from __future__ import annotations

import json
import uuid

from simulator.local_stack import LOCAL_BUCKET, LocalStack
from voice_agent.archive_store import ArchiveStore, archive_key
from voice_agent.decisions import CallbackSink, DecisionLog, ListSink, mask
from voice_agent.record_store import FieldValue, RecordStore, Turn


def test_backfill_never_overwrites_a_live_value(store: RecordStore, call_id: str) -> None:
    live = FieldValue(name="reason", status="value", value="Refill", source="live", recorded_ms=1)
    assert store.put_field(call_id, live)
    backfill = FieldValue(name="reason", status="value", value="Other", source="backfill", quote="q", recorded_ms=2)
    assert store.put_field(call_id, backfill, only_if_empty=True) is False
    assert store.get_fields(call_id)["reason"].value == "Refill"
    other = backfill.model_copy(update={"name": "caller_name", "value": "Ana Ruiz"})
    assert store.put_field(call_id, other, only_if_empty=True) is True
    assert store.get_fields(call_id)["caller_name"].source == "backfill"


def test_turns_come_back_in_order(store: RecordStore, call_id: str) -> None:
    for seq in (2, 10, 1):
        store.append_turn(Turn(call_id=call_id, seq=seq, t_ms=seq * 100, speaker="caller", text=f"turn {seq}"))
    assert [t.seq for t in store.turns(call_id)] == [1, 2, 10]


def test_stale_live_calls_are_found_until_the_call_ends(store: RecordStore, call_id: str) -> None:
    meta = store.get_call(call_id)
    assert meta is not None
    store.heartbeat(call_id, meta.started_ms + 5_000)
    assert call_id not in [c.call_id for c in store.stale_live_calls(meta.started_ms + 1_000)]
    assert call_id in [c.call_id for c in store.stale_live_calls(meta.started_ms + 60_000)]
    assert store.transition_gate(call_id, meta.gate_version, "ENDED", ended_by="caller")
    assert call_id not in [c.call_id for c in store.stale_live_calls(meta.started_ms + 60_000)]


def test_call_start_is_idempotent(store: RecordStore, call_id: str) -> None:
    first = store.get_call(call_id)
    assert first is not None
    assert store.create_call(call_id, "other", first.started_ms + 1, "es") == first


def test_archive_layout_is_partitioned_by_date(local_stack: LocalStack, store: RecordStore, call_id: str) -> None:
    started_ms = 1_780_000_000_000  # 2026-05-28 UTC
    assert archive_key("transcripts", "c1", started_ms) == "transcripts/date=2026-05-28/c1.jsonl"
    assert archive_key("records", "c1", started_ms) == "records/date=2026-05-28/c1.json"
    archive = ArchiveStore(local_stack.client("s3"), LOCAL_BUCKET)
    turns = [Turn(call_id=call_id, seq=1, t_ms=0, speaker="agent", text="Hello")]
    key = archive.put_transcript(call_id, started_ms, turns)
    assert archive.get_transcript(call_id, started_ms) == turns
    line = json.loads(archive.get_text(key))
    assert set(line) == {
        "call_id",
        "seq",
        "t_ms",
        "speaker",
        "text",
        "item_id",
        "interrupted",
        "heard_ms",
        "untranscribed",
    }


def test_decisions_are_collected_per_call_and_mask_values(store: RecordStore, call_id: str) -> None:
    sink = ListSink()
    log = DecisionLog(sink, CallbackSink(store.append_decision))
    log.record(call_id, "tool_validation", "accept", "valid", field="callback_number", masked=mask("+16175550142"))
    [line] = store.decisions(call_id)
    assert line == sink.lines[0]
    assert "6175550142" not in line.to_json() and '"field":"callback_number"' in line.to_json()


def test_decision_lines_refuse_unknown_keys() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DecisionLog(ListSink()).record("c1", "readback", "pass", "ok", value="+16175550142")


def test_one_agents_calls_come_from_an_index_partitioned_by_agent(store: RecordStore) -> None:
    """A query for one agent cannot return another's calls: the agent is the index's partition."""
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    other = f"agent-{uuid.uuid4().hex[:8]}"
    mine = [f"CAmine{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for i, call_id in enumerate(mine):
        store.create_call(call_id, agent, 1_700_000_000_000 + i, "en", "0123456789abcdef")
    store.create_call(f"CAother{uuid.uuid4().hex[:8]}", other, 1_700_000_000_001, "en", "fedcba9876543210")
    found = store.agent_calls(agent)
    assert [m.call_id for m in found] == mine[::-1]  # newest first
    assert {m.spec_version for m in found} == {"0123456789abcdef"}
    assert [m.call_id for m in store.agent_calls(agent, since_ms=1_700_000_000_002)] == [mine[2]]
