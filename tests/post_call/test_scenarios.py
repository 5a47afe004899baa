"""The scenario files' post-call expectations, through the pass and the simulated extractor: a
field the model forgot to record is backfilled where the caller's words hold it, kept as a candidate
where they hold it but cannot prove its structure, and stays empty where the extractor's answer
cannot be verified. This is the direct reconcile path: the same scenarios also run end to end over
SIP in tests/bridge."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.local_stack import LocalStack
from simulator.runner import check_expectations
from simulator.scenario import ExtractorKnobs, Scenario, load_scenario
from voice_agent.archive_store import ArchiveStore, archive_key
from voice_agent.decisions import DecisionLine, ListSink
from voice_agent.end_call_gate import missing_required
from voice_agent.evidence import Rule
from voice_agent.field_values import Valid, validate_value
from voice_agent.post_call import Reconciler
from voice_agent.record_store import FieldValue, RecordStore, Turn
from voice_agent.record_view import CallRecord
from voice_agent.spec import AgentSpec, load_spec
from voice_agent_cli import calls as calls_cli

from ..conftest import FakeClock
from .conftest import SCENARIOS, CountingClient, SimulatedLlm

POST_CALL_SCENARIOS = sorted(p for p in SCENARIOS.glob("*.yaml") if load_scenario(p).model.forget_tool_calls)
RULES = (*(f"{r.value}: " for r in Rule), "backfill_only: ")


def ended_call_from(scenario: Scenario, spec: AgentSpec, store: RecordStore, clock: FakeClock, call_id: str) -> None:
    """The call as the live path leaves it: every caller turn in the store, every `means` field the
    model did not forget recorded live (if the live tool's validation takes it), then ENDED."""
    store.create_call(call_id, spec.name, clock.now, scenario.caller.language)
    seq = 0
    for turn in scenario.caller.spoken_turns:
        for speaker, text in (("agent", "Go ahead, please."), ("caller", turn.say or "")):
            store.append_turn(Turn(call_id=call_id, seq=seq, t_ms=seq * 1000, speaker=speaker, text=text))
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
    assert line.verdict == "reject" and "not in any caller turn" in line.reason


def reconcile_scenario(
    path: Path, make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient,
    store: RecordStore, clock: FakeClock,
) -> tuple[Scenario, AgentSpec, str]:  # fmt: skip
    scenario = load_scenario(path)
    spec = load_spec(scenario.agent)
    llm_server.use(scenario)
    call_id = f"CAscenario-{path.stem}-{uuid.uuid4().hex[:8]}"
    ended_call_from(scenario, spec, store, clock, call_id)
    make_reconciler(llm, spec=spec).reconcile(call_id)
    return scenario, spec, call_id


def backfill_lines(decisions: ListSink, call_id: str) -> dict[str, DecisionLine]:
    return {d.field: d for d in decisions.lines if d.call_id == call_id and d.decision == "backfill" and d.field}


@pytest.mark.parametrize("path", POST_CALL_SCENARIOS, ids=lambda p: p.stem)
def test_every_post_call_scenario_holds_and_names_its_rules(
    path: Path, make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient,
    store: RecordStore, clock: FakeClock, archive: ArchiveStore, decisions: ListSink,
) -> None:  # fmt: skip
    scenario, spec, call_id = reconcile_scenario(path, make_reconciler, llm_server, llm, store, clock)
    meta = store.get_call(call_id)
    assert meta is not None
    record = json.loads(archive.get_text(archive_key("records", call_id, meta.started_ms)))
    # The scenario's record and sources expectations, judged on the archived record the office reads.
    # (goodbyes and who ended the call are the live path's: tests/bridge checks them over SIP)
    post_call_only = scenario.expect.model_copy(update={"goodbyes": None, "ended_by": None})
    result = check_expectations(
        scenario.model_copy(update={"expect": post_call_only}), spec, {"record": CallRecord.model_validate(record)}
    )
    assert result.failures == []
    lines = backfill_lines(decisions, call_id)
    assert set(lines) == {f.name for f in spec.required_fields if f.name in scenario.model.forget_tool_calls}
    for line in lines.values():
        assert line.reason.startswith(RULES), line.reason  # the rule that accepted or rejected the value


def test_an_address_the_extractor_normalised_is_backfilled_in_the_callers_words(
    make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient, store: RecordStore,
    clock: FakeClock, decisions: ListSink,
) -> None:  # fmt: skip
    path = SCENARIOS / "post_call_address_normalised.yaml"
    scenario, _, call_id = reconcile_scenario(path, make_reconciler, llm_server, llm, store, clock)
    assert scenario.extractor.normalised_value["visit_address"] == "88 Canal Street, 2nd floor, Lowell"
    fields = store.get_fields(call_id)
    address = fields["visit_address"]
    assert (address.value, address.source, address.evidence) == (
        "88 Canal Street, second floor, Lowell", "backfill", "caller_wording",
    )  # fmt: skip
    assert address.quote == "It's 88 Canal Street, second floor, Lowell."  # the caller's words, as transcribed
    assert backfill_lines(decisions, call_id)["visit_address"].reason.startswith("caller_wording: ")
    reason = fields["reason"]  # a summary field: the paraphrase is written, flagged, with the caller's quote
    assert (reason.value, reason.evidence) == ("Home visit to change a leg dressing", "summary")
    assert reason.quote == "Hi, I need a nurse to come and change the dressing on my leg."


def test_a_date_of_birth_said_in_words_is_a_candidate_and_missing_for_gate_and_auditor(
    make_reconciler: Callable[..., Reconciler], llm_server: SimulatedLlm, llm: CountingClient, store: RecordStore,
    clock: FakeClock, decisions: ListSink, archive: ArchiveStore, local_stack: LocalStack,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = SCENARIOS / "post_call_dob_in_words.yaml"
    _, spec, call_id = reconcile_scenario(path, make_reconciler, llm_server, llm, store, clock)

    assert "date_of_birth" not in store.get_fields(call_id)  # no value was written
    [candidate] = store.get_candidates(call_id).values()
    assert (candidate.name, candidate.value, candidate.turn_seq) == ("date_of_birth", "1985-03-04", 5)
    assert candidate.quote == "March fourth, nineteen eighty-five."
    assert candidate.reason.startswith("unverified structure") and candidate.numerals == "March 4, 1985"
    line = backfill_lines(decisions, call_id)["date_of_birth"]
    assert line.verdict == "unverified" and line.reason.startswith("structure: unverified")
    assert "1985" not in line.to_json()  # masked

    # The gate's view (the stored fields) and the auditor's (the archived record) agree: missing.
    gate_missing = [f.name for f in missing_required(spec, store.get_fields(call_id))]
    meta = store.get_call(call_id)
    assert meta is not None
    record = json.loads(archive.get_text(archive_key("records", call_id, meta.started_ms)))
    assert gate_missing == record["missing_required"] == ["date_of_birth"]
    dob = record["fields"]["date_of_birth"]
    assert dob["status"] == "missing" and dob["value"] is None
    assert dob["candidate"]["value"] == "1985-03-04" and dob["candidate"]["turn_seq"] == 5
    assert record["reconciliation"]["candidates"] == ["date_of_birth"]

    # And `voice-agent calls show` prints it as an unverified candidate, not as a value.
    parser = argparse.ArgumentParser(prog="voice-agent")
    calls_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["calls", "--endpoint-url", local_stack.endpoint_url, "--spec", str(scenario_spec(path)),
                              "show", call_id])  # fmt: skip
    assert args.run(args) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("date_of_birth"))
    assert "(missing)" in row and "1985" not in row
    assert "candidate, unverified: 1985-03-04 (turn 5)" in out and "missing required: date_of_birth" in out


def scenario_spec(path: Path) -> Path:
    return load_scenario(path).agent
