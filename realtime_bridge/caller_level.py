"""Is there sound on the caller's own line right now? Phone-line echo of our audio makes the
service's VAD fire `speech_started` while the caller is silent; the bridge owns barge-in, so it
checks the caller's recent frames before cutting the agent off.

Cheap on the audio path: each frame is kept by reference (a bounded deque, no copy, no math);
the level is computed only when the question is asked, newest frame first, in C: deleting every
quiet byte value leaves something only if a frame has a sample at or above the threshold.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

FRAME_MS = 20
# Magnitude 20 is about -45 dBFS: above a quiet line's hiss, below any voice at phone level.
AUDIBLE_MAGNITUDE = 20
# mu-law stores loudness inverted in the low 7 bits: 0x7F/0xFF is silence, 0x00/0x80 the loudest.
_QUIET = bytes(b for b in range(256) if (~b) & 0x7F < AUDIBLE_MAGNITUDE)


class CallerLevel:
    def __init__(self, window_ms: int = 600) -> None:
        self._frames: deque[bytes] = deque(maxlen=max(1, window_ms // FRAME_MS))
        self.push: Callable[[bytes], None] = self._frames.append  # one C call per frame, no frame of ours

    def audible(self) -> bool:
        return any(frame.translate(None, _QUIET) for frame in reversed(self._frames))
