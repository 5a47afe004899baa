"""The server-side conversation: items in order, what each assistant item has generated
(for truncate), the tool calls made and the outputs not yet answered. Pure state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator import protocol_errors as errors
from simulator.response_run import ItemProgress

Event = dict[str, Any]


class Conversation:
    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self.items: dict[str, Event] = {}
        self.order: list[str] = []
        self.audio: dict[str, ItemProgress] = {}  # assistant audio items, by id
        self.calls: dict[str, str] = {}  # call_id -> tool name
        self.pending_outputs: list[tuple[str, str]] = []  # (tool, output) since the last response

    @property
    def last_id(self) -> str | None:
        return self.order[-1] if self.order else None

    def append(self, item: Event) -> str | None:
        """Add at the end; returns the previous item's id (the events' previous_item_id)."""
        previous = self.last_id
        self.items[item["id"]] = item
        self.order.append(item["id"])
        return previous

    def take_outputs(self) -> tuple[tuple[str, str], ...]:
        taken, self.pending_outputs = tuple(self.pending_outputs), []
        return taken

    def create(self, data: Event, event_id: str | None) -> list[Event]:
        """conversation.item.create (appends; a known previous_item_id is accepted)."""
        item = dict(data["item"])
        after = data.get("previous_item_id")
        if after not in (None, "root") and after not in self.items:
            return [errors.item_not_found(after, "previous_item_id", event_id)]
        content = item.get("content") or []
        if item.get("role") == "assistant" and any(
            isinstance(c, dict) and (c.get("audio") or c.get("type") == "output_audio") for c in content
        ):
            return [errors.assistant_audio_injected(event_id)]
        if item["type"] == "function_call_output":
            name = self.calls.get(item["call_id"])
            if name is None:
                message = f"Tool call ID '{item['call_id']}' not found in conversation."
                return [errors.invalid_event(message, event_id, "item.call_id")]
            self.pending_outputs.append((name, item["output"]))
        if item["type"] == "message":
            item.setdefault("status", "completed")
        item.setdefault("id", self._new_id())
        previous = self.append(item)
        return [
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item},
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item},
        ]

    def truncate(self, data: Event, event_id: str | None) -> list[Event]:
        item_id, end_ms = data["item_id"], data["audio_end_ms"]
        if item_id not in self.items:
            return [errors.item_not_found(item_id, "item_id", event_id)]
        progress = self.audio.get(item_id)
        if progress is None:
            return [errors.not_model_audio(event_id)]
        if end_ms > progress.generated_ms:
            return [errors.truncate_too_long(progress.generated_ms, end_ms, event_id)]
        # The server drops the transcript: the model now only "said" what was heard.
        for part in self.items[item_id].get("content") or []:
            if part.get("type") == "output_audio":
                part["transcript"] = ""
        return [
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": data["content_index"],
                "audio_end_ms": end_ms,
            }
        ]

    def delete(self, item_id: str, event_id: str | None) -> list[Event]:
        if item_id not in self.items:
            return [errors.item_not_found(item_id, "item_id", event_id)]
        del self.items[item_id]
        self.order.remove(item_id)
        return [{"type": "conversation.item.deleted", "item_id": item_id}]

    def retrieve(self, item_id: str, event_id: str | None) -> list[Event]:
        if item_id not in self.items:
            return [errors.item_not_found(item_id, "item_id", event_id)]
        return [{"type": "conversation.item.retrieved", "item": self.items[item_id]}]
