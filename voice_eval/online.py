"""The online tier: one persona call through the real bridge to the real realtime model.

Each call gets a local world of its own, as offline (moto for AWS, the real bridge), except that the
bridge's model endpoint is OpenAI's (`OPENAI_API_KEY`; `OPENAI_BASE_URL` when set, as the SDK reads
it), and the caller is the persona caller (persona_caller.py): a persona LLM that hears the agent
through transcription and speaks with the local TTS. The record, transcript and decision lines come
from the stack as offline, so the call is scored by the same code (scoring.py) and judged by the
LLM judge. Nothing here knows whether the endpoint is OpenAI or a stand-in.
"""

from __future__ import annotations

import os
from pathlib import Path

from openai import AsyncOpenAI

from simulator.caller_result import CallerOptions
from simulator.local_world import ModelTarget, model_target
from simulator.runner import SimulationResult, place_call
from simulator.scenario import Scenario

from .harness_cost import HarnessUsage
from .persona import Persona
from .persona_caller import PersonaCaller
from .persona_turns import PersonaConversation
from .suite import Suite


class OnlineError(RuntimeError):
    pass


def online_target() -> ModelTarget:
    """The model endpoint of the online tier; an error when there is no key to reach it."""
    target = model_target(os.environ.get("OPENAI_BASE_URL"))
    if not os.environ.get("OPENAI_API_KEY") or target is None:
        raise OnlineError("the online tier (--online) needs OPENAI_API_KEY in the environment")
    return target


async def place_persona_call(
    suite: Suite, persona: Persona, seed: int, agent: Path | None = None
) -> tuple[SimulationResult, Scenario, HarnessUsage]:
    """One call by `persona` (its persona LLM seeded with `seed`) to `agent` (default: the suite's):
    the stack's result, what the caller said and meant (the scenario form scoring reads), and the
    harness's own model usage."""
    assert suite.agent is not None  # a suite with personas names its agent
    scored_against = suite.agent  # the suite's spec, whichever spec answered (as offline)
    target = online_target()
    settings = suite.online
    client = AsyncOpenAI()  # OPENAI_API_KEY and OPENAI_BASE_URL, exactly as the SDK reads them
    conversation = PersonaConversation(
        persona,
        model=settings.persona_model,
        temperature=settings.persona_temperature,
        seed=seed,
        max_turns=settings.max_turns,
    )
    callers: list[PersonaCaller] = []

    def make(port: int, options: CallerOptions) -> PersonaCaller:
        caller = PersonaCaller(
            conversation,
            client,
            "127.0.0.1",
            port,
            transcribe_model=settings.transcribe_model,
            options=options.model_copy(update={"max_call_s": settings.max_call_s}),
        )
        callers.append(caller)
        return caller

    try:
        result = await place_call(
            agent or scored_against,
            make,
            lambda caller: caller.scenario(scored_against),
            name=persona.name,
            transport=suite.transport,
            target=target,
        )
    finally:
        await client.close()
    return result, conversation.scenario(scored_against), callers[0].usage
