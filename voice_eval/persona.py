"""Personas, and the offline stand-in of the persona LLM that turns one into a caller's lines.

A persona is who calls: a goal, the facts they know (the ground truth per field, including what
they will refuse to give), a language, a temperament and optional stress. Online an LLM plays it
turn by turn; offline `play` does, deterministically per seed: it compiles persona + seed into the
scenario form every offline call already runs (caller turns with the `means` a perfect listener
takes from them, which also script the stand-in model), so the call itself is
`simulator.runner.run_scenario`. The seed picks among structurally valid conversations: which of
the persona's own wordings, the order the facts come in, where the caller pauses, interrupts or
goes quiet. The words are always the persona file's: no phrasing is generated here, so nothing
here knows a language.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.scenario import DECLINED, LANGUAGE, Caller, ModelKnobs, NoiseDb, Scenario, Turn

Temperament = Literal["terse", "rambling", "corrects_themselves", "interrupts", "goes_silent", "tries_to_end_early"]
Lines = Annotated[list[str], Field(min_length=1)]  # ways the persona may say it; the seed picks one


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fact(_Strict):
    """What the caller knows for one field, and how they say it. `refuse`: they will not give it;
    `say` is then how they refuse. `first_say`/`first_value`: what a caller who corrects themselves
    says first (a slip), before `say`."""

    value: str | None = None
    say: Lines
    refuse: bool = False
    first_value: str | None = None
    first_say: list[str] = []
    digits: bool = False  # a digit string: with `stress.pauses` the caller pauses inside it

    @model_validator(mode="after")
    def _consistent(self) -> Fact:
        if self.refuse == (self.value is not None):
            raise ValueError("a fact has a `value`, or is `refuse: true` (then `say` is how they refuse)")
        if bool(self.first_value) != bool(self.first_say):
            raise ValueError("`first_value` and `first_say` go together (the slip and its words)")
        if self.refuse and self.first_value:
            raise ValueError("a refused fact has no slip to correct")
        return self


class Opening(_Strict):
    """The caller's first turn: why they call. `means` is what it says (category, provider, reason...)."""

    say: Lines
    means: dict[str, str] = {}


class Stress(_Strict):
    pauses: bool = False  # digit strings said in two halves with a pause longer than the VAD's
    speak_over_agent: bool = False  # some turns start while the agent is still talking
    noise_db: NoiseDb | None = None  # background noise mixed under the caller's speech, dBFS RMS


class Persona(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    goal: str
    language: str = "en"  # ISO 639-1; said on the opening turn when it is not the agent's default
    switch_to: str | None = None  # the caller switches language after the opening (their facts' words are in it)
    temperament: Temperament = "terse"
    stress: Stress = Stress()
    opening: Opening
    facts: dict[str, Fact] = {}
    closing: Lines  # the caller's last words once everything is given
    leave_early: list[str] = []  # tries_to_end_early: how they try to go before everything is given
    hang_up_after: Annotated[int, Field(ge=1)] | None = None  # really hang up after this many turns
    # Offline only: how the stand-in model misbehaves on this caller (the scenario knobs).
    model: ModelKnobs = ModelKnobs()

    @model_validator(mode="after")
    def _temperament_has_its_lines(self) -> Persona:
        if self.temperament == "tries_to_end_early" and not self.leave_early:
            raise ValueError("temperament tries_to_end_early needs `leave_early` lines")
        if self.temperament == "corrects_themselves" and not any(f.first_value for f in self.facts.values()):
            raise ValueError("temperament corrects_themselves needs a fact with `first_value`/`first_say`")
        return self

    def lines(self) -> list[str]:
        """Every line this persona may say: what an in-persona caller's words come from."""
        found = [*self.opening.say, *self.closing, *self.leave_early]
        for fact in self.facts.values():
            found += [*fact.say, *fact.first_say]
        return found


def _fact_turn(name: str, fact: Fact, rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    """(words, means) for one fact: the slip first when there is one, then the fact itself."""
    out = []
    if fact.first_value:
        out.append((rng.choice(fact.first_say), {name: fact.first_value}))
    out.append((rng.choice(fact.say), {DECLINED: name} if fact.refuse else {name: str(fact.value)}))
    return out


def _merge(parts: list[tuple[str, dict[str, str]]]) -> tuple[str, dict[str, str]]:
    means: dict[str, str] = {}
    for _, m in parts:
        means.update(m)
    return " ".join(words for words, _ in parts), means


def play(persona: Persona, agent: Path, default_language: str, seed: int) -> Scenario:
    """The stand-in persona LLM: persona + seed -> the call as a scenario (turns, their `means`)."""
    rng = random.Random(f"persona:{persona.name}:{seed}")
    opening_means = dict(persona.opening.means)
    if persona.language != default_language:
        opening_means[LANGUAGE] = persona.language
    steps: list[tuple[str, dict[str, str]]] = [(rng.choice(persona.opening.say), opening_means)]
    names = list(persona.facts)
    rng.shuffle(names)  # any order is a valid conversation: the agent records whatever it hears
    groups = [_fact_turn(n, persona.facts[n], rng) for n in names]
    if persona.temperament == "rambling":  # two facts in one breath where the seed says so
        merged: list[list[tuple[str, dict[str, str]]]] = []
        for group in groups:
            if merged and len(merged[-1]) == 1 and len(group) == 1 and rng.random() < 0.7:
                merged[-1] = merged[-1] + group
            else:
                merged.append(group)
        steps += [_merge(g) for g in merged]
    else:
        steps += [step for group in groups for step in group]
    if persona.switch_to and len(steps) > 1:
        steps[1] = (steps[1][0], {**steps[1][1], LANGUAGE: persona.switch_to})
    if persona.temperament == "tries_to_end_early" and len(steps) > 2:
        at = rng.randint(1, len(steps) - 1)  # after the opening, before the last fact
        steps.insert(at, (rng.choice(persona.leave_early), {}))
    steps.append((rng.choice(persona.closing), {}))
    turns = [_turn(persona, words, means, index, rng) for index, (words, means) in enumerate(steps)]
    if persona.hang_up_after is not None and persona.hang_up_after < len(turns):
        turns = [*turns[: persona.hang_up_after], Turn(hang_up=True)]
    caller = Caller(language=persona.language, turns=turns, noise_db=persona.stress.noise_db)
    return Scenario(agent=agent, seed=seed, caller=caller, model=persona.model)


def _turn(persona: Persona, words: str, means: dict[str, str], index: int, rng: random.Random) -> Turn:
    knobs: dict[str, int] = {}
    digits = any(persona.facts[k].digits for k in means if k in persona.facts)
    if persona.stress.pauses and digits and len(words.split()) >= 2:
        knobs["mid_turn_pause_ms"] = rng.choice((900, 1200, 1500))
    over = persona.temperament == "interrupts" or persona.stress.speak_over_agent
    if index > 0 and over and rng.random() < 0.5:
        knobs["barge_in_after_ms"] = rng.choice((400, 700, 1000))
    elif index > 0 and persona.temperament == "goes_silent" and rng.random() < 0.5:
        knobs["silence_before_ms"] = rng.choice((3000, 9000))  # 9 s: past the riverside agent's idle prompt (8 s)
    return Turn(say=words, means=means, **knobs)
