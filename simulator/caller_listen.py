"""What the simulated caller hears, sans-I/O: agent speech segments in the inbound RTP.

A segment starts with the first loud frame and ends after ``silence_ms`` of frames without
one, counted in received frames (media time), not on the loop clock: the far end sends a frame
every 20 ms, silence included, so a stall of this process (many calls on a busy machine) only
delays the frames, and never makes a sentence pause look like the end of the utterance. A far
end that stops sending RTP altogether ends it by time, once ``lost_ms`` pass with no frame at all.
Its end is the end of its last loud frame. Word and sentence gaps inside an utterance are
shorter than ``silence_ms``, so one agent utterance is one segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.caller_audio import has_audio, is_loud

FRAME_S = 0.020


@dataclass
class Segment:
    start: float  # arrival of the first loud frame (loop clock, seconds)
    last_loud: float  # arrival of the latest loud frame
    ended: bool = False

    @property
    def end(self) -> float:
        return self.last_loud + FRAME_S

    @property
    def duration_ms(self) -> int:
        return round((self.end - self.start) * 1000)


class AgentSpeechTracker:
    def __init__(self, *, silence_ms: int = 700, lost_ms: int | None = None) -> None:
        self.silence_frames = max(1, math.ceil(silence_ms / 1000 / FRAME_S))
        self.lost_s = (2 * silence_ms if lost_ms is None else lost_ms) / 1000
        self.segments: list[Segment] = []
        self.audio_frames = 0  # inbound frames carrying any agent audio (not idle silence)
        self.frames = 0
        self._quiet = 0  # frames received since the current segment's last loud one
        self._last_frame: float | None = None  # arrival of the latest frame of any kind

    @property
    def current(self) -> Segment | None:
        """The segment in progress (the agent is speaking), if any."""
        last = self.segments[-1] if self.segments else None
        return last if last is not None and not last.ended else None

    def feed(self, payload: bytes, now: float) -> tuple[list[Segment], Segment | None]:
        """One inbound frame: (segments this closed, the segment this started or None)."""
        closed = self.poll(now)
        self.frames += 1
        self._last_frame = now
        if has_audio(payload):
            self.audio_frames += 1
        current = self.current
        if not is_loud(payload):
            if current is not None:
                self._quiet += 1
                if self._quiet >= self.silence_frames:
                    current.ended = True
                    closed.append(current)
            return closed, None
        self._quiet = 0
        if current is not None:
            current.last_loud = now
            return closed, None
        started = Segment(start=now, last_loud=now)
        self.segments.append(started)
        return closed, started

    def poll(self, now: float) -> list[Segment]:
        """Close the current segment if the far end has sent nothing at all for ``lost_ms``."""
        current = self.current
        if current is None or self._last_frame is None or now - self._last_frame < self.lost_s:
            return []
        current.ended = True
        return [current]

    def quiet_deadline(self) -> float | None:
        """While the agent speaks: when its segment ends by time unless another frame arrives
        (the frames themselves end it sooner, through ``feed``)."""
        current = self.current
        return None if current is None or self._last_frame is None else self._last_frame + self.lost_s

    def finish(self) -> list[Segment]:
        """The call is over: close whatever is open."""
        current = self.current
        if current is None:
            return []
        current.ended = True
        return [current]

    def first_started_after(self, since: float) -> Segment | None:
        return next((s for s in self.segments if s.start >= since), None)
