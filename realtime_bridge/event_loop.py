"""The event loop the bridge runs on: uvloop by default, the standard loop on request.

uvloop's libuv core costs the loop less per datagram, timer and socket write than asyncio's
selector loop, which at 100 calls is most of what the bridge's loop does (`make bench-load`
measures both: LOOP=asyncio). BRIDGE_EVENT_LOOP=asyncio is the way back if a platform or a
library misbehaves under uvloop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopName = Literal["uvloop", "asyncio"]
LOOPS: tuple[LoopName, ...] = ("uvloop", "asyncio")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop  # only the process that runs the loop needs it

        return uvloop.new_event_loop
    if name == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(f"unknown event loop {name!r}: choose one of {', '.join(LOOPS)}")


def run(main: Coroutine[Any, Any, T], loop: str = "uvloop") -> T:
    """asyncio.run on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
