"""One pacing tick for every RTP stream of the process: a timer wheel on one loop timer.

Each stream's 20 ms grid has its own phase (a talkspurt starts the moment its audio arrives), so
the wheel cuts the 20 ms frame into `SLOTS` slots of `QUANTUM` and files each stream under the
first slot at or after its next frame's due time. One loop timer wakes at the next slot that
holds a stream and sends every due frame there: at 100 calls a handful of wakeups per 20 ms
instead of 100 timers, with no allocation per frame. A frame leaves at most one quantum after
its due time, a constant offset within a talkspurt (its timestamps stay those of its slot).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Protocol

from realtime_bridge.rtp.sender import FRAME_SECONDS

log = logging.getLogger(__name__)
SLOTS = 10
QUANTUM = FRAME_SECONDS / SLOTS  # 2 ms
SLACK = 1e-4  # a frame due this close after the tick goes now, not a whole frame later


class Paced(Protocol):
    def due(self) -> float | None: ...

    def pace(self, now: float) -> None:
        """Send every frame due by ``now``."""


class Pacer:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoch = loop.time()  # tick n is at epoch + n * QUANTUM, in slot n % SLOTS
        self._slots: list[list[Paced]] = [[] for _ in range(SLOTS)]
        self._slot_of: dict[Paced, int] = {}
        self._next = 0  # the first tick not yet run
        self._timer: asyncio.TimerHandle | None = None
        self._armed: int | None = None  # the tick the timer is set for
        self.wakeups = 0

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Pacer:
        """The loop's pacer (a process normally runs one loop); it lives while it paces a stream."""
        pacer = _PACERS.get(loop)
        if pacer is None:
            pacer = _PACERS[loop] = cls(loop)
        return pacer

    def now(self) -> float:
        return self._loop.time()

    def __len__(self) -> int:
        return len(self._slot_of)

    def file(self, stream: Paced) -> None:
        """(Re)file a stream under the slot of its next due frame: when it starts and whenever its
        grid moves (a talkspurt started at once)."""
        due = stream.due()
        if due is None:
            return
        tick = max(self._next, math.ceil((due - self._epoch) / QUANTUM - SLACK / QUANTUM))
        slot = tick % SLOTS
        old = self._slot_of.get(stream)
        if old != slot:
            if old is not None:
                self._slots[old].remove(stream)
            self._slots[slot].append(stream)
            self._slot_of[stream] = slot
        if self._armed is None or tick < self._armed:
            self._arm(tick)

    def remove(self, stream: Paced) -> None:
        slot = self._slot_of.pop(stream, None)
        if slot is not None:
            self._slots[slot].remove(stream)
        if not self._slot_of:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._armed = None
            if _PACERS.get(self._loop) is self:
                del _PACERS[self._loop]

    def _arm(self, tick: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed = tick
        self._timer = self._loop.call_at(self._epoch + tick * QUANTUM, self._run)

    def _run(self) -> None:
        self.wakeups += 1
        self._timer = self._armed = None
        now = self._loop.time()
        last = math.floor((now - self._epoch + SLACK) / QUANTUM)  # every tick that has come
        first = max(self._next, last - SLOTS + 1)  # a long stall: each slot once, not each tick
        for tick in range(first, last + 1):
            for stream in self._slots[tick % SLOTS]:  # nothing files or removes a stream while it paces
                try:
                    stream.pace(now)
                except Exception:  # one broken stream must not silence every other call
                    log.exception("RTP stream failed to send")
        self._next = max(self._next, last + 1)
        for tick in range(self._next, self._next + SLOTS):  # the next slot that holds a stream
            if self._slots[tick % SLOTS]:
                self._arm(tick)
                return


_PACERS: dict[asyncio.AbstractEventLoop, Pacer] = {}
