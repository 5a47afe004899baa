"""Personas and the stand-in persona LLM: one persona, many valid conversations, chosen by the seed;
and the shipped riverside suite loads, covers what the issue asks for, and plays for every seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.scenario import check_against_agent
from voice_eval.persona import Persona, play
from voice_eval.suite import SuiteError, load_suite

from ..conftest import EXAMPLE_SPEC, ROOT

RIVERSIDE = ROOT / "scenarios" / "suites" / "riverside.yaml"

BASE: dict[str, Any] = {
    "name": "p",
    "goal": "book",
    "opening": {"say": ["I need an appointment.", "Appointment, please."], "means": {"category": "appointment"}},
    "facts": {
        "caller_name": {"value": "Maria Lopez", "say": ["Maria Lopez.", "It's Maria Lopez."]},
        "date_of_birth": {"value": "1985-03-04", "say": ["March fourth, nineteen eighty-five."]},
        "callback_number": {"value": "6175550142", "digits": True,
                            "say": ["Six one seven, five five five, zero one four two."]},
    },
    "closing": ["That's all.", "Bye now."],
}  # fmt: skip


def persona(**changes: Any) -> Persona:
    return Persona.model_validate({**BASE, **changes})


def means(p: Persona, seed: int) -> list[dict[str, str]]:
    return [t.means for t in play(p, EXAMPLE_SPEC, "en", seed).caller.turns if not t.hang_up]


def test_the_same_seed_plays_the_same_call_and_seeds_vary_order_and_wording() -> None:
    p = persona()
    assert play(p, EXAMPLE_SPEC, "en", 4) == play(p, EXAMPLE_SPEC, "en", 4)
    calls = {tuple(t.say for t in play(p, EXAMPLE_SPEC, "en", seed).caller.turns) for seed in range(1, 9)}
    assert len(calls) > 2
    for seed in range(1, 9):  # every call says every fact once, between the opening and the closing
        got = means(p, seed)
        assert got[0] == {"category": "appointment"} and got[-1] == {}
        assert sorted(k for m in got[1:-1] for k in m) == ["callback_number", "caller_name", "date_of_birth"]
    for turn in play(p, EXAMPLE_SPEC, "en", 1).caller.turns:  # only the persona's own words
        assert turn.say in p.lines()


def test_temperaments_shape_the_call() -> None:
    rambling = [m for seed in range(1, 6) for m in means(persona(temperament="rambling"), seed)]
    assert any(len(m) == 2 for m in rambling)  # two facts in one breath
    slip = {"value": "1990-06-15", "first_value": "1991-06-15", "first_say": ["June fifteenth, ninety-one."],
            "say": ["No, ninety. June fifteenth, nineteen ninety."]}  # fmt: skip
    corrects = persona(temperament="corrects_themselves", facts={**BASE["facts"], "date_of_birth": slip})
    dates = [m["date_of_birth"] for m in means(corrects, 2) if "date_of_birth" in m]
    assert dates == ["1991-06-15", "1990-06-15"]  # the slip, then the correction
    early = persona(temperament="tries_to_end_early", leave_early=["I have to go."])
    turns = play(early, EXAMPLE_SPEC, "en", 3).caller.turns
    leave = [n for n, t in enumerate(turns) if t.say == "I have to go."]
    assert len(leave) == 1 and 0 < leave[0] < len(turns) - 1 and turns[leave[0]].means == {}
    hangs = play(persona(hang_up_after=2), EXAMPLE_SPEC, "en", 1).caller
    assert hangs.hangs_up and len(hangs.spoken_turns) == 2
    silent = [
        t.silence_before_ms
        for s in range(1, 6)
        for t in play(persona(temperament="goes_silent"), EXAMPLE_SPEC, "en", s).caller.turns
    ]
    assert max(silent) >= 9000  # past the riverside agent's 8 s idle prompt
    over = [
        t.barge_in_after_ms
        for s in range(1, 6)
        for t in play(persona(temperament="interrupts"), EXAMPLE_SPEC, "en", s).caller.turns
    ]
    assert over[0] is None and any(ms is not None for ms in over)
    paused = play(persona(stress={"pauses": True}), EXAMPLE_SPEC, "en", 1).caller.turns
    assert [t.mid_turn_pause_ms is not None for t in paused] == ["callback_number" in t.means for t in paused]


def test_languages_are_said_where_the_caller_speaks_them() -> None:
    assert means(persona(language="fr"), 1)[0] == {"category": "appointment", "language": "fr"}
    assert means(persona(), 1)[0] == {"category": "appointment"}  # the agent's default: nothing to report
    switch = means(persona(switch_to="es"), 1)
    assert switch[1]["language"] == "es" and "language" not in switch[0]


def test_a_persona_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="leave_early"):
        persona(temperament="tries_to_end_early")
    with pytest.raises(ValueError, match="first_value"):
        persona(temperament="corrects_themselves")
    with pytest.raises(ValueError, match="refuse"):
        persona(facts={"caller_name": {"value": "A B", "refuse": True, "say": ["no"]}})


def test_the_shipped_riverside_suite_covers_the_promises_and_plays_for_every_seed() -> None:
    suite, files = load_suite(RIVERSIDE)
    assert files == [] and suite.agent == EXAMPLE_SPEC and len(suite.personas) >= 12
    kinds = {p.temperament for p in suite.personas}
    assert kinds == {"terse", "rambling", "corrects_themselves", "interrupts", "goes_silent", "tries_to_end_early"}
    assert any(p.hang_up_after for p in suite.personas)  # a real early hang-up
    assert any(f.refuse for p in suite.personas for f in p.facts.values())
    assert any(p.stress.pauses for p in suite.personas) and any(p.switch_to for p in suite.personas)
    assert any(p.language not in ("en", "es") for p in suite.personas)  # an unsupported language
    assert {c.id for c in suite.rubric} >= {"no_appointment_time", "unsupported_language_told"}
    for p in suite.personas:
        for seed in (1, 2, 3):
            check_against_agent(play(p, EXAMPLE_SPEC, "en", seed))


def test_a_persona_that_names_what_the_agent_lacks_is_a_suite_error(tmp_path: Path) -> None:
    bad = {**BASE, "facts": {"shoe_size": {"value": "9", "say": ["Nine."]}}}
    suite = {"name": "s", "agent": str(EXAMPLE_SPEC), "personas": [bad]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    with pytest.raises(SuiteError, match=r"persona p: .*shoe_size"):
        load_suite(path)
    path.write_text(yaml.safe_dump({"name": "s", "personas": [BASE]}), encoding="utf-8")
    with pytest.raises(SuiteError, match="need the `agent`"):
        load_suite(path)
    typo = {**suite, "personas": [{**BASE, "temperament": "ramblin"}]}
    path.write_text(yaml.safe_dump(typo), encoding="utf-8")
    with pytest.raises(SuiteError, match=r"personas\.0\.temperament: Input should be 'terse'"):
        load_suite(path)  # one line that says where and what


def test_a_gate_reruns_a_persona_on_the_seeds_after_its_runs() -> None:
    from voice_eval.offline import planned_calls

    suite, files = load_suite(RIVERSIDE)
    first = planned_calls(suite.model_copy(update={"repeats": 3}), files)
    assert [c.seed for c in first if c.persona == "terse_booker"] == [1, 2, 3]
    reruns = planned_calls(suite, files, first=3, count=suite.gate.reruns)
    assert [c.seed for c in reruns if c.persona == "terse_booker"] == [4, 5, 6, 7, 8]


def test_a_rubric_needs_personas_to_judge(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    rubric = [{"id": "kind", "text": "Is kind."}]
    path.write_text(yaml.safe_dump({"name": "s", "scenarios": ["x.yaml"], "rubric": rubric}), encoding="utf-8")
    with pytest.raises(SuiteError, match="no `personas`"):
        load_suite(path)
