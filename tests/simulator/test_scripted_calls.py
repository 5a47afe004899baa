"""The simulated model, driven by the shipped scenarios through the unmodified SDK."""

from __future__ import annotations

import asyncio
import json

import pytest

from simulator.scenario import ScenarioError, load_scenario, parse_scenario
from simulator.scripted_model import EXTRA_GOODBYE, Call, ResponseRequest, ScriptedModel
from tests.simulator.sim_helpers import SCENARIOS, run_scripted_call, running


def call(name: str, speed: float = 60.0):  # type: ignore[no-untyped-def]
    scenario = load_scenario(SCENARIOS / name)

    async def main():  # type: ignore[no-untyped-def]
        async with running(scenario, speed=speed, first_audio_ms=0) as handle:
            return await run_scripted_call(handle, scenario, closing="Goodbye now.")

    return scenario, asyncio.run(main())


def test_happy_path_records_every_answer_and_ends_after_the_last_turn() -> None:
    scenario, log = call("riverside_happy_path.yaml")
    recorded = {name.removeprefix("record_"): args["value"] for name, args in log.calls if name.startswith("record_")}
    assert recorded == scenario.expect.record
    assert ("categorize_call", {"category": "appointment"}) in log.calls
    assert ("resolve_provider", {"spoken_name": "Dr. Alice Nguyen"}) in log.calls
    assert [name for name, _ in log.calls].count("end_call") == 1
    assert log.calls[-1][0] == "end_call"
    assert log.agent_lines[-1] == ["Goodbye now."]


def test_forgotten_tool_call_is_acknowledged_but_never_made() -> None:
    _, log = call("forgotten_tool_call.yaml")
    names = [name for name, _ in log.calls]
    assert "record_date_of_birth" not in names
    assert "record_caller_name" in names and "record_callback_number" in names
    assert any(line.startswith("Got it") for lines in log.agent_lines for line in lines)


def test_try_end_early_calls_end_call_before_the_fields_are_in() -> None:
    _, log = call("early_end_call.yaml")
    names = [name for name, _ in log.calls]
    assert names.count("end_call") == 2
    assert names.index("end_call") < names.index("record_caller_name")


def test_extra_goodbye_adds_a_second_goodbye_after_the_exact_closing() -> None:
    _, log = call("extra_goodbye.yaml")
    assert log.agent_lines[-1] == ["Goodbye now.", EXTRA_GOODBYE]


def test_caller_who_hangs_up_is_never_told_goodbye_by_the_model() -> None:
    _, log = call("caller_hang_up.yaml")
    assert "end_call" not in [name for name, _ in log.calls]


def test_declined_field_quotes_the_callers_own_words() -> None:
    scenario = parse_scenario(
        {
            "agent": "../agents/riverside_clinic.yaml",
            "caller": {"turns": [{"say": "I'd rather not give my birthday.", "means": {"declined": "date_of_birth"}}]},
        },
        SCENARIOS,
    )
    model = ScriptedModel(scenario, seed=1)
    model.hear_segment()
    outputs = model.respond(ResponseRequest(frozenset({"decline_field", "end_call"})))
    assert outputs == [Call("decline_field", {"field": "date_of_birth", "quote": "I'd rather not give my birthday."})]


def test_model_only_calls_tools_the_session_declared() -> None:
    scenario = load_scenario(SCENARIOS / "riverside_happy_path.yaml")
    model = ScriptedModel(scenario, seed=1)
    model.hear_segment()
    outputs = model.respond(ResponseRequest(frozenset({"categorize_call"})))
    assert outputs == [Call("categorize_call", {"category": "appointment"})]


def test_free_mode_greets_then_answers_each_segment() -> None:
    model = ScriptedModel(None, seed=3)
    first = model.respond(ResponseRequest(frozenset()))
    model.hear_segment()
    second = model.respond(ResponseRequest(frozenset()))
    assert first != second and all(hasattr(o, "text") for o in first + second)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_load_and_match_their_agent(path) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(path)
    # The example agent, or a variant kept beside the scenarios (scenarios/agents/) for what it lacks.
    assert scenario.agent.name == "riverside_clinic.yaml" or scenario.agent.parent == (SCENARIOS / "agents").resolve()
    assert scenario.agent.is_file()
    assert scenario.expect.ended_by in ("agent", "caller", "system")


def test_scenario_files_are_strict(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = (SCENARIOS / "riverside_happy_path.yaml").read_text()
    for bad, message in [
        (good + "\nmodle: {}\n", "modle"),
        (good.replace('caller_name: "Maria Lopez"}', 'nickname: "Mia"}', 1), "nickname"),
        (good.replace("category: appointment", "category: surgery"), "surgery"),
    ]:
        path = tmp_path / "s.yaml"
        path.write_text(bad.replace("../agents/", str(SCENARIOS.parent / "agents") + "/"))
        with pytest.raises(ScenarioError, match=message):
            load_scenario(path)


def test_agent_path_is_relative_to_the_scenario_file() -> None:
    scenario = load_scenario(SCENARIOS / "barge_in.yaml")
    assert scenario.agent == (SCENARIOS.parent / "agents" / "riverside_clinic.yaml").resolve()
    assert json.loads(json.dumps(scenario.model_dump(mode="json")))["seed"] == 23
