"""The shells' one timer: a deadline is told as come even when the loop runs the timer early."""

from __future__ import annotations

import asyncio
from typing import Any

from realtime_bridge.deadline_timer import DeadlineTimer


class EarlyTimers(asyncio.SelectorEventLoop):
    """A loop that runs timers a few milliseconds early, as libuv's whole-millisecond clock can."""

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> asyncio.TimerHandle:
        return super().call_at(when - 0.004, callback, *args, context=context)


def test_an_early_timer_reports_its_deadline_and_runs_once() -> None:
    async def scenario() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        timer = DeadlineTimer(fired.append)
        deadline = loop.time() + 0.05
        timer.arm(deadline)
        timer.arm(deadline)  # the same deadline again: still one timer
        await asyncio.sleep(0.1)
        return fired, deadline

    with asyncio.Runner(loop_factory=EarlyTimers) as runner:
        fired, deadline = runner.run(scenario())
    assert fired == [deadline]  # ran early by the loop's clock, but told the deadline has come


def test_a_new_deadline_replaces_the_old_and_cancel_disarms() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        timer = DeadlineTimer(fired.append)
        timer.arm(loop.time() + 0.02)
        later = loop.time() + 0.06
        timer.arm(later)
        await asyncio.sleep(0.1)
        timer.arm(loop.time() + 0.02)
        timer.cancel()
        await asyncio.sleep(0.05)
        assert len(fired) == 1 and fired[0] >= later
        return fired

    assert len(asyncio.run(scenario())) == 1
