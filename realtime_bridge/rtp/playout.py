"""Outgoing audio buffer: items in, 160-byte PCMU frames out, milliseconds played per item.

Barge-in is data: ``clear()`` drops everything not yet sent at once and reports how much of
each item the caller actually heard (sent), so the model's item can be truncated there.
"""

from __future__ import annotations

from collections import deque

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
BYTES_PER_MS = 8
SILENCE = 0xFF  # mu-law zero
_SILENCE_FRAME = memoryview(bytes([SILENCE]) * FRAME_BYTES)


class PlayoutBuffer:
    def __init__(self) -> None:
        self._items: deque[list] = deque()  # [item_id, memoryview, offset]
        self._sent: dict[str, int] = {}  # bytes sent per item
        self._queued = 0

    def push(self, item_id: str, ulaw: bytes) -> None:
        if not ulaw:
            return
        self._sent.setdefault(item_id, 0)
        self._items.append([item_id, memoryview(ulaw), 0])
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
            item_id, data, offset = entry
            take = min(FRAME_BYTES - filled, len(data) - offset)
            out[filled : filled + take] = data[offset : offset + take]
            filled += take
            self._sent[item_id] += take
            if offset + take == len(data):
                self._items.popleft()
            else:
                entry[2] = offset + take
        if filled < FRAME_BYTES:
            out[filled:FRAME_BYTES] = _SILENCE_FRAME[filled:]
        self._queued -= filled
        return filled

    def played_ms(self, item_id: str) -> int:
        return self._sent.get(item_id, 0) // BYTES_PER_MS

    def clear(self) -> dict[str, int]:
        """Drop all queued audio; return {item_id: ms sent} for each item that had audio dropped."""
        cut = {entry[0]: self._sent[entry[0]] // BYTES_PER_MS for entry in self._items}
        self._items.clear()
        self._queued = 0
        return cut
