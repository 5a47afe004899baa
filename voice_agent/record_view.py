"""The office-facing record of one call, assembled from the store (for S3, the CLI and auditors).

A field's `evidence` names the rule that accepted a backfilled value (docs/evidence.md);
`caller_wording` means the value is the caller's own words, `summary` that it paraphrases them.
A `candidate` is what the post-call pass found but could not prove: the field stays missing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from .cost import CostBreakdown, Usage
from .end_call_gate import missing_required
from .record_store import CallMeta, Candidate, FieldValue
from .spec import AgentSpec


class CandidateView(BaseModel):
    value: str
    quote: str
    turn_seq: int
    reason: str  # why it is not a value: "unverified structure: ..."
    numerals: str | None = None


class RecordedField(BaseModel):
    status: Literal["value", "declined", "missing"]
    value: str | None = None
    source: Literal["live", "backfill"] | None = None
    quote: str | None = None
    turn_seq: int | None = None
    corrections: int = 0
    evidence: str | None = None
    candidate: CandidateView | None = None  # only next to a field without a value


class CallRecord(BaseModel):
    call_id: str
    agent: str
    spec_version: str | None = None  # the agent spec version the call ran with (agents/<agent>/<version>.yaml)
    started_ms: int
    status: str
    ended_by: str | None
    ended_reason: str | None
    ended_ms: int | None
    cost_usd: float | None = None  # cost.total_usd, once the bridge reports the usage
    cost: CostBreakdown | None = None  # realtime, transcription, post-call, telephony; the prices' date
    usage: Usage | None = None
    call_seconds: float | None = None
    language: str | None
    category: str | None
    provider: str | None
    fields: dict[str, RecordedField]
    missing_required: list[str]


def build_record(
    spec: AgentSpec, meta: CallMeta, fields: dict[str, FieldValue], candidates: dict[str, Candidate] | None = None
) -> CallRecord:
    out: dict[str, RecordedField] = {}
    for f in spec.fields:
        v = fields.get(f.name)
        if v is not None:
            out[f.name] = RecordedField(
                status=v.status,
                value=v.value,
                source=v.source,
                quote=v.quote,
                turn_seq=v.turn_seq,
                corrections=v.corrections,
                evidence=v.evidence,
            )
            continue
        c = (candidates or {}).get(f.name)
        seen = CandidateView.model_validate(c.model_dump()) if c else None  # drops name, time
        out[f.name] = RecordedField(status="missing", candidate=seen)
    return CallRecord(
        call_id=meta.call_id,
        agent=meta.agent,
        spec_version=meta.spec_version,
        started_ms=meta.started_ms,
        status=meta.status,
        ended_by=meta.ended_by,
        ended_reason=meta.ended_reason,
        ended_ms=meta.ended_ms,
        cost_usd=meta.cost_usd,
        cost=CostBreakdown.model_validate(meta.cost) if meta.cost else None,
        usage=Usage.model_validate(meta.usage) if meta.usage else None,
        call_seconds=meta.usage["call_ms"] / 1000 if meta.usage and "call_ms" in meta.usage else None,
        language=meta.language,
        category=meta.category,
        provider=meta.provider,
        fields=out,
        missing_required=[f.name for f in missing_required(spec, fields)],
    )
