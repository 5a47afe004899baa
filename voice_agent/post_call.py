"""The post-call pass: after the call, the record has one owner, and it is this.

`Reconciler.reconcile(call_id)` for an ENDED call:
  1. claims the call with a conditional marker on its META item (see below);
  2. lists the required fields holding neither a value nor a quoted refusal; none -> no LLM call;
  3. otherwise makes ONE extraction request through the `openai` SDK for exactly those fields
     (docs/CONTRACTS-internal.md), retried with backoff on transient errors;
  4. verifies every answer (evidence.py) and writes only what passes, each write conditional on
     the field still being empty (backfill-only: a live value is never overwritten); an answer whose
     quote is the caller's but cannot prove its structure is kept as a candidate, never a value;
  5. writes the final record and the call's decisions to S3 and emits RecordReconciled.

Idempotency under at-least-once delivery: a conditional marker on the call's META item rather
than Powertools idempotency on a second table. The marker sits next to the data it guards, is
one conditional UpdateItem, keeps the outcome visible to `voice-agent calls`, and does not
expire: a delivery days later is still a no-op. `reconcile_state`:
  absent | failed -> claimable;  running -> claimable only once its lease (the Lambda's remaining
  time) has lapsed, so a killed invocation never blocks the retry;  reconciled -> final, unless a
  newer PASS_VERSION is deployed (then an EventBridge archive replay re-runs the pass on purpose).
Every write a pass makes before failing is a verified, conditional backfill, so a retry simply
finds fewer missing fields: no partial write blocks it.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import openai
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from .archive_store import ArchiveStore, CallStamp
from .call_runtime import CallRuntime
from .cost import Prices, Usage
from .decisions import mask
from .end_call_gate import UnknownCall, missing_required
from .event_bus import BusPublisher
from .evidence import Accepted, Candidate, Claim, verify
from .record_store import CallMeta, FieldValue, Turn
from .record_store import Candidate as StoredCandidate
from .record_view import build_record
from .spec import FieldSpec, FieldType

PASS_VERSION = 2  # bump when the pass changes meaningfully: replayed CallEnded events then re-run it
DEFAULT_LEASE_MS = 15 * 60 * 1000  # Lambda's longest timeout: a lease never outlives its holder
SYSTEM_PROMPT = (
    "You read the transcript of a phone call and extract the fields you are asked for. "
    "For each field, return the value as the caller gave it and the caller's exact words that say it "
    "(`quote`, copied verbatim from ONE caller turn) with that turn's `seq`. Only caller turns count. "
    "For a field whose evidence is `extractive`, the value is the caller's own words; for `summary` it "
    "may be a short summary, but the quote is still the caller's exact words. "
    "Also return `numerals`: the quote with every number the caller said written in numerals "
    "(for example a date or phone number said in words), or null if it has no numbers. "
    "If the caller never said it, return null for value, quote, seq and numerals. Dates as YYYY-MM-DD."
)


class NotEnded(RuntimeError):
    """The call is still live: the pass never races the live call (the event is retried)."""


class ReconcileInProgress(RuntimeError):
    """Another delivery holds the call's pass; raised by the handler so Lambda retries later."""


class ExtractionFailed(RuntimeError):
    pass


class ExtractionAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fields: dict[str, Claim]


class ReconcileOutcome(BaseModel):
    call_id: str
    status: Literal["reconciled", "duplicate", "in_progress"]
    llm_requests: int = 0
    backfilled: list[str] = []
    candidates: list[str] = []  # found in the caller's words, structure unproven: not values
    rejected: list[str] = []
    still_missing: list[str] = []


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 8.0
    timeout_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


# Transient failures worth another attempt; anything else (bad key, bad request) fails at once.
_RETRYABLE = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError, openai.ConflictError)


BackfillResult = Literal["backfilled", "candidate", "rejected"]


class MalformedAnswer(ValueError):
    pass


def extraction_schema(names: Sequence[str]) -> dict[str, Any]:
    """Strict structured-output schema: exactly the asked fields, each {value, quote, seq, numerals}."""
    item = {
        "type": "object",
        "properties": {
            "value": {"type": ["string", "null"]},
            "quote": {"type": ["string", "null"]},
            "seq": {"type": ["integer", "null"]},
            "numerals": {"type": ["string", "null"]},
        },
        "required": ["value", "quote", "seq", "numerals"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "fields": {
                "type": "object",
                "properties": {n: item for n in names},
                "required": list(names),
                "additionalProperties": False,
            }
        },
        "required": ["fields"],
        "additionalProperties": False,
    }


def extraction_request(fields: Sequence[FieldSpec], turns: Sequence[Turn]) -> str:
    """The last user message's content, per the contract."""
    return json.dumps(
        {
            "fields": [
                {"name": f.name, "type": f.type.value, "description": f.description}
                | ({"evidence": f.evidence.value} if f.type is FieldType.TEXT else {})
                for f in fields
            ],
            "transcript": [{"seq": t.seq, "speaker": t.speaker, "text": t.text} for t in turns],
        },
        ensure_ascii=False,
    )


@dataclass
class Reconciler:
    """One post-call pass. `runtime.log` must persist decisions to the store (functions.common does):
    the S3 decisions file is read back from there."""

    runtime: CallRuntime
    archive: ArchiveStore
    bus: BusPublisher
    llm: openai.OpenAI
    model: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    prices: Prices = field(default_factory=Prices)

    def reconcile(self, call_id: str, lease_ms: int | None = None) -> ReconcileOutcome:
        store = self.runtime.store
        meta = store.get_call(call_id)
        if meta is None:
            raise UnknownCall(call_id)
        if meta.status != "ENDED":
            raise NotEnded(f"call {call_id} is {meta.status}; reconciliation waits for ENDED")
        now = self.runtime.clock_ms()
        token = uuid.uuid4().hex
        if not store.claim_reconcile(call_id, token, now, now + (lease_ms or DEFAULT_LEASE_MS), PASS_VERSION):
            current = store.get_call(call_id)
            busy = current is not None and current.reconcile_state == "running"
            return ReconcileOutcome(call_id=call_id, status="in_progress" if busy else "duplicate")
        try:
            return self._run(meta, token)
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"[:500]
            # Best effort: if the store is what failed, the lease lapses and a retry takes over;
            # the original error is the one the DLQ must carry.
            with contextlib.suppress(Exception):
                self.runtime.log.record(call_id, "reconcile", "fail", reason)
            with contextlib.suppress(Exception):
                store.finish_reconcile(call_id, token, "failed", reconcile_error=reason)
            raise

    def _run(self, meta: CallMeta, token: str) -> ReconcileOutcome:
        spec, store, log = self.runtime.spec, self.runtime.store, self.runtime.log
        call_id = meta.call_id
        missing = missing_required(spec, store.get_fields(call_id))
        outcome = ReconcileOutcome(call_id=call_id, status="reconciled")
        spent = Usage()
        if missing:
            turns = self._transcript(meta)
            answer, outcome.llm_requests = self._extract(call_id, missing, turns, spent)
            into = {"backfilled": outcome.backfilled, "candidate": outcome.candidates, "rejected": outcome.rejected}
            for f in missing:
                into[self._backfill(call_id, f, answer.fields.get(f.name) or Claim(), turns)].append(f.name)
            asked = {f.name for f in missing}
            for extra in (n for n in answer.fields if n not in asked and spec.field(n)):
                # Only missing fields were asked for; an answer for any other is never written.
                log.record(
                    call_id, "backfill", "reject", "backfill_only: not asked (not missing); backfill never overwrites",
                    field=extra, masked=mask(answer.fields[extra].value),
                )  # fmt: skip
        self._price(store.get_call(call_id) or meta, spent)
        record = build_record(
            spec, store.get_call(call_id) or meta, store.get_fields(call_id), store.get_candidates(call_id)
        )
        outcome.still_missing = record.missing_required
        if missing:
            reason = f"backfilled {len(outcome.backfilled)} of {len(missing)} missing required fields"
            if outcome.candidates:
                reason += f"; {len(outcome.candidates)} kept as unverified candidates (still missing)"
        else:
            reason = "every required field was satisfied live; no extraction needed"
        log.record(call_id, "reconcile", "pass" if missing else "noop", reason, missing=outcome.still_missing or None)
        now = self.runtime.clock_ms()
        summary = {"pass": PASS_VERSION, "reconciled_ms": now, "llm_requests": outcome.llm_requests}
        done = {"backfilled": outcome.backfilled, "candidates": outcome.candidates}
        body = record.model_dump(mode="json") | {"reconciliation": summary | done}
        stamp = CallStamp.of(meta)
        self.archive.put_record(call_id, meta.started_ms, body, stamp=stamp)
        self.archive.put_decisions(call_id, meta.started_ms, store.decisions(call_id), stamp=stamp)
        self.bus.publish("RecordReconciled", {"call_id": call_id, "backfilled": outcome.backfilled})
        # Marked last: a crash before this leaves the call claimable, and the rewrites above are idempotent.
        store.finish_reconcile(call_id, token, "reconciled", reconciled_ms=now)
        return outcome

    def _transcript(self, meta: CallMeta) -> list[Turn]:
        """The archived transcript when the bridge (or the reaper) wrote one, else the per-turn store."""
        try:
            turns = self.archive.get_transcript(meta.call_id, meta.started_ms)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            turns = self.runtime.store.turns(meta.call_id)
        return sorted(turns, key=lambda t: t.seq)

    def _price(self, meta: CallMeta, spent: Usage) -> None:
        """The call's cost with this pass's tokens: the bridge priced the session and the minutes;
        the pass's own tokens are set (not added), so a pass run again does not count twice."""
        usage = Usage.model_validate(meta.usage or {})
        usage.post_call_in, usage.post_call_out = spent.post_call_in, spent.post_call_out
        cost = usage.cost(self.prices)
        self.runtime.store.set_meta(
            meta.call_id, usage=usage.model_dump(), cost=cost.stored(), cost_usd=Decimal(str(cost.total_usd))
        )

    def _extract(
        self, call_id: str, fields: list[FieldSpec], turns: list[Turn], spent: Usage
    ) -> tuple[ExtractionAnswer, int]:
        names = [f.name for f in fields]
        # Retries are ours (counted, logged, injectable sleep), so the SDK's own are switched off.
        client = self.llm.with_options(max_retries=0, timeout=self.retry.timeout_s)
        for attempt in range(1, self.retry.attempts + 1):
            try:
                completion = client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": extraction_request(fields, turns)},
                    ],
                    response_format={
                        "type": "json_schema",
                        "json_schema": {
                            "name": "post_call_extraction",
                            "strict": True,
                            "schema": extraction_schema(names),
                        },
                    },
                )
                if completion.usage is not None:
                    spent.add_post_call(completion.usage)  # tokens are billed whatever the answer holds
                content = completion.choices[0].message.content if completion.choices else None
                if not content:
                    raise MalformedAnswer("the answer has no content")
                try:
                    return ExtractionAnswer.model_validate_json(content), attempt
                except ValidationError as err:
                    raise MalformedAnswer(
                        f"the answer does not match the contract ({err.error_count()} errors)"
                    ) from err
            except (*_RETRYABLE, MalformedAnswer) as err:
                if attempt == self.retry.attempts:
                    raise ExtractionFailed(f"extraction failed after {attempt} attempts: {_describe(err)}") from err
                delay = self.retry.delay(attempt)
                self.runtime.log.record(
                    call_id, "reconcile", "retry", f"extraction attempt failed ({_describe(err)}); retry in {delay:g}s",
                    attempt=attempt,
                )  # fmt: skip
                self.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _backfill(self, call_id: str, f: FieldSpec, claim: Claim, turns: list[Turn]) -> BackfillResult:
        """Verify one answer; write it if it holds and the field is still empty, keep it as a candidate
        if only its structure is unproven. One decision line. Returns backfilled|candidate|rejected."""
        log, store = self.runtime.log, self.runtime.store
        result = verify(f, claim, turns)
        if isinstance(result, Candidate):
            kept = StoredCandidate(
                name=f.name, value=result.value, quote=result.quote, turn_seq=result.turn_seq,
                reason=result.label, numerals=claim.numerals, recorded_ms=self.runtime.clock_ms(),
            )  # fmt: skip
            store.put_candidate(call_id, kept)
            log.record(
                call_id, "backfill", "unverified", result.reason, field=f.name, masked=mask(result.value),
                turn_seq=result.turn_seq,
            )  # fmt: skip
            return "candidate"
        if not isinstance(result, Accepted):
            log.record(
                call_id, "backfill", "reject", result.reason, field=f.name, masked=mask(claim.value),
                turn_seq=result.turn_seq,
            )  # fmt: skip
            return "rejected"
        value = FieldValue(
            name=f.name,
            status="value",
            value=result.value,
            quote=result.quote,
            source="backfill",
            turn_seq=result.turn_seq,
            recorded_ms=self.runtime.clock_ms(),
            evidence=result.rule.value,
        )
        if not store.put_field(call_id, value, only_if_empty=True):
            log.record(
                call_id, "backfill", "reject",
                "backfill_only: the field already holds a live entry (written during the pass); "
                "backfill never overwrites",
                field=f.name, masked=mask(result.value), turn_seq=result.turn_seq,
            )  # fmt: skip
            return "rejected"
        log.record(
            call_id, "backfill", "accept", result.reason, field=f.name, masked=mask(result.value),
            turn_seq=result.turn_seq,
        )  # fmt: skip
        return "backfilled"


def _describe(err: BaseException) -> str:
    status = getattr(err, "status_code", None)
    return type(err).__name__ + (f" {status}" if status else "")
