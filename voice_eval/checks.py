"""The deterministic checks over one call's tool log (decision lines), transcript and record.

Beside the per-field outcomes (scoring.py), each of these can fail a run on its own, and none needs
an LLM: every stored value has evidence (live: a caller turn at or before the tool call; backfill:
its quote verbatim in a caller turn); the end-of-call gate was never bypassed; every read-back
field written live was read back and verified; the call was ended by the right party; no field was
asked for again after it was captured. Structure only: turn order, decision lines, verbatim quotes.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from voice_agent.decisions import DecisionLine
from voice_agent.evidence import normalise
from voice_agent.record_store import Turn
from voice_agent.record_view import CallRecord
from voice_agent.spec import AgentSpec


def evidence_failures(record: CallRecord, transcript: Sequence[Turn]) -> list[str]:
    caller = [t for t in transcript if t.speaker == "caller"]
    found = []
    for name, f in record.fields.items():
        if f.status != "value":
            continue
        if f.source == "live":
            if f.turn_seq is None or not any(t.seq <= f.turn_seq for t in caller):
                found.append(f"no evidence: {name} written live before any caller turn")
        elif f.source == "backfill":
            quote = normalise(f.quote or "")
            if not quote or not any(quote in normalise(t.text) for t in caller):
                found.append(f"no evidence: {name} backfilled without a verbatim caller quote")
    return found


def gate_failures(ended_by: str | None, decisions: Sequence[DecisionLine]) -> list[str]:
    """The agent may only end a call through the gate: an `allow` with nothing required missing."""
    gate = [d for d in decisions if d.decision == "end_call_gate"]
    if any(d.verdict == "allow" and d.missing for d in gate):
        return ["gate bypassed: end allowed with required fields missing"]
    if ended_by == "agent" and not any(d.verdict == "allow" for d in gate):
        return ["gate bypassed: the agent ended the call without the gate's allow"]
    return []


def readback_failures(spec: AgentSpec, record: CallRecord, decisions: Sequence[DecisionLine]) -> list[str]:
    found = []
    for field in spec.fields:
        got = record.fields.get(field.name)
        if not field.read_back or got is None or got.status != "value" or got.source != "live":
            continue
        verdicts = [d.verdict for d in decisions if d.decision == "readback" and d.field == field.name]
        if not verdicts:
            found.append(f"read-back missing: {field.name}")
        elif verdicts[-1] != "pass":
            found.append(f"read-back not verified: {field.name} ({verdicts[-1]})")
    return found


def ended_by_failures(ended_by: str | None, caller_hangs_up: bool) -> list[str]:
    """A caller who means to hang up ends the call; otherwise the agent closes it, never the system."""
    expected = "caller" if caller_hangs_up else "agent"
    return [] if ended_by == expected else [f"ended by {ended_by or 'no one'}, expected the {expected}"]


def asked_again_failures(decisions: Sequence[DecisionLine]) -> list[str]:
    """After a field is captured: the gate steering the model to ask for it (its deny names it as
    missing), or the same value written again (the caller was asked and said it again: the tool
    logs a rewrite of the stored value as `valid`, a different one as `correction`)."""
    captured: set[str] = set()
    found: list[str] = []
    for d in decisions:
        if d.decision == "tool_validation" and d.verdict == "accept" and d.field:
            if d.field in captured and d.reason == "valid":
                found.append(f"asked again: {d.field} recorded twice with the same value")
            captured.add(d.field)
        elif d.decision == "end_call_gate" and d.verdict == "deny":
            found += [f"asked again: {n} named missing after it was captured" for n in d.missing or [] if n in captured]
    return list(dict.fromkeys(found))
