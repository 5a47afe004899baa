"""One writer for the whole bridge process: every call's turns, decision lines and heartbeats.

Calls hand entries over without waiting (a lock-free queue); one thread writes them with
DynamoDB BatchWriteItem, up to 25 puts a request, across calls. An entry waits at most
`max_wait_s` for its batch to fill, so a crash loses at most the last fraction of a second;
`flush()` writes everything handed over so far and returns once it is durable, which is what a
call's close waits for (finalize_call reads the turns back). Throttled items (UnprocessedItems)
and transient errors are retried with backoff, in order, so nothing is lost to a hiccup.

Heartbeats are conditional updates of a call's META item, which BatchWriteItem cannot carry:
the same thread sends one per live call every `heartbeat_s`, spread over the calls' start times,
in between batches. One thread means one connection: the store's client needs no bigger pool for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from realtime_bridge.aws_http import HttpError
from realtime_bridge.journal_table import JournalTable
from voice_agent.decisions import DecisionLine
from voice_agent.record_store import BATCH_WRITE_LIMIT, RecordStore, Turn

log = logging.getLogger(__name__)

Entry = Turn | DecisionLine
Item = dict[str, Any]
# Errors worth waiting out; anything else (a malformed item) is isolated and reported.
_TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionInProgressException",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 0.05
    max_s: float = 1.0
    give_up_s: float = 60.0  # DynamoDB down this long: the entries are logged as lost, by key

    def delays(self) -> Iterator[float]:
        """0 (the first attempt), then doubling waits up to `max_s`, for `give_up_s` in all."""
        yield 0.0
        delay, total = self.first_s, 0.0
        while total + delay <= self.give_up_s:
            yield delay
            total += delay
            delay = min(delay * 2, self.max_s)


@dataclass(frozen=True, slots=True)
class _Watch:
    call_id: str
    live: bool


@dataclass(frozen=True, slots=True)
class _Flush:
    done: Callable[[], object]


_STOP = object()


class JournalWriter:
    def __init__(
        self,
        table: JournalTable,
        *,
        max_wait_s: float = 0.25,
        heartbeat_s: float = 15.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._max_wait_s, self._heartbeat_s = max_wait_s, heartbeat_s
        self._clock_ms, self._backoff, self._sleep = clock_ms, backoff, sleep
        self._inbox: queue.SimpleQueue[Entry | _Watch | _Flush | object] = queue.SimpleQueue()
        self._urgent = threading.Event()  # a flush is waiting: write now
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.requests = 0  # BatchWriteItem requests sent (retries included)
        self.items_written = 0
        self.items_lost = 0

    # ---- the loop's side: never blocks --------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
            self._thread.start()

    def submit(self, entry: Entry) -> None:
        if self._stopped:
            log.error("journal writer stopped: %s of %s not persisted", type(entry).__name__, entry.call_id)
            return
        self._inbox.put(entry)

    def watch(self, call_id: str) -> None:
        """Heartbeat this call from now on (its first beat one interval from now: CallStarted set one)."""
        self._inbox.put(_Watch(call_id, live=True))

    def unwatch(self, call_id: str) -> None:
        self._inbox.put(_Watch(call_id, live=False))

    async def flush(self) -> None:
        """Return once every entry submitted before this call is written (or reported lost)."""
        if self._thread is None or self._stopped:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._inbox.put(_Flush(lambda: loop.call_soon_threadsafe(_resolve, done)))
        self._urgent.set()
        await done

    async def stop(self) -> None:
        """Write everything queued, then end the thread."""
        if self._stopped:
            return
        await self.flush()
        self._stopped = True
        self._inbox.put(_STOP)
        self._urgent.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            written, requests, lost = self.items_written, self.requests, self.items_lost
            log.info("journal writer: %d entries in %d requests, %d lost", written, requests, lost)

    # ---- the writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        pending: list[Item] = []
        oldest = 0.0  # monotonic time the oldest pending item arrived
        beats: dict[str, float] = {}  # call id -> when its next heartbeat is due
        while True:
            wake = min(beats.values(), default=None)
            if pending:
                due = oldest + self._max_wait_s
                wake = due if wake is None else min(wake, due)
            timeout = None if wake is None else max(0.0, wake - time.monotonic())
            message = self._next(timeout, wait_out=bool(pending))
            flushes: list[_Flush] = []
            stopping = False
            while message is not None:  # take everything already queued: that is the batching
                if isinstance(message, Turn | DecisionLine):
                    if not pending:
                        oldest = time.monotonic()
                    pending.append(self._item(message))
                elif isinstance(message, _Watch):
                    if message.live:
                        beats[message.call_id] = time.monotonic() + self._heartbeat_s
                    else:
                        beats.pop(message.call_id, None)
                elif isinstance(message, _Flush):
                    flushes.append(message)
                else:  # _STOP
                    stopping = True
                    break
                try:
                    message = self._inbox.get_nowait()
                except queue.Empty:
                    message = None
            if pending and (flushes or stopping or time.monotonic() >= oldest + self._max_wait_s):
                self._write(pending)
                pending = []
            for flush in flushes:
                with contextlib.suppress(RuntimeError):  # its loop is gone: nobody is waiting any more
                    flush.done()
            if stopping:
                return
            self._beat(beats)

    def _next(self, timeout: float | None, *, wait_out: bool) -> Entry | _Watch | _Flush | object | None:
        """The next message, or None at the timeout. With entries pending, the thread sleeps the
        batch window out (a flush cuts it short) instead of waking for every submission."""
        try:
            if not wait_out:
                return self._inbox.get(timeout=timeout)  # None: until something comes
            self._urgent.wait(timeout)
            self._urgent.clear()
            return self._inbox.get_nowait()
        except queue.Empty:
            return None

    def _item(self, entry: Entry) -> Item:
        return RecordStore.turn_item(entry) if isinstance(entry, Turn) else RecordStore.decision_item(entry)

    def _write(self, items: list[Item]) -> None:
        """Every item, in order, in batches of distinct keys (a batch may not name a key twice)."""
        batch: list[Item] = []
        keys: set[tuple[str, str]] = set()
        for item in items:
            key = (item["call_id"], item["sk"])
            if len(batch) == BATCH_WRITE_LIMIT or key in keys:
                self._write_batch(batch)
                batch, keys = [], set()
            batch.append(item)
            keys.add(key)
        if batch:
            self._write_batch(batch)

    def _write_batch(self, batch: list[Item]) -> None:
        todo = batch
        for delay in self._backoff.delays():
            if delay:
                self._sleep(delay)
            try:
                self.requests += 1
                left = self._table.put_batch(todo)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") in _TRANSIENT_CODES:
                    log.warning("journal batch of %d: %s; retrying", len(todo), err)
                    continue
                self._isolate(todo, err)
                return
            except (BotoCoreError, HttpError) as err:  # connection reset, timeout: retried as is
                log.warning("journal batch of %d: %s; retrying", len(todo), err)
                continue
            except Exception as err:  # never let the thread die: every later flush would wait forever
                log.exception("journal batch of %d failed", len(todo))
                self._isolate(todo, err)
                return
            self.items_written += len(todo) - len(left)
            if not left:
                return
            todo = left  # throttled: only these, after the backoff
        self._lost(todo, "DynamoDB did not take them in time")

    def _isolate(self, batch: list[Item], err: Exception) -> None:
        """A request DynamoDB refused as a whole: one item at a time, so one bad item costs only itself."""
        if len(batch) == 1:
            self._lost(batch, str(err))
            return
        for item in batch:
            self._write_batch([item])

    def _lost(self, items: list[Item], why: str) -> None:
        self.items_lost += len(items)
        for item in items:  # keys only: the text is the caller's words
            log.error("journal entry %s/%s not persisted: %s", item["call_id"], item["sk"], why)

    def _beat(self, beats: dict[str, float]) -> None:
        now = time.monotonic()
        due = [call_id for call_id, at in beats.items() if at <= now]
        for call_id in due[:8]:  # a few per turn of the loop: turns never wait behind a sweep
            beats[call_id] = now + self._heartbeat_s
            try:
                self._table.heartbeat(call_id, self._clock_ms())
            except Exception:  # a missed beat is not a lost call: the reaper waits for several
                log.exception("heartbeat failed for %s", call_id)


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
