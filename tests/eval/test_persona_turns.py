"""The online persona caller's conversation (sans-I/O): the prompt built from the persona file, the
requests, the checks on the LLM's answers, and what the caller's lines meant for scoring."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from simulator.scenario import DECLINED
from voice_eval import persona_standin
from voice_eval.persona import Persona, play
from voice_eval.persona_turns import SCHEMA_NAME, SYSTEM_PROMPT, PersonaConversation, PersonaError, PersonaTurn
from voice_eval.scoring import meant_by_caller

from ..conftest import EXAMPLE_SPEC, ROOT

PERSONAS = [
    Persona.model_validate(p)
    for p in yaml.safe_load((ROOT / "scenarios" / "suites" / "riverside.yaml").read_text(encoding="utf-8"))["personas"]
]
BY_NAME = {p.name: p for p in PERSONAS}


def _conversation(persona: Persona, **options: Any) -> PersonaConversation:
    settings = {"model": "gpt-4.1-mini", "temperature": 0.7, "seed": 3, "max_turns": 30, **options}
    return PersonaConversation(persona, **settings)


def _reply(say: str, gives: list[str] | None = None, hang_up: bool = False) -> str:
    return PersonaTurn(say=say, gives=gives or [], hang_up=hang_up).model_dump_json()


def test_the_prompt_is_the_instructions_and_the_persona_file_as_structure() -> None:
    persona = next(p for p in PERSONAS if any(f.refuse for f in p.facts.values()))
    slip = next(p for p in PERSONAS if any(f.first_value for f in p.facts.values()))
    for who in (persona, slip):
        system = [m["content"] for m in _conversation(who).messages if m["role"] == "system"]
        assert system[0] == SYSTEM_PROMPT and "Use only your facts" in SYSTEM_PROMPT
        document = json.loads(system[1])
        assert "model" not in document  # the offline stand-in's knobs are not the caller's business
        assert Persona.model_validate(document) == who.model_copy(update={"model": type(who.model)()})
    refused = next(n for n, f in persona.facts.items() if f.refuse)
    assert json.loads(_conversation(persona).messages[1]["content"])["facts"][refused]["refuse"] is True


def test_the_request_carries_the_seed_the_temperature_and_a_strict_schema() -> None:
    conversation = _conversation(BY_NAME["terse_booker"])
    conversation.heard("Thanks for calling. How can I help you today?")
    request = conversation.request()
    assert (request["seed"], request["temperature"], request["model"]) == (3, 0.7, "gpt-4.1-mini")
    schema = request["response_format"]["json_schema"]
    assert schema["name"] == SCHEMA_NAME and schema["strict"] is True
    assert set(schema["schema"]["required"]) == {"say", "gives", "hang_up"}
    assert request["messages"][-1] == {"role": "user", "content": "Thanks for calling. How can I help you today?"}


def test_answers_are_checked_and_meanings_come_from_the_persona_file() -> None:
    persona = next(p for p in PERSONAS if any(f.refuse for f in p.facts.values()))
    refused = next(n for n, f in persona.facts.items() if f.refuse)
    given = next(n for n, f in persona.facts.items() if not f.refuse)
    conversation = _conversation(persona, max_turns=3)
    turn = conversation.answered(_reply("...", [given, refused, "shoe_size"]))
    assert turn.gives == [given, refused]  # a name the persona does not have is dropped
    assert conversation.means(turn) == {given: str(persona.facts[given].value), DECLINED: refused}
    assert not conversation.answered(_reply("  ")).hang_up  # a silent turn: said nothing, still on the line
    assert not conversation.answered(_reply("Yes.")).hang_up
    assert conversation.answered(_reply("And another thing.")).hang_up  # past max_turns answers
    assert [t.say for t in conversation.said] == ["...", "Yes."]
    assert [t.say for t in conversation.scenario(EXAMPLE_SPEC).caller.spoken_turns] == ["...", "Yes."]
    with pytest.raises(PersonaError, match="contract"):
        _conversation(persona).answered('{"say": "hi"}')
    with pytest.raises(PersonaError, match="no content"):
        _conversation(persona).answered(None)


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_the_stand_in_plays_the_offline_lines_and_scoring_reads_the_same_meaning(persona: Persona) -> None:
    answer = persona_standin.answerer(EXAMPLE_SPEC, "en")
    conversation = _conversation(persona)
    while True:
        conversation.heard("(the agent)")
        turn = conversation.answered(answer(conversation.request()))
        if turn.hang_up:
            break
    offline = play(persona, EXAMPLE_SPEC, "en", 3)
    online = conversation.scenario(EXAMPLE_SPEC)
    assert [t.say for t in online.caller.turns] == [t.say for t in offline.caller.turns]
    spoken = len(offline.caller.spoken_turns)
    assert meant_by_caller(online, spoken) == meant_by_caller(offline, spoken)
    assert online.caller.hangs_up == offline.caller.hangs_up


def test_background_noise_stress_reaches_the_caller_in_both_tiers() -> None:
    noisy = next(p for p in PERSONAS if p.stress.noise_db is not None)
    assert play(noisy, EXAMPLE_SPEC, "en", 1).caller.noise_db == noisy.stress.noise_db
    conversation = _conversation(noisy)
    conversation.answered(_reply("Hello."))
    assert conversation.scenario(EXAMPLE_SPEC).caller.noise_db == noisy.stress.noise_db
