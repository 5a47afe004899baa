"""One response as a timeline of server events, in the order the recordings show.

Built up front from the model's outputs; `due(now)` hands out the events whose time
has come (audio is generated `speed` times faster than real time, after a first-audio
latency). `cancel()` closes whatever is in flight and ends with a cancelled
response.done. `ending` makes a run fail (no output) or stop half-way (`incomplete`), as
real responses do. No I/O: the session and the server decide when to call what.
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from simulator.ids import IdFactory
from simulator.mulaw import BYTES_PER_MS
from simulator.scripted_model import Call, Output, Say

CHUNK_MS = 100  # audio per output_audio.delta
Event = dict[str, Any]
Ending = Literal["completed", "failed", "incomplete"]
_DETAILS: dict[Ending, Event | None] = {
    "completed": None,
    "failed": {
        "type": "failed",
        "error": {
            "type": "server_error",
            "code": "internal_error",
            "message": "The server had an error while processing your request. Sorry about that!",
        },
    },
    "incomplete": {"type": "incomplete", "reason": "max_output_tokens"},
}


@dataclass
class ItemProgress:
    """An assistant audio item: how much audio has been generated so far."""

    item_id: str
    output_index: int
    text: str
    audio: bytes
    open_ms: float = 0.0  # when its output_item.added is due (its audio starts playing about then)
    sent_bytes: int = 0
    sent_words: int = 0

    @property
    def generated_ms(self) -> int:
        return self.sent_bytes // BYTES_PER_MS


@dataclass
class ResponseRun:
    response_id: str
    outputs: list[Output]
    ids: IdFactory
    render: Callable[[str], bytes]  # text -> agent audio (mu-law)
    encode_out: Callable[[bytes], bytes]  # mu-law -> session output format
    in_conversation: bool
    conversation_id: str | None
    start_ms: float
    first_audio_ms: int
    speed: float
    voice: str
    output_format: dict[str, Any]
    on_item_added: Callable[[dict[str, Any]], str | None]  # appends to the conversation; previous id
    usage: Callable[[list[dict[str, Any]]], dict[str, Any]]
    metadata: dict[str, str] | None = None  # echoed from response.create, as the service does
    ending: Ending = "completed"  # failed: pass no outputs; incomplete: about half the audio, then stop
    status: str = "in_progress"
    done_items: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, ItemProgress] = field(default_factory=dict)
    _steps: deque[tuple[float, Callable[[], list[Event]]]] = field(default_factory=deque)
    _current: ItemProgress | None = None
    _previous: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = self.start_ms + self.first_audio_ms
        # An incomplete run generates half its audio chunks (no audio: half its items), then stops.
        budget: int | None = None
        audio_chunks = 0
        if self.ending == "incomplete":
            audio_chunks = sum(self._chunks(len(self.render(o.text))) for o in self.outputs if isinstance(o, Say))
            budget = max(1, audio_chunks // 2) if audio_chunks else len(self.outputs) // 2
        for index, output in enumerate(self.outputs):
            if budget is not None and budget <= 0:
                break  # max_output_tokens: nothing after the cut is generated
            if isinstance(output, Say):
                t, used = self._plan_say(index, output, t, budget)
                budget = None if budget is None else budget - used
            else:
                t = self._plan_call(index, output, t)
                budget = None if budget is None or audio_chunks else budget - 1
        self._steps.append((t, self._finish))

    @staticmethod
    def _chunks(audio_bytes: int) -> int:
        return max(1, -(-audio_bytes // (CHUNK_MS * BYTES_PER_MS)))

    # -- public ---------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.status == "in_progress"

    def created_event(self) -> Event:
        return {"type": "response.created", "response": self._response([], "in_progress", None, None)}

    def next_due_ms(self) -> float | None:
        return self._steps[0][0] if self._steps else None

    def due(self, now_ms: float) -> list[Event]:
        events: list[Event] = []
        while self._steps and self._steps[0][0] <= now_ms:
            events.extend(self._steps.popleft()[1]())
        return events

    def cancel(self, reason: str) -> list[Event]:
        """Stop generating: close the open item as incomplete, then response.done cancelled."""
        self._steps.clear()
        events: list[Event] = []
        if self._current is not None:
            events.extend(self._close_say(self._current, "incomplete"))
        self.status = "cancelled"
        details = {"type": "cancelled", "reason": reason}
        events.append(self._done("cancelled", details))
        return events

    # -- planning ---------------------------------------------------------------
    def _plan_say(self, index: int, say: Say, t: float, budget: int | None) -> tuple[float, int]:
        """Plan one audio item (cut after `budget` chunks); returns the time it ends and chunks used."""
        progress = ItemProgress(self.ids.new("item"), index, say.text, self.render(say.text), open_ms=t)
        self.items[progress.item_id] = progress
        self._steps.append((t, lambda: self._open_say(progress)))
        n_chunks = self._chunks(len(progress.audio))
        sent = n_chunks if budget is None else min(n_chunks, budget)
        for i in range(sent):
            t += CHUNK_MS / self.speed
            self._steps.append((t, partial(self._audio_chunk, progress, i, n_chunks)))
        status = "completed" if sent == n_chunks else "incomplete"
        self._steps.append((t, lambda: self._close_say(progress, status)))
        return t, sent

    def _plan_call(self, index: int, call: Call, t: float) -> float:
        item = {
            "id": self.ids.new("item"),
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": self.ids.new("call")[:21],
            "arguments": "",
        }
        self._steps.append((t, lambda: self._open_call_item(item, index, call.arguments_json)))
        return t + 20 / self.speed

    # -- steps ---------------------------------------------------------------------
    def _item_added(self, item: dict[str, Any], index: int) -> list[Event]:
        events: list[Event] = [
            {
                "type": "response.output_item.added",
                "response_id": self.response_id,
                "output_index": index,
                "item": dict(item),
            }
        ]
        if self.in_conversation:
            previous = self.on_item_added(item)
            self._previous[item["id"]] = previous
            events.append({"type": "conversation.item.added", "previous_item_id": previous, "item": dict(item)})
        return events

    def _open_say(self, progress: ItemProgress) -> list[Event]:
        self._current = progress
        item = {"id": progress.item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        events = self._item_added(item, progress.output_index)
        events.append(self._part_event("response.content_part.added", progress, ""))
        return events

    def _audio_chunk(self, progress: ItemProgress, i: int, n: int) -> list[Event]:
        events: list[Event] = []
        words = progress.text.split(" ")
        # Transcript leads the audio a little, as in the recordings.
        target = min(len(words), -(-(i + 1) * len(words) // n) + 1)
        while progress.sent_words < target:
            w = progress.sent_words
            delta = words[w] if w == 0 else " " + words[w]
            events.append({**self._ids(progress), "type": "response.output_audio_transcript.delta", "delta": delta})
            progress.sent_words += 1
        chunk = progress.audio[i * CHUNK_MS * BYTES_PER_MS : (i + 1) * CHUNK_MS * BYTES_PER_MS]
        if chunk:
            progress.sent_bytes += len(chunk)
            delta = base64.b64encode(self.encode_out(chunk)).decode()
            events.append({**self._ids(progress), "type": "response.output_audio.delta", "delta": delta})
        return events

    def _close_say(self, progress: ItemProgress, status: str) -> list[Event]:
        self._current = None
        spoken = " ".join(progress.text.split(" ")[: progress.sent_words])
        if status == "completed":
            spoken = progress.text
        item = {
            "id": progress.item_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": spoken}],
        }
        events: list[Event] = [
            {**self._ids(progress), "type": "response.output_audio.done"},
            {**self._ids(progress), "type": "response.output_audio_transcript.done", "transcript": spoken},
            self._part_event("response.content_part.done", progress, spoken),
        ]
        return events + self._item_done(item, progress.output_index)

    def _open_call_item(self, item: dict[str, Any], index: int, arguments: str) -> list[Event]:
        events = self._item_added(item, index)
        base = {
            "response_id": self.response_id,
            "item_id": item["id"],
            "output_index": index,
            "call_id": item["call_id"],
        }
        for start in range(0, len(arguments), 8):
            events.append(
                {**base, "type": "response.function_call_arguments.delta", "delta": arguments[start : start + 8]}
            )
        events.append(
            {**base, "type": "response.function_call_arguments.done", "name": item["name"], "arguments": arguments}
        )
        done = {**item, "status": "completed", "arguments": arguments}
        return events + self._item_done(done, index)

    def _item_done(self, item: dict[str, Any], index: int) -> list[Event]:
        self.done_items.append(item)
        events: list[Event] = []
        if self.in_conversation:
            events.append(
                {
                    "type": "conversation.item.done",
                    "previous_item_id": self._previous.get(item["id"]),
                    "item": dict(item),
                }
            )
        events.append(
            {
                "type": "response.output_item.done",
                "response_id": self.response_id,
                "output_index": index,
                "item": dict(item),
            }
        )
        return events

    def _finish(self) -> list[Event]:
        self.status = self.ending
        return [self._done(self.ending, _DETAILS[self.ending])]

    # -- shapes ----------------------------------------------------------------------
    def _ids(self, progress: ItemProgress) -> Event:
        return {
            "response_id": self.response_id,
            "item_id": progress.item_id,
            "output_index": progress.output_index,
            "content_index": 0,
        }

    def _part_event(self, kind: str, progress: ItemProgress, transcript: str) -> Event:
        return {**self._ids(progress), "type": kind, "part": {"type": "audio", "transcript": transcript}}

    def _done(self, status: str, details: dict[str, Any] | None) -> Event:
        usage = self.usage(self.done_items)
        return {"type": "response.done", "response": self._response(self.done_items, status, details, usage)}

    def _response(self, output: list[dict[str, Any]], status: str, details: Any, usage: Any) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": self.response_id,
            "status": status,
            "status_details": details,
            "output": [dict(o) for o in output],
            "conversation_id": self.conversation_id,
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {"output": {"format": self.output_format, "voice": self.voice}},
            "usage": usage,
            "metadata": self.metadata,
        }
