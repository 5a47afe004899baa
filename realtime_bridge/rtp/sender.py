"""Outgoing RTP stream state and pacing, sans-I/O: the session supplies ``now`` and sends bytes.

Frames leave every 20 ms on a monotonic clock, silence while idle. A talkspurt starts the
moment its first audio arrives rather than at the next tick (see docs/telephony.md): marker
bit set, pacing re-anchored at that instant, timestamp advanced by the samples elapsed since
the previous frame. One reused buffer: no allocation per frame.
"""

from __future__ import annotations

from realtime_bridge.rtp.packet import HEADER_SIZE, write_header
from realtime_bridge.rtp.playout import FRAME_BYTES, PlayoutBuffer

FRAME_SECONDS = 0.020
SAMPLES_PER_FRAME = 160
CLOCK_RATE = 8000
MAX_LATE = 0.060  # a tick later than this (stalled loop) re-anchors instead of bursting


class RtpSender:
    def __init__(
        self, playout: PlayoutBuffer, *, ssrc: int, sequence: int, timestamp: int, payload_type: int = 0
    ) -> None:
        self.playout = playout
        self.ssrc = ssrc
        self.payload_type = payload_type
        self._seq = sequence & 0xFFFF
        self._next_ts = timestamp & 0xFFFFFFFF
        self._buf = bytearray(HEADER_SIZE + FRAME_BYTES)
        self._packet = memoryview(self._buf)
        self._payload = self._packet[HEADER_SIZE:]
        self._talking = False
        self._anchor: float | None = None
        self._frames = 0  # frames sent since the anchor
        self._last_at: float | None = None
        self._last_ts = self._next_ts
        self.frames_sent = 0

    def due(self) -> float | None:
        """When the next frame is due; None before ``start``."""
        return None if self._anchor is None else self._anchor + self._frames * FRAME_SECONDS

    def start(self, now: float) -> None:
        self._anchor, self._frames = now, 0

    @property
    def idle(self) -> bool:
        return not self._talking

    def should_start_talkspurt(self) -> bool:
        """True when audio is queued but the stream is idle: send a frame now, not at the tick."""
        return self._anchor is not None and not self._talking and self.playout.queued_bytes > 0

    def frame(self, now: float, *, talkspurt_now: bool = False) -> memoryview:
        """Build the next packet (valid until the next call). Call at ``due()``, or at any time
        with ``talkspurt_now`` when ``should_start_talkspurt()``."""
        due = self.due()
        if self._last_at is not None and (talkspurt_now or (due is not None and now - due > MAX_LATE)):
            elapsed = round((now - self._last_at) * CLOCK_RATE)
            self._next_ts = (self._last_ts + max(elapsed, 1)) & 0xFFFFFFFF
            self._anchor, self._frames = now, 0
        audio = self.playout.fill_frame(self._payload)
        marker = audio > 0 and not self._talking
        write_header(
            self._buf,
            payload_type=self.payload_type,
            marker=marker,
            sequence=self._seq,
            timestamp=self._next_ts,
            ssrc=self.ssrc,
        )
        self._talking = audio > 0
        self._last_at, self._last_ts = now, self._next_ts
        self._seq = (self._seq + 1) & 0xFFFF
        self._next_ts = (self._next_ts + SAMPLES_PER_FRAME) & 0xFFFFFFFF
        self._frames += 1
        self.frames_sent += 1
        return self._packet
