"""The deterministic checks over the tool log and transcript, each shown failing and holding."""

from __future__ import annotations

from typing import Any

from voice_agent.decisions import DecisionLine
from voice_agent.record_store import Turn
from voice_agent.record_view import CallRecord, RecordedField
from voice_agent.spec import AgentSpec
from voice_eval.checks import (
    asked_again_failures,
    ended_by_failures,
    evidence_failures,
    gate_failures,
    readback_failures,
)


def turn(seq: int, speaker: str, text: str) -> Turn:
    return Turn.model_validate({"call_id": "c", "seq": seq, "t_ms": seq * 1000, "speaker": speaker, "text": text})


def line(decision: str, verdict: str, reason: str = "r", **extra: Any) -> DecisionLine:
    return DecisionLine.model_validate(
        {"ts": 0, "call_id": "c", "decision": decision, "verdict": verdict, "reason": reason, **extra}
    )


def record(**fields: RecordedField) -> CallRecord:
    return CallRecord.model_validate({
        "call_id": "c", "agent": "a", "started_ms": 0, "status": "ENDED", "ended_by": "agent", "ended_reason": None,
        "ended_ms": 1, "language": "en", "category": None, "provider": None, "fields": fields, "missing_required": [],
    })  # fmt: skip


TRANSCRIPT = [
    turn(1, "agent", "Hello"),
    turn(2, "caller", "It's Maria Lopez, and March fourth."),
    turn(3, "agent", "Thanks"),
]


def test_every_stored_value_needs_evidence() -> None:
    dob = {"status": "value", "value": "1985-03-04", "source": "backfill", "turn_seq": 2}
    good = record(
        caller_name=RecordedField(status="value", value="Maria Lopez", source="live", turn_seq=2),
        date_of_birth=RecordedField.model_validate({**dob, "quote": "march fourth"}),
    )
    assert evidence_failures(good, TRANSCRIPT) == []
    bad = record(
        caller_name=RecordedField(status="value", value="Maria Lopez", source="live", turn_seq=1),
        date_of_birth=RecordedField.model_validate({**dob, "quote": "March 4th"}),
    )
    assert evidence_failures(bad, TRANSCRIPT) == [
        "no evidence: caller_name written live before any caller turn",
        "no evidence: date_of_birth backfilled without a verbatim caller quote",
    ]


def test_the_gate_is_never_bypassed() -> None:
    allow = line("end_call_gate", "allow")
    assert gate_failures("agent", [line("end_call_gate", "deny", missing=["caller_name"]), allow]) == []
    assert gate_failures("caller", []) == []
    assert gate_failures("agent", []) == ["gate bypassed: the agent ended the call without the gate's allow"]
    assert gate_failures("agent", [line("end_call_gate", "allow", missing=["x"])]) == [
        "gate bypassed: end allowed with required fields missing"
    ]


def test_a_read_back_field_written_live_must_be_verified(spec: AgentSpec) -> None:
    live = record(callback_number=RecordedField(status="value", value="+16175550142", source="live", turn_seq=2))
    verified = [line("readback", "retry", field="callback_number"), line("readback", "pass", field="callback_number")]
    assert readback_failures(spec, live, verified) == []
    assert readback_failures(spec, live, []) == ["read-back missing: callback_number"]
    assert readback_failures(spec, live, verified[:1]) == ["read-back not verified: callback_number (retry)"]
    backfilled = record(callback_number=RecordedField(status="value", value="+16175550142", source="backfill"))
    assert readback_failures(spec, backfilled, []) == []  # nobody left on the line to read it to


def test_the_right_party_ends_the_call() -> None:
    assert ended_by_failures("agent", caller_hangs_up=False) == []
    assert ended_by_failures("caller", caller_hangs_up=True) == []
    assert ended_by_failures("caller", caller_hangs_up=False) == ["ended by caller, expected the agent"]
    assert ended_by_failures(None, caller_hangs_up=True) == ["ended by no one, expected the caller"]


def test_no_field_is_asked_for_again_once_captured() -> None:
    name = line("tool_validation", "accept", "valid", field="caller_name")
    correction = line("tool_validation", "accept", "correction", field="caller_name")
    assert asked_again_failures([name, correction]) == []  # the caller corrected it: not asked again
    assert asked_again_failures([name, line("tool_validation", "accept", "valid", field="caller_name")]) == [
        "asked again: caller_name recorded twice with the same value"
    ]
    deny = line("end_call_gate", "deny", missing=["caller_name", "date_of_birth"])
    assert asked_again_failures([deny, name]) == []
    assert asked_again_failures([name, deny]) == ["asked again: caller_name named missing after it was captured"]
