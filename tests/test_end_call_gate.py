"""The end-of-call gate: a complete table, and random event sequences against the real store.

Properties, for any sequence of tool calls and bridge events:
- never two closings;
- never an agent-initiated end while a required field is unsatisfied, unless an escape hatch
  (max duration, or caller idle past the limits) is shown by the data.
"""

from __future__ import annotations

import itertools
import typing

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from voice_agent.call_runtime import CallRuntime
from voice_agent.decisions import DecisionLog, ListSink
from voice_agent.directives import PlayClosing
from voice_agent.end_call_gate import TABLE, GateEvent, GateState
from voice_agent.invocation import CallerHungUp, CallerIdle, ClosingPlayed, MaxDuration, ToolCall
from voice_agent.policy_service import PolicyService
from voice_agent.record_store import RecordStore
from voice_agent.spec import AgentSpec
from voice_agent.tool_executor import ToolExecutor

from .conftest import FakeClock


def test_table_covers_every_state_and_event() -> None:
    states = typing.get_args(GateState)
    assert set(TABLE) == {(s, e) for s in states for e in GateEvent}


def test_only_active_can_start_a_closing() -> None:
    closings = [k for k, (_, action, _) in TABLE.items() if action.value == "play_closing"]
    assert closings and all(state == "ACTIVE" for state, _ in closings)
    assert all(TABLE[(s, e)][0] == "ENDED" for s in ("ACTIVE", "CLOSING") for e in [GateEvent.CALLER_HUNG_UP])


VALID = {
    "caller_name": "Maria Lopez",
    "date_of_birth": "1985-03-03",
    "callback_number": "617 555 0142",
    "reason": "Follow-up visit",
    "insurance_member_id": "XJ-4431",
}
_ids = itertools.count(1)


def gate_machine(spec: AgentSpec, store: RecordStore) -> type[RuleBasedStateMachine]:
    required = {f.name for f in spec.required_fields}
    limits = spec.limits

    class GateMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            self.started = self.clock.now
            self.sink = ListSink()
            rt = CallRuntime(spec=spec, store=store, log=DecisionLog(self.sink), clock_ms=self.clock)
            self.tools, self.policy = ToolExecutor(rt), PolicyService(rt)
            self.call_id = f"gate-{next(_ids)}"
            store.create_call(self.call_id, spec.name, self.clock.now, "en")
            # The test's own model of the truth, kept independently of the product.
            self.satisfied: set[str] = set()
            self.idle_prompts = 0
            self.silent_ms = 0
            self.closings = 0
            self.ended = False

        def escape(self) -> bool:
            long_call = self.clock.now - self.started >= limits.max_call_seconds * 1000
            idle = self.idle_prompts >= limits.idle_prompts and self.silent_ms >= limits.idle_seconds * 1000 * (
                limits.idle_prompts + 1
            )
            return long_call or idle

        def _closings_in(self, directives: list) -> int:
            return sum(isinstance(d, PlayClosing) for d in directives)

        @rule(field=st.sampled_from(sorted(VALID)))
        def record(self, field: str) -> None:
            reply = self.tools.execute(
                ToolCall(call_id=self.call_id, name=f"record_{field}", arguments=f'{{"value": "{VALID[field]}"}}')
            )
            if reply.ok:
                self.satisfied.add(field)

        @rule(field=st.sampled_from(sorted(VALID)))
        def decline(self, field: str) -> None:
            args = f'{{"field": "{field}", "quote": "I would rather not say."}}'
            if self.tools.execute(ToolCall(call_id=self.call_id, name="decline_field", arguments=args)).ok:
                self.satisfied.add(field)

        @rule(reason=st.sampled_from(["all fields collected", "", "caller said bye"]))
        def end_call(self, reason: str) -> None:
            args = f'{{"reason": "{reason}"}}'
            reply = self.tools.execute(ToolCall(call_id=self.call_id, name="end_call", arguments=args))
            n = self._closings_in(reply.directives)
            if n:
                assert required <= self.satisfied or self.escape(), "closed with a required field missing"
            self.closings += n

        @rule(ms=st.integers(min_value=0, max_value=400_000))
        def time_passes(self, ms: int) -> None:
            self.clock.now += ms

        @rule(prompts=st.integers(0, 4), silent=st.integers(0, 40_000))
        def bridge_reports_idle(self, prompts: int, silent: int) -> None:
            self.idle_prompts, self.silent_ms = prompts, silent
            reply = self.policy.handle(
                CallerIdle(call_id=self.call_id, idle_prompts_played=prompts, caller_silent_ms=silent)
            )
            self.closings += self._closings_in(reply.directives)

        @rule()
        def bridge_reports_max_duration(self) -> None:
            self.closings += self._closings_in(self.policy.handle(MaxDuration(call_id=self.call_id)).directives)

        @precondition(lambda self: not self.ended)
        @rule()
        def caller_hangs_up(self) -> None:
            reply = self.policy.handle(CallerHungUp(call_id=self.call_id))
            assert reply.state == "ENDED"
            self.ended = True

        @rule()
        def closing_played(self) -> None:
            reply = self.policy.handle(ClosingPlayed(call_id=self.call_id))
            if reply.state == "ENDED":
                self.ended = True

        @invariant()
        def never_two_closings(self) -> None:
            assert self.closings <= 1
            stored = store.get_call(self.call_id)
            assert stored is not None and stored.closings == self.closings

    return GateMachine


def test_gate_state_machine(spec: AgentSpec, store: RecordStore) -> None:
    machine = gate_machine(spec, store)
    machine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    machine.TestCase().runTest()
