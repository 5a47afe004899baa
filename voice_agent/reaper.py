"""The reaper: closes calls whose bridge died mid-call, so that reconciliation still runs.

A live call heartbeats on its META item and sits in the sparse `live-calls` index until the gate
ends it. A container killed mid-call leaves the call live with a heartbeat that stops moving.
Each sweep finds those, moves each to ENDED (reason bridge_lost) with the gate's conditional
store transition -- so a sweep that races another, or the gate itself, ends a call at most once --
archives the transcript from the per-turn store, and emits CallEnded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .archive_store import ArchiveStore, CallStamp
from .decisions import DecisionLog
from .event_bus import BusPublisher
from .record_store import CallMeta, RecordStore

BRIDGE_LOST = "bridge_lost"
ENDED_BY = "system"
# Several missed heartbeats, not one slow one: a wrongly reaped call hangs up on a live caller.
DEFAULT_STALE_AFTER_MS = 90_000


@dataclass
class Reaper:
    store: RecordStore
    log: DecisionLog
    archive: ArchiveStore
    bus: BusPublisher
    clock_ms: Callable[[], int]
    stale_after_ms: int = DEFAULT_STALE_AFTER_MS

    def sweep(self) -> list[str]:
        """Reap every stale live call; returns the call ids this sweep ended."""
        now = self.clock_ms()
        return [m.call_id for m in self.store.stale_live_calls(now - self.stale_after_ms) if self._reap(m, now)]

    def _reap(self, meta: CallMeta, now: int) -> bool:
        call_id = meta.call_id
        if not self.store.transition_gate(
            call_id, meta.gate_version, "ENDED", ended_by=ENDED_BY, ended_reason=BRIDGE_LOST, ended_ms=now
        ):
            return False  # the gate moved since the index was read: someone else owns this ending
        silent_s = (now - (meta.heartbeat_ms or meta.started_ms)) // 1000
        self.log.for_agent(meta.agent, meta.spec_version).record(
            call_id,
            "end_call_gate",
            "ended",
            f"{BRIDGE_LOST}: no bridge heartbeat for {silent_s}s",
            state_from=meta.status,
            state_to="ENDED",
        )
        self.archive.put_transcript(call_id, meta.started_ms, self.store.turns(call_id), stamp=CallStamp.of(meta))
        self.bus.publish("CallEnded", {"call_id": call_id, "ended_by": ENDED_BY, "reason": BRIDGE_LOST})
        return True
