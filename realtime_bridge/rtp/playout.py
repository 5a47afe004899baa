"""Outgoing audio buffer: items in, 160-byte PCMU frames out, milliseconds played per item.

Barge-in is data: ``clear()`` drops everything not yet sent at once and reports how much of
each item the caller actually heard (sent), so the model's item can be truncated there.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
BYTES_PER_MS = 8
SILENCE = 0xFF  # mu-law zero
_SILENCE_FRAME = memoryview(bytes([SILENCE]) * FRAME_BYTES)


@dataclass(slots=True)
class _Queued:
    item_id: str
    data: memoryview
    offset: int = 0  # bytes of data already sent


class PlayoutBuffer:
    def __init__(self) -> None:
        self._items: deque[_Queued] = deque()
        self._sent: dict[str, int] = {}  # bytes sent per item
        self._queued = 0

    def push(self, item_id: str, ulaw: bytes) -> None:
        if not ulaw:
            return
        self._sent.setdefault(item_id, 0)
        self._items.append(_Queued(item_id, memoryview(ulaw)))
        self._queued += len(ulaw)

    @property
    def queued_bytes(self) -> int:
        return self._queued

    def fill_frame(self, out: memoryview) -> int:
        """Copy up to one frame of queued audio into ``out`` (length FRAME_BYTES); the rest is
        silence. Returns the number of audio bytes copied (0: a silence frame)."""
        filled = 0
        while filled < FRAME_BYTES and self._items:
            entry = self._items[0]
            data, offset = entry.data, entry.offset
            take = min(FRAME_BYTES - filled, len(data) - offset)
            out[filled : filled + take] = data[offset : offset + take]
            filled += take
            self._sent[entry.item_id] += take
            if offset + take == len(data):
                self._items.popleft()
            else:
                entry.offset = offset + take
        if filled < FRAME_BYTES:
            out[filled:FRAME_BYTES] = _SILENCE_FRAME[filled:]
        self._queued -= filled
        return filled

    def played_ms(self, item_id: str) -> int:
        return self._sent.get(item_id, 0) // BYTES_PER_MS

    def drop_item(self, item_id: str) -> int | None:
        """Drop what is queued of one item; the ms of it already sent, or None if none was queued."""
        kept = [entry for entry in self._items if entry.item_id != item_id]
        if len(kept) == len(self._items):
            return None
        self._queued = sum(len(entry.data) - entry.offset for entry in kept)
        self._items = deque(kept)
        return self._sent.get(item_id, 0) // BYTES_PER_MS

    def clear(self) -> dict[str, int]:
        """Drop all queued audio; return {item_id: ms sent} for each item that had audio dropped."""
        cut = {entry.item_id: self._sent[entry.item_id] // BYTES_PER_MS for entry in self._items}
        self._items.clear()
        self._queued = 0
        return cut
