"""After a call: its cost on the record, its transcript in S3, and CallEnded for the post-call pass.

The transcript comes from the per-turn store (what was durably written), not from memory, so
what auditors read is exactly what a crash would have left.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Protocol

from voice_agent.archive_store import ArchiveStore, CallStamp
from voice_agent.cost import Prices, Usage
from voice_agent.record_store import RecordStore

log = logging.getLogger(__name__)


class CallEndedSink(Protocol):
    def publish(self, detail_type: str, detail: dict[str, object]) -> None: ...


def finalize_call(
    call_id: str,
    store: RecordStore,
    archive: ArchiveStore,
    sink: CallEndedSink,
    usage: Usage,
    prices: Prices,
) -> str | None:
    """Flush one ended call; returns the transcript key (None if the call was never started)."""
    meta = store.get_call(call_id)
    if meta is None:
        return None
    usage.call_ms = max(0, (meta.ended_ms or int(time.time() * 1000)) - meta.started_ms)
    cost = usage.cost(prices)
    store.set_meta(call_id, usage=usage.model_dump(), cost=cost.stored(), cost_usd=Decimal(str(cost.total_usd)))
    key = archive.put_transcript(call_id, meta.started_ms, store.turns(call_id), stamp=CallStamp.of(meta))
    if meta.status != "ENDED":
        # Not closed through the gate (the bridge failed mid-call): the heartbeat has stopped, so
        # the reaper ends it as bridge_lost and emits CallEnded itself.
        log.warning("call %s left %s; the reaper will finalise it", call_id, meta.status)
        return key
    sink.publish(
        "CallEnded",
        {"call_id": call_id, "ended_by": meta.ended_by or "system", "reason": meta.ended_reason or "unknown"},
    )
    return key
