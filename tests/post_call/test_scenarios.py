"""The scenario files' post-call expectations, through the pass and the simulated extractor: a
field the model forgot to record is backfilled where the caller's words hold it, and stays empty
where the extractor's answer cannot be verified."""

from __future__ import annotations

from collections.abc import Callable

from simulator.scenario import ExtractorKnobs, Scenario, load_scenario
from voice_agent.decisions import ListSink
from voice_agent.field_values import Valid, validate_value
from voice_agent.post_call import Reconciler
from voice_agent.record_store import FieldValue, RecordStore, Turn
from voice_agent.spec import AgentSpec

from ..conftest import FakeClock
from .conftest import SCENARIOS, CountingClient, SimulatedLlm


def ended_call_from(scenario: Scenario, spec: AgentSpec, store: RecordStore, clock: FakeClock, call_id: str) -> None:
    """The call as the live path leaves it: every caller turn in the store, every `means` field the
    model did not forget recorded live (if the live tool's validation takes it), then ENDED."""
    store.create_call(call_id, spec.name, clock.now, scenario.caller.language)
    seq = 0
    for turn in scenario.caller.spoken_turns:
        for speaker, text in (("agent", "Go ahead, please."), ("caller", turn.say or "")):
            store.append_turn(Turn(call_id=call_id, seq=seq, t_ms=seq * 1000, speaker=speaker, text=text))  # type: ignore[arg-type]
            seq += 1
        for name, value in turn.means.items():
            field = spec.field(name)
            checked = validate_value(field, value) if field else None
            if isinstance(checked, Valid) and name not in scenario.model.forget_tool_calls:
                live = FieldValue(name=name, status="value", value=checked.value, turn_seq=seq - 1, recorded_ms=1)
                store.put_field(call_id, live, only_if_empty=True)
    meta = store.get_call(call_id)
    assert meta is not None and store.transition_gate(call_id, meta.gate_version, "ENDED", ended_by="agent")


def test_forgotten_tool_call_is_backfilled_as_the_scenario_expects(
    make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient, spec: AgentSpec,
    store: RecordStore, clock: FakeClock,
) -> None:  # fmt: skip
    scenario = load_scenario(SCENARIOS / "forgotten_tool_call.yaml")
    llm_server.use(scenario)
    ended_call_from(scenario, spec, store, clock, "CAscenario-forgotten")
    make_reconciler(llm).reconcile("CAscenario-forgotten")

    fields = store.get_fields("CAscenario-forgotten")
    backfills = [n for n, source in scenario.expect.sources.items() if source == "backfill"]
    assert backfills == ["date_of_birth"]
    for name in backfills:
        assert (fields[name].source, fields[name].value) == ("backfill", scenario.expect.record[name])
    assert fields["caller_name"].source == "live"


def test_forgotten_field_stays_empty_when_the_extractor_cannot_ground_it(
    make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient, spec: AgentSpec,
    store: RecordStore, clock: FakeClock, decisions: ListSink,
) -> None:  # fmt: skip
    base = load_scenario(SCENARIOS / "forgotten_tool_call.yaml")
    scenario = base.model_copy(update={"extractor": ExtractorKnobs(fabricate_quote=["date_of_birth"])})
    llm_server.use(scenario)
    ended_call_from(scenario, spec, store, clock, "CAscenario-fabricated")
    outcome = make_reconciler(llm).reconcile("CAscenario-fabricated")

    assert "date_of_birth" not in store.get_fields("CAscenario-fabricated")
    assert "date_of_birth" in outcome.still_missing
    [line] = [d for d in decisions.lines if d.decision == "backfill" and d.field == "date_of_birth"]
    assert line.verdict == "reject" and "not in any turn" in line.reason
