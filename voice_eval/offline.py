"""The offline tier: every call of a suite through the whole local stack, a few at a time.

Each call is `simulator.runner.run_scenario`, exactly what `voice-agent simulate` runs: its own
local world (moto, the OpenAI stand-in with the scenario's knobs, the real bridge), a simulated
caller speaking over a real SIP/RTP call on loopback, then the post-call pass. Calls speak in real
time, so a suite takes about as long as its calls divided by `concurrency`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from simulator.runner import run_scenario
from simulator.scenario import load_scenario
from voice_agent.spec import load_spec

from .report import SuiteReport, build_report
from .scoring import CallScore, score_call
from .suite import Suite


def planned_calls(suite: Suite, files: list[Path]) -> list[tuple[Path, int]]:
    """(scenario file, seed) for every call: each scenario `repeats` times, seeds its own, +1, +2..."""
    return [(path, load_scenario(path).seed + k) for path in files for k in range(suite.repeats)]


async def _one(
    suite: Suite,
    path: Path,
    seed: int,
    gate: asyncio.Semaphore,
    on_call: Callable[[CallScore], None] | None,
    agent: Path | None,
) -> CallScore:
    async with gate:
        result = await run_scenario(path, transport=suite.transport, seed=seed, agent=agent)
    scenario = load_scenario(path)
    # Scored against the scenario's own spec, whichever spec answered: one ruler for both sides.
    score = score_call(scenario, load_spec(scenario.agent), result, seed)
    if on_call is not None:
        on_call(score)
    return score


async def run_offline(
    suite: Suite,
    files: list[Path],
    *,
    concurrency: int | None = None,
    on_call: Callable[[CallScore], None] | None = None,
    agent: Path | None = None,
) -> SuiteReport:
    """A call that breaks (the harness or the stack raised) is reported as an error, never skipped."""
    started = time.monotonic()
    gate = asyncio.Semaphore(concurrency or suite.concurrency)
    plan = planned_calls(suite, files)
    outcomes = await asyncio.gather(
        *(_one(suite, p, seed, gate, on_call, agent) for p, seed in plan), return_exceptions=True
    )
    calls: list[CallScore] = []
    errors: list[str] = []
    for (path, seed), outcome in zip(plan, outcomes, strict=True):
        if isinstance(outcome, CallScore):
            calls.append(outcome)
        elif isinstance(outcome, Exception):
            errors.append(f"{path.name} seed {seed}: {type(outcome).__name__}: {outcome}")
        else:
            raise outcome  # CancelledError, KeyboardInterrupt: not a call's failure
    return build_report(suite, calls, time.monotonic() - started, errors=errors)
