"""Durable call state written as it happens: transcript turns, decision lines, the heartbeat.

The journal keeps the call's transcript in memory (in speech order) and hands every entry to the
bridge's one `JournalWriter`, which batches them across calls on its own thread: nothing on the
audio path waits for DynamoDB, and a crash loses at most the last fraction of a second. While
the call runs the writer heartbeats it, so the reaper can find calls whose container died.
A journal may own its writer instead (a single call in a test).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from typing import Literal

from realtime_bridge.call_events import FillCallerTurn, ReserveTurn, WriteTurn
from realtime_bridge.journal_writer import JournalWriter
from voice_agent.decisions import DecisionLine
from voice_agent.record_store import Turn


class CallJournal:
    def __init__(
        self,
        call_id: str,
        writer: JournalWriter,
        *,
        own_writer: bool = False,  # a writer of its own (a single call in a test): started and stopped here
        on_turn: Callable[[Turn], None] | None = None,
    ) -> None:
        self._on_turn = on_turn
        self.call_id = call_id
        self._own = own_writer
        self._writer = writer
        self._t0 = time.monotonic()
        self._started = False
        self.turns: list[Turn] = []  # in seq order: the order things were said
        self._seq = 0
        self._reserved: dict[str, tuple[int, int]] = {}  # item id -> (seq, t_ms): its words are to come
        self._seqs: dict[str, int] = {}  # item id -> seq of its turn

    def start(self) -> None:
        if self._own:
            self._writer.start()
        self._writer.watch(self.call_id)
        self._started = True

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
        """Record a turn now, in the place its item reserved if it did; persisted in the background."""
        place = self._reserved.pop(item_id, None) if item_id is not None else None
        if place is None:
            self._seq += 1
        seq, reserved_ms = place or (self._seq, None)
        turn = Turn(
            call_id=self.call_id,
            seq=seq,
            t_ms=t_ms if t_ms is not None else reserved_ms if reserved_ms is not None else self.elapsed_ms(),
            speaker=speaker,
            text=text,
            item_id=item_id,
            interrupted=interrupted,
            heard_ms=heard_ms,
        )
        return self._keep(turn)

    def reserve(self, item_id: str, t_ms: int) -> int:
        """A turn's place, taken when it starts to be heard (the caller starts speaking, the agent's
        first audio plays): its words come later (a caller's transcription often after the reply
        has started, an agent's once heard), but the transcript keeps the order of speech."""
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

    def record(self, action: ReserveTurn | FillCallerTurn | WriteTurn) -> None:
        """Carry out one of call control's transcript actions."""
        if isinstance(action, ReserveTurn):
            self.reserve(action.item_id, action.t_ms)
        elif isinstance(action, FillCallerTurn):
            self.fill(action.item_id, action.text, untranscribed=action.status == "untranscribed")
        else:
            self.add(
                action.speaker, action.text, item_id=action.item_id, interrupted=action.interrupted,
                heard_ms=action.heard_ms, t_ms=action.t_ms,
            )  # fmt: skip

    def seq_of(self, item_id: str | None) -> int | None:
        return self._seqs.get(item_id) if item_id is not None else None

    def _keep(self, turn: Turn) -> Turn:
        bisect.insort(self.turns, turn, key=lambda t: t.seq)
        if turn.item_id is not None:
            self._seqs.setdefault(turn.item_id, turn.seq)
        self._writer.submit(turn)
        if self._on_turn is not None:
            self._on_turn(turn)
        return turn

    def add_decision(self, line: DecisionLine) -> None:
        """A decision line, persisted in the background so the call's decisions reach S3."""
        self._writer.submit(line)

    async def close(self) -> None:
        """Stop the heartbeat; return once every entry of this call is durably written."""
        if self._started:
            self._writer.unwatch(self.call_id)
        if self._own:
            await self._writer.stop()
        else:
            await self._writer.flush()
