"""Caller frames on their way to the model: straight onto the send queue while a session is live,
into a bounded gap buffer while one is being opened or replaced (the newest 2 s are kept), and
into the caller-level meter that tells echo from speech. One append and one put per frame."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from realtime_bridge.caller_level import CallerLevel
from realtime_bridge.realtime.translate import audio_append

FRAME_MS = 20


class Uplink:
    def __init__(self, put: Callable[[str], None], live: Callable[[], bool], gap_frames: int) -> None:
        self._put, self._live = put, live
        self.level = CallerLevel()
        self._gap: deque[bytes] = deque(maxlen=gap_frames)
        self._seen = 0

    def frame(self, ulaw: bytes) -> None:
        self.level.push(ulaw)
        if self._live():
            self._put(audio_append(ulaw))
        else:
            self._gap.append(ulaw)
            self._seen += 1

    def flush(self) -> tuple[int, int]:
        """The session is live: send the gap on. Returns (ms sent on, ms dropped)."""
        kept, dropped = len(self._gap), self._seen - len(self._gap)
        while self._gap:
            self._put(audio_append(self._gap.popleft()))
        self._seen = 0
        return kept * FRAME_MS, dropped * FRAME_MS
