"""The online persona caller's conversation, sans-I/O: the persona LLM's prompt, its requests and
its answers, and what the caller meant by the lines it said.

The persona goes to the LLM as structure, straight from the persona file (its goal, facts with
refusals and slips, language, temperament, stress, example wordings), under fixed instructions:
play this caller, say only what its facts allow. Each agent utterance, as transcribed, is a user
message; each of the caller's lines an assistant message. The answer is strict JSON: the words to
say, which facts they state (`gives`: names from the persona, checked here; the values scored
against are the persona file's, never the LLM's), and whether to hang up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from simulator.scenario import DECLINED, Caller, Scenario, Turn

from .persona import Persona

SCHEMA_NAME = "eval_persona_turn"
SYSTEM_PROMPT = """You play a caller on a phone call to a business's voice agent. The next system message is
your persona as JSON, from the business's test suite: your goal; your language (`switch_to`: the language you
change to after your opening); your temperament (terse, rambling, corrects_themselves, interrupts, goes_silent,
tries_to_end_early); optional stress; why you call (`opening`: example wordings in `say`, what they mean in
`means`); the facts you know, one per field (`value`, with example wordings in `say`; `refuse: true`: you will not
give it, and `say` is how you refuse; `first_value`/`first_say`: a slip you make first and then correct);
`closing`: how you end; `leave_early`: how you try to go before everything is given; `hang_up_after`: you
hang up after that many of your own lines.
Use only your facts: never invent a value, a fact or another goal, and never give a fact you refuse. Answer what
the agent asks, one phone turn at a time, in your language, as your temperament says; wordings close to the
examples are best. Each user message is what the agent just said, as transcribed (empty: it said nothing).
Reply with JSON: `say`, your next words, spoken aloud as a person says them (empty: you stay silent this
turn); `gives`, the names of the facts (or `opening.means` keys) your words state or refuse; `hang_up`, true to
put the phone down now (then `say` is empty): when the agent has said goodbye, or when your persona hangs up."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonaTurn(_Strict):
    say: str
    gives: list[str]
    hang_up: bool


class PersonaError(RuntimeError):
    pass


def persona_document(persona: Persona) -> str:
    """The persona as the LLM reads it: the file's structure, less the offline stand-in's model knobs."""
    return persona.model_dump_json(exclude={"model"})


def response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": PersonaTurn.model_json_schema()},
    }


class PersonaConversation:
    """One call's persona conversation: `heard` the agent, `request` the next line, `answered` with
    the LLM's reply; `scenario` is what the caller said, for scoring."""

    def __init__(self, persona: Persona, *, model: str, temperature: float, seed: int, max_turns: int) -> None:
        self.persona = persona
        self.model, self.temperature, self.seed, self.max_turns = model, temperature, seed, max_turns
        self.messages: list[dict[str, str]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "system", "content": persona_document(persona)},
        ]
        self.said: list[PersonaTurn] = []  # the lines spoken
        self.answers = 0  # the LLM's answers, silent turns included

    def heard(self, agent_words: str) -> None:
        self.messages.append({"role": "user", "content": agent_words})

    def request(self) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` for the next line."""
        return {
            "model": self.model,
            "temperature": self.temperature,
            "seed": self.seed,
            "messages": list(self.messages),
            "response_format": response_format(),
        }

    def answered(self, content: str | None) -> PersonaTurn:
        """The LLM's reply: checked, kept in the conversation, and the caller's next move. Past
        `max_turns` answers the caller hangs up whatever the LLM says. An empty `say` without
        `hang_up` is a silent turn: the caller waits for the agent to speak again."""
        if not content:
            raise PersonaError("the persona LLM's answer has no content")
        try:
            turn = PersonaTurn.model_validate_json(content)
        except ValidationError as err:
            problem = f"the persona LLM's answer does not match the contract ({err.error_count()} errors)"
            raise PersonaError(problem) from err
        known = set(self.persona.facts) | set(self.persona.opening.means)
        turn = turn.model_copy(update={"gives": [g for g in dict.fromkeys(turn.gives) if g in known]})
        self.answers += 1
        if self.answers > self.max_turns:
            turn = turn.model_copy(update={"hang_up": True})
        self.messages.append({"role": "assistant", "content": content})
        if not turn.hang_up and turn.say.strip():
            self.said.append(turn)
        return turn

    def language(self) -> str:
        """The language of the next line: a caller who switches does so after the opening."""
        return self.persona.switch_to if self.persona.switch_to and self.said else self.persona.language

    def means(self, turn: PersonaTurn) -> dict[str, str]:
        """What a line meant, in the scenario form scoring reads: the persona file's values."""
        means: dict[str, str] = {}
        for name in turn.gives:
            fact = self.persona.facts.get(name)
            if fact is None:
                means[name] = self.persona.opening.means[name]
            elif fact.refuse:
                means[DECLINED] = name
            else:
                means[name] = str(fact.value)
        return means

    def scenario(self, agent: Path) -> Scenario:
        """The call as the caller made it: its lines with what they meant, ending in a hang-up when
        the persona is one who hangs up (then the caller, not the agent, should end the call)."""
        turns = [Turn(say=t.say, means=self.means(t)) for t in self.said]
        if self.persona.hang_up_after is not None or not turns:
            turns.append(Turn(hang_up=True))
        caller = Caller(language=self.persona.language, turns=turns, noise_db=self.persona.stress.noise_db)
        return Scenario(agent=agent, seed=self.seed, caller=caller)
