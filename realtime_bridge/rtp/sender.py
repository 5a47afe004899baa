"""Outgoing RTP stream state and pacing, sans-I/O: the session supplies ``now`` and sends bytes.

Frames leave every 20 ms on a monotonic clock, silence while idle. A talkspurt starts the
moment its first audio arrives rather than at the next tick (see docs/telephony.md): marker
bit set, pacing re-anchored at that instant.

Timestamps are locked to the clock: a frame meant for time ``t`` carries the stream's first
timestamp plus the samples elapsed since the stream started, ``t`` on the 8 kHz clock. Frames
of one grid are 160 samples apart; a new talkspurt takes the clock's value at its first frame
(its first samples may overlap the silence frame before it, which the marker bit tells the far
end to resynchronise on). A frame sent late keeps the timestamp of its slot, so lateness is
jitter the far end's buffer absorbs and never accumulates across talkspurts into drift; a
stalled loop skips the slots it missed instead of bursting them. One reused buffer: no
allocation per frame.
"""

from __future__ import annotations

from realtime_bridge.rtp.packet import HEADER_SIZE, write_header
from realtime_bridge.rtp.playout import FRAME_BYTES, PlayoutBuffer

FRAME_SECONDS = 0.020
SAMPLES_PER_FRAME = 160
CLOCK_RATE = 8000
MAX_LATE = 0.060  # a frame later than this (stalled loop) skips the missed slots instead of bursting
_EPSILON = 1e-9  # float slack when counting slots


class RtpSender:
    def __init__(
        self, playout: PlayoutBuffer, *, ssrc: int, sequence: int, timestamp: int, payload_type: int = 0
    ) -> None:
        self.playout = playout
        self.ssrc = ssrc
        self.payload_type = payload_type
        self._seq = sequence & 0xFFFF
        self._buf = bytearray(HEADER_SIZE + FRAME_BYTES)
        self._packet = memoryview(self._buf)
        self._payload = self._packet[HEADER_SIZE:]
        self._talking = False
        # Timestamps are kept unwrapped (masked to 32 bits only on the wire).
        self._origin = 0.0  # the clock time `_origin_ts` stands for
        self._origin_ts = timestamp & 0xFFFFFFFF
        self._anchor: float | None = None  # the time slot 0 of the current grid is for
        self._anchor_ts = self._origin_ts
        self._frames = 0  # slots of the current grid used (sent or skipped)
        self._last_ts = self._origin_ts - 1
        self.frames_sent = 0

    def due(self) -> float | None:
        """When the next frame is due; None before ``start``."""
        return None if self._anchor is None else self._anchor + self._frames * FRAME_SECONDS

    def start(self, now: float) -> None:
        self._origin = self._anchor = now
        self._anchor_ts, self._frames = self._origin_ts, 0

    @property
    def idle(self) -> bool:
        return not self._talking

    def should_start_talkspurt(self) -> bool:
        """True when audio is queued but the stream is idle: send a frame now, not at the tick."""
        return self._anchor is not None and not self._talking and self.playout.queued_bytes > 0

    def timestamp_at(self, t: float) -> int:
        """The stream's clock at ``t`` (unwrapped)."""
        return self._origin_ts + round((t - self._origin) * CLOCK_RATE)

    def frame(self, now: float, *, talkspurt_now: bool = False) -> memoryview:
        """Build the next packet (valid until the next call). Call at ``due()``, or at any time
        with ``talkspurt_now`` when ``should_start_talkspurt()``."""
        if self._anchor is None:
            self.start(now)
        assert self._anchor is not None
        if talkspurt_now:
            self._anchor, self._frames = now, 0
            self._anchor_ts = max(self.timestamp_at(now), self._last_ts + 1)  # never backwards
        else:
            late = now - (self._anchor + self._frames * FRAME_SECONDS)
            if late > MAX_LATE:
                self._frames += int(late / FRAME_SECONDS + _EPSILON)  # the slots the stall took
        ts = self._anchor_ts + self._frames * SAMPLES_PER_FRAME
        audio = self.playout.fill_frame(self._payload)
        write_header(
            self._buf,
            payload_type=self.payload_type,
            marker=audio > 0 and not self._talking,
            sequence=self._seq,
            timestamp=ts & 0xFFFFFFFF,
            ssrc=self.ssrc,
        )
        self._talking = audio > 0
        self._last_ts = ts
        self._seq = (self._seq + 1) & 0xFFFF
        self._frames += 1
        self.frames_sent += 1
        return self._packet
