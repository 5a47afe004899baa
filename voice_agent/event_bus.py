"""The voice-agent event bus: CallEnded and RecordReconciled, put on EventBridge.

Its own module so that whoever only publishes (the bridge, the reaper Lambda) imports boto3's
client shape and nothing of the post-call pass (which needs the `openai` SDK).
"""

from __future__ import annotations

import json
from typing import Any

EVENT_SOURCE = "voice-agent"


class BusPublisher:
    """PutEvents on the voice-agent bus; a rejected entry is an error, not a silent drop."""

    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._events, self._bus = events_client, bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self._bus,
        }
        result = self._events.put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            failed = result["Entries"][0]
            raise RuntimeError(f"{detail_type} not accepted by the bus: {failed.get('ErrorCode')}")
