"""Caller frames on their way to the model: while a session is live (`live`, which the call's shell
reads per frame) each frame is sent at once as its append; while one is being opened or replaced
it waits in a bounded gap buffer (`hold`: the newest 2 s are kept, sent on through the send queue
once the session is live), and every frame feeds the caller-level meter that tells echo from
speech. No allocation beyond the append itself."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from realtime_bridge.caller_level import CallerLevel
from realtime_bridge.realtime.translate import audio_append

FRAME_MS = 20


class Uplink:
    def __init__(self, put: Callable[[str], None], gap_frames: int) -> None:
        self._put = put
        self.live = False  # a configured session takes audio; the shell sets it after each event
        self.level = CallerLevel()
        self._gap: deque[bytes] = deque(maxlen=gap_frames)
        self._seen = 0

    def hold(self, ulaw: bytes) -> None:
        """No live session: the frame waits in the gap buffer (the oldest falls out when full)."""
        self._gap.append(ulaw)
        self._seen += 1

    def flush(self) -> tuple[int, int]:
        """The session is live: send the gap on. Returns (ms sent on, ms dropped)."""
        kept, dropped = len(self._gap), self._seen - len(self._gap)
        while self._gap:
            self._put(audio_append(self._gap.popleft()))
        self._seen = 0
        return kept * FRAME_MS, dropped * FRAME_MS
