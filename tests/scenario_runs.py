"""The shipped scenarios, each placed once per test session however many test modules read it.

`tests/bridge/test_scenarios.py` checks every scenario's expectations; `tests/cli` reads the files a
few of the same calls write. A call over loopback SIP takes tens of seconds in real time, so the
second reader takes the first one's results instead of placing the calls again; run alone, each
places only what it asks for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import TypeVar

from simulator.runner import SimulationResult, run_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
# Calls at once: each has its own local world and a caller speaking in real time; a machine of two
# cores carries about four without bending their timing.
AT_ONCE = 4
T = TypeVar("T")


class ScenarioRuns:
    def __init__(self) -> None:
        self._done: dict[str, SimulationResult] = {}

    def get(self, names: Iterable[str]) -> dict[str, SimulationResult]:
        results, _ = self.get_alongside(names, asyncio.sleep(0))
        return results

    def get_alongside(self, names: Iterable[str], other: Awaitable[T]) -> tuple[dict[str, SimulationResult], T]:
        """The named scenarios' results, placing those not placed yet while `other` runs too."""
        wanted = list(names)
        missing = [n for n in wanted if n not in self._done]

        async def place() -> tuple[list[SimulationResult], T]:
            gate = asyncio.Semaphore(AT_ONCE)

            async def one(name: str) -> SimulationResult:
                async with gate:
                    return await run_scenario(SCENARIOS / f"{name}.yaml")

            placed, extra = await asyncio.gather(asyncio.gather(*(one(n) for n in missing)), other)
            return list(placed), extra

        placed, extra = asyncio.run(place())
        self._done.update(zip(missing, placed, strict=True))
        return {n: self._done[n] for n in wanted}, extra
