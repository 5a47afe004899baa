"""Lambda: the scheduled sweep for calls whose bridge stopped heartbeating. Event -> Reaper -> reply."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from functions.common import MissingConfiguration, logger, metrics
from voice_agent.archive_store import ArchiveStore
from voice_agent.call_runtime import wall_clock_ms
from voice_agent.decisions import CallbackSink, DecisionLine, DecisionLog
from voice_agent.event_bus import BusPublisher
from voice_agent.reaper import DEFAULT_STALE_AFTER_MS, Reaper
from voice_agent.record_store import RecordStore

_missing = [n for n in ("CALLS_TABLE", "ARCHIVE_BUCKET", "EVENT_BUS_NAME") if not os.environ.get(n)]
if _missing:
    raise MissingConfiguration(f"missing environment variables: {', '.join(_missing)}")


def _log_decision(line: DecisionLine) -> None:
    logger.info(line.decision, extra=line.model_dump(exclude_none=True))


_store = RecordStore(boto3.resource("dynamodb").Table(os.environ["CALLS_TABLE"]))
REAPER = Reaper(
    store=_store,
    log=DecisionLog(CallbackSink(_log_decision), CallbackSink(_store.append_decision)),
    archive=ArchiveStore(boto3.client("s3"), os.environ["ARCHIVE_BUCKET"]),
    bus=BusPublisher(boto3.client("events"), os.environ["EVENT_BUS_NAME"]),
    clock_ms=wall_clock_ms,
    stale_after_ms=int(os.environ.get("REAPER_STALE_AFTER_MS") or DEFAULT_STALE_AFTER_MS),
)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The scheduled event carries nothing the sweep needs: the store says which calls are stale.
    reaped = REAPER.sweep()
    metrics.add_metric(name="CallsReaped", unit=MetricUnit.Count, value=len(reaped))
    if reaped:
        logger.warning("reaped calls whose bridge was lost", extra={"call_ids": reaped})
    return {"ok": True, "reaped": reaped}
