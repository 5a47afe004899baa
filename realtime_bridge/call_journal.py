"""Durable call state written as it happens: transcript turns and the liveness heartbeat.

Writes go through a queue to one worker on a thread, so nothing on the audio path waits for
DynamoDB, and a crash loses at most the turn in flight. The heartbeat marks the call live so the
reaper can find calls whose container died.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Callable
from typing import Literal

from voice_agent.decisions import DecisionLine
from voice_agent.record_store import RecordStore, Turn

log = logging.getLogger(__name__)


class CallJournal:
    def __init__(
        self,
        store: RecordStore,
        call_id: str,
        *,
        heartbeat_s: float = 15.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        on_turn: Callable[[Turn], None] | None = None,
    ) -> None:
        self._on_turn = on_turn
        self._store, self.call_id = store, call_id
        self._heartbeat_s = heartbeat_s
        self._clock_ms = clock_ms
        self._t0 = time.monotonic()
        self._queue: asyncio.Queue[Turn | DecisionLine | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.turns: list[Turn] = []  # in seq order: the order things were said
        self._seq = 0
        self._reserved: dict[str, tuple[int, int]] = {}  # caller item id -> (seq, t_ms), text to come
        self._seqs: dict[str, int] = {}  # item id -> seq of its turn

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._writer()), asyncio.create_task(self._heartbeat())]

    @property
    def last_seq(self) -> int:
        return self._seq

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000)

    def add(
        self,
        speaker: Literal["caller", "agent", "system"],
        text: str,
        *,
        item_id: str | None = None,
        interrupted: bool = False,
        heard_ms: int | None = None,
        t_ms: int | None = None,
    ) -> Turn:
        """Record a turn now; it is persisted in the background, in order."""
        self._seq += 1
        turn = Turn(
            call_id=self.call_id,
            seq=self._seq,
            t_ms=self.elapsed_ms() if t_ms is None else t_ms,
            speaker=speaker,
            text=text,
            item_id=item_id,
            interrupted=interrupted,
            heard_ms=heard_ms,
        )
        return self._keep(turn)

    def reserve(self, item_id: str, t_ms: int) -> int:
        """A caller turn's place, taken when the caller starts speaking: its transcription
        arrives later (often after the reply has started), but the transcript keeps speech order."""
        self._seq += 1
        self._reserved[item_id] = (self._seq, t_ms)
        self._seqs[item_id] = self._seq
        return self._seq

    def fill(self, item_id: str, text: str, *, untranscribed: bool = False) -> Turn | None:
        """The reserved caller turn's words (or the fact that they were lost); persisted now."""
        place = self._reserved.pop(item_id, None)
        if place is None:
            return None
        seq, t_ms = place
        turn = Turn(
            call_id=self.call_id, seq=seq, t_ms=t_ms, speaker="caller", text=text, item_id=item_id,
            untranscribed=untranscribed,
        )  # fmt: skip
        return self._keep(turn)

    def seq_of(self, item_id: str | None) -> int | None:
        return self._seqs.get(item_id) if item_id is not None else None

    def _keep(self, turn: Turn) -> Turn:
        bisect.insort(self.turns, turn, key=lambda t: t.seq)
        if turn.item_id is not None:
            self._seqs.setdefault(turn.item_id, turn.seq)
        self._queue.put_nowait(turn)
        if self._on_turn is not None:
            self._on_turn(turn)
        return turn

    def add_decision(self, line: DecisionLine) -> None:
        """A decision line, persisted in the background so the call's decisions reach S3."""
        self._queue.put_nowait(line)

    async def _writer(self) -> None:
        while (entry := await self._queue.get()) is not None:
            write = self._store.append_turn if isinstance(entry, Turn) else self._store.append_decision
            try:
                await asyncio.to_thread(write, entry)  # type: ignore[arg-type]
            except Exception:  # a store hiccup must not end the call; the entry stays in memory
                log.exception("could not persist %s for %s", type(entry).__name__, self.call_id)

    async def _heartbeat(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._store.heartbeat, self.call_id, self._clock_ms())
            except Exception:
                log.exception("heartbeat failed for %s", self.call_id)
            await asyncio.sleep(self._heartbeat_s)

    async def close(self) -> None:
        """Flush every queued turn, stop the heartbeat."""
        self._queue.put_nowait(None)
        writer, heartbeat = self._tasks or (None, None)
        if heartbeat is not None:
            heartbeat.cancel()
        if writer is not None:
            await writer
        if heartbeat is not None:
            await asyncio.gather(heartbeat, return_exceptions=True)
