"""The offline tier: every call of a suite through the whole local stack, a few at a time.

Each call is `simulator.runner.run_scenario`, exactly what `voice-agent simulate` runs: its own
local world (moto, the OpenAI stand-in with the call's knobs, the real bridge), a simulated
caller speaking over a real SIP/RTP call on loopback, then the post-call pass. A persona is played
for its seed by the stand-in persona LLM (persona.play) into that same scenario form, and each
persona run is judged (judge.py): by one stand-in judge for the whole suite (judge_standin.py
behind the simulator's HTTP API), or with `--judge openai` by OpenAI, through the same SDK call.
Calls speak in real time, so a suite takes about as long as its
calls divided by `concurrency`. The online tier (online.py) goes through the same loop, scoring
and judge; only its calls are placed differently.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from openai import OpenAI

from simulator import server
from simulator.http_api import last_user_text
from simulator.runner import run_scenario
from simulator.scenario import Scenario, load_scenario
from voice_agent.cost import prices_from_json
from voice_agent.spec import AgentSpec, load_spec

from . import judge_standin
from .harness_cost import HarnessUsage
from .judge import SCHEMA_NAME, JudgeError, JudgeRequest, ask_judge, brief
from .online import place_persona_call
from .persona import Persona, play
from .scoring import CallScore, score_call
from .suite import Suite


@dataclass(frozen=True)
class PlannedCall:
    persona: str  # a persona's name, or a scenario file's path
    seed: int
    source: Path | Persona

    def scenario(self, suite: Suite) -> Scenario:
        if isinstance(self.source, Path):
            return load_scenario(self.source)
        assert suite.agent is not None  # the suite file requires it with personas
        return play(self.source, suite.agent, load_spec(suite.agent).languages.default, self.seed)


def planned_calls(suite: Suite, files: list[Path], *, first: int = 0, count: int | None = None) -> list[PlannedCall]:
    """Every call: each scenario `repeats` times with seeds its own, +1, +2...; each persona with
    seeds 1, 2, 3... `first`/`count`: runs first..first+count-1 instead (a gate's reruns)."""
    runs = range(first, first + (suite.repeats if count is None else count))
    plan = [PlannedCall(str(p), load_scenario(p).seed + n, p) for p in files for n in runs]
    plan += [PlannedCall(p.name, n + 1, p) for p in suite.personas for n in runs]
    return plan


@dataclass(frozen=True)
class Judge:
    client: OpenAI
    model: str
    requests: Callable[[], list[dict[str, Any]]]  # the bodies the stand-in received


JudgeKind = Literal["stand-in", "openai"]
Tier = Literal["offline", "online"]


@asynccontextmanager
async def open_judge(kind: JudgeKind, model: str) -> AsyncIterator[Judge]:
    """`openai`: the real service (OPENAI_API_KEY; OPENAI_BASE_URL when set, as the SDK reads it),
    the same SDK call as the stand-in's; `stand-in`: the offline judge."""
    if kind == "stand-in":
        async with standin_judge() as judge:
            yield judge
        return
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise JudgeError("the openai judge needs OPENAI_API_KEY")
    yield Judge(OpenAI(api_key=key), model, list)


def standin_answerers() -> dict[str, Callable[[dict[str, Any]], str]]:
    """The stand-in judge by its schema name, for the simulator's HTTP API."""
    return {SCHEMA_NAME: lambda body: judge_standin.answer(last_user_text(body))}


@asynccontextmanager
async def standin_judge() -> AsyncIterator[Judge]:
    """The offline judge: the simulator's HTTP API answering `eval_judgment` with the stand-in."""
    handle = await server.start(None, chat_answerers=standin_answerers())
    try:
        client = OpenAI(api_key="sk-local", base_url=handle.http_url, max_retries=0)
        yield Judge(client, "stand-in-judge", lambda: handle.http_requests)
    finally:
        await handle.close()


async def _one(
    suite: Suite,
    call: PlannedCall,
    gate: asyncio.Semaphore,
    judge: Judge | None,
    on_call: Callable[[CallScore], None] | None,
    agent: Path | None,
    tier: Tier,
) -> CallScore:
    usage: HarnessUsage | None = None  # online: the harness's own model calls, priced with the agent's
    if tier == "online":
        if not isinstance(call.source, Persona):
            raise ValueError("the online tier calls with personas; scenario files run offline")
        async with gate:
            result, scenario, usage = await place_persona_call(suite, call.source, call.seed, agent)
    else:
        scenario = call.scenario(suite)
        async with gate:
            result = await run_scenario(scenario, transport=suite.transport, seed=call.seed, agent=agent)
    # Scored against the suite's (or scenario's) own spec, whichever spec answered: one ruler for both sides.
    spec: AgentSpec = load_spec(scenario.agent)
    score = score_call(scenario, spec, result, call.seed).model_copy(update={"scenario": call.persona})
    if judge is not None and isinstance(call.source, Persona):
        request = JudgeRequest(persona=brief(call.source), rubric=suite.rubric, transcript=score.transcript)
        on_usage = usage.add_judge if usage is not None else None
        judgment = await asyncio.to_thread(ask_judge, judge.client, judge.model, request, on_usage)
        score = score.model_copy(update={"judgment": judgment})
    if usage is not None:
        cost = usage.cost_usd(prices_from_json(os.environ.get("PRICES")))
        score = score.model_copy(update={"harness_cost_usd": round(cost, 6)})
    if on_call is not None:
        on_call(score)
    return score


async def run_calls(
    suite: Suite,
    plan: Sequence[PlannedCall],
    *,
    concurrency: int | None = None,
    on_call: Callable[[CallScore], None] | None = None,
    agent: Path | None = None,
    judge_kind: JudgeKind = "stand-in",
    tier: Tier = "offline",
) -> tuple[list[CallScore], list[str]]:
    """The calls scored, and the calls that broke (the harness or the stack raised): never skipped.
    `tier` online: each persona call is online.place_persona_call's (the model at OPENAI_BASE_URL)."""
    gate = asyncio.Semaphore(concurrency or suite.concurrency)
    async with open_judge(judge_kind, suite.judge_model) as judge:
        outcomes = await asyncio.gather(
            *(_one(suite, call, gate, judge if suite.personas else None, on_call, agent, tier) for call in plan),
            return_exceptions=True,
        )
    calls: list[CallScore] = []
    errors: list[str] = []
    for call, outcome in zip(plan, outcomes, strict=True):
        if isinstance(outcome, CallScore):
            calls.append(outcome)
        elif isinstance(outcome, Exception):
            name = call.persona.rsplit("/", 1)[-1]
            errors.append(f"{name} seed {call.seed}: {type(outcome).__name__}: {outcome}")
        else:
            raise outcome  # CancelledError, KeyboardInterrupt: not a call's failure
    return calls, errors
