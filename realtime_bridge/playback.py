"""What the caller actually heard, per assistant item: barge-in as data.

The model generates audio faster than real time; the RTP pacer plays it. On caller speech the
bridge clears what is queued and tells the model where each cut item stopped: the milliseconds
actually sent, clamped to what was generated (a truncate past the generated audio is an error,
and a wrong one changes what the model believes it said).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BYTES_PER_MS = 8  # G.711 at 8 kHz


@dataclass
class ItemAudio:
    response_id: str
    generated_ms: int = 0
    interrupted: bool = False
    heard_ms: int | None = None  # set when cut short
    dropped: bool = False  # never played (a response after the closing, an extra goodbye)
    started_ms: int | None = None  # call time of its first audio
    text: str | None = None  # its transcript, once the response is done


@dataclass(frozen=True, slots=True)
class Truncation:
    item_id: str
    audio_end_ms: int


@dataclass
class PlaybackTracker:
    items: dict[str, ItemAudio] = field(default_factory=dict)
    dropped_responses: set[str] = field(default_factory=set)

    def generated(self, item_id: str, response_id: str, nbytes: int) -> None:
        item = self.items.get(item_id)
        if item is None:
            item = self.items[item_id] = ItemAudio(response_id)
        item.generated_ms += nbytes // BYTES_PER_MS

    def is_dropped(self, response_id: str, item_id: str) -> bool:
        item = self.items.get(item_id)
        return response_id in self.dropped_responses or (item is not None and item.dropped)

    def drop_item(self, item_id: str, response_id: str) -> None:
        self.items.setdefault(item_id, ItemAudio(response_id)).dropped = True

    def cut(self, sent_ms: dict[str, int]) -> list[Truncation]:
        """The pacer's queue was cleared; `sent_ms` is what it had sent of each item cut short."""
        out: list[Truncation] = []
        for item_id, ms in sent_ms.items():
            item = self.items.get(item_id)
            if item is None or item.dropped:
                continue
            heard = max(0, min(ms, item.generated_ms))
            item.interrupted, item.heard_ms = True, heard
            self.dropped_responses.add(item.response_id)  # late deltas of a cut response are ignored
            out.append(Truncation(item_id, heard))
        return out
