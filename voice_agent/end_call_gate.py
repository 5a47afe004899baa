"""The end-of-call gate: the only code path that can close a call or hang up.

A table-driven state machine, ACTIVE -> CLOSING -> ENDED (caller hang-up from any state).
`decide` is pure; `EndCallGate` reads stored state (never the model's claims), decides, and
moves the state with a conditional write so that of two concurrent requests exactly one wins
the CLOSING transition and with it the single closing line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .decisions import DecisionLog, Verdict
from .record_store import CallMeta, FieldValue, GateState, RecordStore
from .spec import AgentSpec, FieldSpec


class GateEvent(StrEnum):
    END_SATISFIED = "end_satisfied"  # end_call, every required field satisfied in the store
    END_ESCAPED = "end_escaped"  # end_call with fields missing, but an escape hatch is verified
    END_MISSING = "end_missing"  # end_call with fields missing and no escape
    ESCAPE_VERIFIED = "escape_verified"  # the bridge reports idle/max-duration and the data agree
    CALLER_HUNG_UP = "caller_hung_up"
    SHUTDOWN = "shutdown"  # the bridge is draining and the call outlived the drain deadline
    MODEL_LOST = "model_lost"  # no model session could be had: nobody can speak, so no closing
    CLOSING_PLAYED = "closing_played"  # the closing was heard and the teardown timer ran out


class GateAction(StrEnum):
    PLAY_CLOSING = "play_closing"
    DENY_MISSING = "deny_missing"
    DENY_CLOSING = "deny_closing"  # a second goodbye: denied, no second closing
    DENY_ENDED = "deny_ended"
    HANG_UP = "hang_up"
    NONE = "none"


ACTIVE: GateState = "ACTIVE"
CLOSING: GateState = "CLOSING"
ENDED: GateState = "ENDED"
_END_REQUESTS = (GateEvent.END_SATISFIED, GateEvent.END_ESCAPED, GateEvent.END_MISSING)

# (state, event) -> (next state, action, verdict). Every pair is listed: a new event or state
# that nobody thought about fails the completeness test rather than falling through.
TABLE: dict[tuple[GateState, GateEvent], tuple[GateState, GateAction, Verdict]] = {
    (ACTIVE, GateEvent.END_SATISFIED): (CLOSING, GateAction.PLAY_CLOSING, "allow"),
    (ACTIVE, GateEvent.END_ESCAPED): (CLOSING, GateAction.PLAY_CLOSING, "allow"),
    (ACTIVE, GateEvent.END_MISSING): (ACTIVE, GateAction.DENY_MISSING, "deny"),
    (ACTIVE, GateEvent.ESCAPE_VERIFIED): (CLOSING, GateAction.PLAY_CLOSING, "allow"),
    (ACTIVE, GateEvent.CALLER_HUNG_UP): (ENDED, GateAction.NONE, "ended"),
    (ACTIVE, GateEvent.SHUTDOWN): (CLOSING, GateAction.PLAY_CLOSING, "allow"),
    (ACTIVE, GateEvent.CLOSING_PLAYED): (ACTIVE, GateAction.NONE, "noop"),
    (ACTIVE, GateEvent.MODEL_LOST): (ENDED, GateAction.HANG_UP, "ended"),
    **{(CLOSING, e): (CLOSING, GateAction.DENY_CLOSING, "deny") for e in _END_REQUESTS},
    (CLOSING, GateEvent.ESCAPE_VERIFIED): (CLOSING, GateAction.NONE, "noop"),
    (CLOSING, GateEvent.CALLER_HUNG_UP): (ENDED, GateAction.NONE, "ended"),
    (CLOSING, GateEvent.SHUTDOWN): (CLOSING, GateAction.NONE, "noop"),
    (CLOSING, GateEvent.CLOSING_PLAYED): (ENDED, GateAction.HANG_UP, "ended"),
    (CLOSING, GateEvent.MODEL_LOST): (ENDED, GateAction.HANG_UP, "ended"),
    **{(ENDED, e): (ENDED, GateAction.DENY_ENDED, "deny") for e in _END_REQUESTS},
    (ENDED, GateEvent.ESCAPE_VERIFIED): (ENDED, GateAction.NONE, "noop"),
    (ENDED, GateEvent.CALLER_HUNG_UP): (ENDED, GateAction.NONE, "noop"),
    (ENDED, GateEvent.SHUTDOWN): (ENDED, GateAction.NONE, "noop"),
    (ENDED, GateEvent.CLOSING_PLAYED): (ENDED, GateAction.NONE, "noop"),
    (ENDED, GateEvent.MODEL_LOST): (ENDED, GateAction.NONE, "noop"),
}


def decide(state: GateState, event: GateEvent) -> tuple[GateState, GateAction, Verdict]:
    return TABLE[(state, event)]


def missing_required(spec: AgentSpec, fields: dict[str, FieldValue]) -> list[FieldSpec]:
    """Required fields that hold neither a validated value nor a quoted refusal."""

    def satisfied(f: FieldSpec) -> bool:
        v = fields.get(f.name)
        if v is None:
            return False
        return bool(v.value) if v.status == "value" else bool(v.quote and v.quote.strip())

    return [f for f in spec.required_fields if not satisfied(f)]


def verified_escape(spec: AgentSpec, meta: CallMeta, now_ms: int) -> str | None:
    """An escape hatch, if the stored data (not anyone's claim) shows one."""
    if now_ms - meta.started_ms >= spec.limits.max_call_seconds * 1000:
        return "max_call_seconds reached"
    if (
        meta.idle_prompts_played >= spec.limits.idle_prompts
        and meta.caller_silent_ms >= spec.limits.idle_seconds * 1000 * (spec.limits.idle_prompts + 1)
    ):
        return "caller idle past the spec's limits"
    return None


@dataclass(frozen=True, slots=True)
class GateOutcome:
    verdict: Verdict
    action: GateAction
    state: GateState
    missing: list[FieldSpec]
    reason: str


_ENDED_BY = {
    GateEvent.CALLER_HUNG_UP: "caller",
    GateEvent.CLOSING_PLAYED: "agent",
}


class UnknownCall(LookupError):
    pass


class EndCallGate:
    MAX_RACE_RETRIES = 5

    def __init__(self, spec: AgentSpec, store: RecordStore, log: DecisionLog, clock_ms: Callable[[], int]) -> None:
        self._spec, self._store, self._log, self._clock_ms = spec, store, log, clock_ms

    def request_end(self, call_id: str, tool: str = "end_call") -> GateOutcome:
        """The model asks to end the call. Its reason is never read: the store decides."""
        return self._apply(call_id, None, tool)

    def signal(self, call_id: str, event: GateEvent) -> GateOutcome:
        """An event from the bridge: hang-up, a reported escape, the closing played."""
        assert event not in _END_REQUESTS, "end requests go through request_end"
        return self._apply(call_id, event, None)

    def _apply(self, call_id: str, fixed: GateEvent | None, tool: str | None) -> GateOutcome:
        for _ in range(self.MAX_RACE_RETRIES):
            meta = self._store.get_call(call_id)
            if meta is None:
                raise UnknownCall(call_id)
            now = self._clock_ms()
            event, missing, reason = self._classify(meta, fixed, now)
            state_to, action, verdict = decide(meta.status, event)
            if state_to != meta.status and not self._store.transition_gate(
                call_id, meta.gate_version, state_to, **self._attrs(event, state_to, reason, now)
            ):
                continue  # somebody moved the gate since we read it: decide again on fresh state
            if action is GateAction.DENY_CLOSING:
                reason = "a closing was already played; no second goodbye"
            elif action is GateAction.DENY_ENDED:
                reason = "the call has ended"
            self._log.record(
                call_id,
                "end_call_gate",
                verdict,
                reason,
                tool=tool,
                state_from=meta.status,
                state_to=state_to,
                missing=[f.name for f in missing] or None,
            )
            return GateOutcome(verdict, action, state_to, missing, reason)
        raise RuntimeError(f"end-call gate for {call_id} lost {self.MAX_RACE_RETRIES} races in a row")

    def _classify(self, meta: CallMeta, fixed: GateEvent | None, now: int) -> tuple[GateEvent, list[FieldSpec], str]:
        escape = verified_escape(self._spec, meta, now)
        if fixed is GateEvent.ESCAPE_VERIFIED and escape is None:
            # The bridge's report does not match the stored data: treat it as a denied end request.
            fixed = None
        if fixed is not None:
            return fixed, [], escape or fixed.value
        missing = missing_required(self._spec, self._store.get_fields(meta.call_id))
        if not missing:
            return GateEvent.END_SATISFIED, [], "every required field is satisfied in the store"
        if escape:
            return GateEvent.END_ESCAPED, missing, f"fields missing but escape verified: {escape}"
        return GateEvent.END_MISSING, missing, "required fields missing in the store"

    def _attrs(self, event: GateEvent, state_to: GateState, reason: str, now: int) -> dict[str, object]:
        if state_to == CLOSING:
            return {"closings": 1, "closing_ms": now, "closing_reason": reason}
        return {"ended_by": _ENDED_BY.get(event, "system"), "ended_reason": reason, "ended_ms": now}
