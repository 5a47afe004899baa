"""The tasks of one call, supervised: a task that fails marks the call broken and wakes its
owner (who ends the call with a BYE), so a dead uplink, sender or reader never leaves a caller
on a deaf line. Unlike `asyncio.TaskGroup`, a failure does not cancel the siblings at once: the
owner still finishes the call (its state flushed, the BYE sent) before it cancels them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class CallTasks:
    def __init__(self, call_id: str, on_failure: Callable[[], None]) -> None:
        self._call_id, self._on_failure = call_id, on_failure
        self._tasks: set[asyncio.Task[Any]] = set()
        self.broken = False

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: task failed; ending the call", self._call_id, exc_info=task.exception())
            self.broken = True
            self._on_failure()

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
