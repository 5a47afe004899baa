"""The stand-in persona LLM behind the simulator's HTTP API (`chat_answerers`), for the online tier's
code path without the service: the same SDK call, answered deterministically.

It reads the persona (the request's persona system message) and the seed (the request's `seed`)
and answers the k-th caller line of `persona.play(persona, agent, default_language, seed)`, k being
the lines the caller has said so far (the assistant messages); past the last line, or at a hang-up
turn, it hangs up. Started with the scenario `play` gives for that persona and seed, the realtime
stand-in hears those same lines in order: the two stay in step as they do offline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.scenario import DECLINED, LANGUAGE

from .persona import Persona, play
from .persona_turns import PersonaTurn


def _persona(messages: list[dict[str, Any]]) -> Persona:
    for message in messages:
        if message.get("role") == "system":
            try:
                return Persona.model_validate_json(str(message.get("content")))
            except ValidationError:
                continue  # the instructions, not the persona
    raise ValueError("no persona system message in the request")


def answerer(agent: Path, default_language: str) -> Callable[[dict[str, Any]], str]:
    """The answerer for personas calling `agent` (whose default language is `default_language`)."""

    def answer(body: dict[str, Any]) -> str:
        persona = _persona(body["messages"])
        said = sum(1 for m in body["messages"] if m.get("role") == "assistant")
        turns = play(persona, agent, default_language, int(body["seed"])).caller.turns
        if said >= len(turns) or turns[said].hang_up:
            return PersonaTurn(say="", gives=[], hang_up=True).model_dump_json()
        turn = turns[said]
        gives = [value if key == DECLINED else key for key, value in turn.means.items() if key != LANGUAGE]
        return PersonaTurn(say=turn.say or "", gives=gives, hang_up=False).model_dump_json()

    return answer
