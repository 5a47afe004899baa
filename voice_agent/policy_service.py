"""Policy events from the bridge: call start, hang-up, idle and max-duration escapes, the closing
played, and read-back verification. Each goes to its one owner (the gate or the read-back check)."""

from __future__ import annotations

from .call_runtime import CallRuntime
from .decisions import mask
from .directives import Directive, HangUp, PlayClosing, ReadBack
from .end_call_gate import GateAction, GateEvent, GateOutcome
from .invocation import (
    BridgeDraining,
    CallerHungUp,
    CallerIdle,
    CallStarted,
    ClosingPlayed,
    MaxDuration,
    ModelUnavailable,
    PolicyEvent,
    PolicyReply,
    VerifyReadback,
)
from .readback import MAX_ATTEMPTS, readback_words, verify_readback


class PolicyService:
    def __init__(self, rt: CallRuntime) -> None:
        self.rt = rt

    def handle(self, event: PolicyEvent) -> PolicyReply:
        match event:
            case CallStarted():
                meta = self.rt.store.create_call(
                    event.call_id,
                    self.rt.spec.name,
                    event.started_ms if event.started_ms is not None else self.rt.clock_ms(),
                    self.rt.spec.languages.default,
                    self.rt.spec_version,
                )
                return PolicyReply(ok=True, state=meta.status)
            case CallerHungUp():
                return self._gate(self.rt.gate.signal(event.call_id, GateEvent.CALLER_HUNG_UP))
            case CallerIdle():
                self.rt.store.set_meta(
                    event.call_id,
                    idle_prompts_played=event.idle_prompts_played,
                    caller_silent_ms=event.caller_silent_ms,
                )
                return self._gate(self.rt.gate.signal(event.call_id, GateEvent.ESCAPE_VERIFIED))
            case MaxDuration():
                return self._gate(self.rt.gate.signal(event.call_id, GateEvent.ESCAPE_VERIFIED))
            case BridgeDraining():
                return self._gate(self.rt.gate.signal(event.call_id, GateEvent.SHUTDOWN))
            case ModelUnavailable():
                return self._gate(self.rt.gate.signal(event.call_id, GateEvent.MODEL_LOST))
            case ClosingPlayed():
                return self._gate(self.rt.gate.signal(event.call_id, GateEvent.CLOSING_PLAYED))
            case VerifyReadback():
                return self._verify_readback(event)

    def _gate(self, outcome: GateOutcome) -> PolicyReply:
        directives: list[Directive] = []
        if outcome.action is GateAction.PLAY_CLOSING:
            spec = self.rt.spec
            directives.append(PlayClosing(text=spec.closing, teardown_ms=spec.limits.closing_teardown_ms))
        elif outcome.action is GateAction.HANG_UP:
            directives.append(HangUp(reason=outcome.reason))
        return PolicyReply(ok=True, verdict=outcome.verdict, state=outcome.state, directives=directives)

    def _verify_readback(self, event: VerifyReadback) -> PolicyReply:
        rt = self.rt
        stored = rt.store.get_fields(event.call_id).get(event.field)
        if stored is None or stored.status != "value" or not stored.value:
            return PolicyReply(ok=False, error=f"no stored value for {event.field}")
        check = verify_readback(stored.value, event.transcript)
        attempt = rt.store.count_readback(event.call_id, event.field, check.verdict)
        retry = check.verdict != "pass" and attempt < MAX_ATTEMPTS
        verdict = "retry" if retry else check.verdict
        rt.log.record(
            event.call_id, "readback", verdict, check.reason,
            field=event.field, attempt=attempt, masked=mask(check.heard_digits or None),
        )  # fmt: skip
        directives: list[Directive] = []
        if retry:
            words, digits = readback_words(stored.value)
            directives.append(ReadBack(field=event.field, text=words, expected_digits=digits, attempt=attempt + 1))
        return PolicyReply(ok=True, verdict=verdict, directives=directives)
