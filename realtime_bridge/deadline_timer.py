"""The one loop timer a sans-I/O core needs: armed at the core's next deadline, and when it runs
the core is told the time, never earlier than the deadline it was armed for.

Why the floor: a loop may run a timer early by its clock's resolution (libuv counts whole
milliseconds). Told "not yet", a core finds nothing due, the shell re-arms the same deadline,
and the timer runs again at once until the clock catches up: a call's shell was measured doing
thousands of such empty ticks a minute, all on the loop that paces audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class DeadlineTimer:
    def __init__(self, fire: Callable[[float], None]) -> None:
        self._fire = fire
        self._loop: asyncio.AbstractEventLoop | None = None  # the first arm's: get_running_loop() costs a getpid()
        self._handle: asyncio.TimerHandle | None = None
        self._armed: float | None = None

    def arm(self, deadline: float | None) -> None:
        """Run `fire(now)` at `deadline` (loop time); None disarms. The same deadline is a no-op."""
        if deadline == self._armed:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._armed = deadline
        if deadline is None:
            self._handle = None
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_at(deadline, self._run)

    def cancel(self) -> None:
        self.arm(None)

    def _run(self) -> None:
        armed = self._armed
        self._handle = self._armed = None
        assert armed is not None and self._loop is not None  # a cancelled handle never runs
        self._fire(max(self._loop.time(), armed))
