"""What the simulated caller hears, sans-I/O: agent speech segments in the inbound RTP.

A segment starts with the first loud frame and ends once ``silence_ms`` pass without one
(time-based, so a far end that stops sending RTP altogether also ends it). Its end is the
end of its last loud frame. Word and sentence gaps inside an utterance are shorter than
``silence_ms``, so one agent utterance is one segment.
"""

from __future__ import annotations

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
    def __init__(self, *, silence_ms: int = 700) -> None:
        self.silence_s = silence_ms / 1000
        self.segments: list[Segment] = []
        self.audio_frames = 0  # inbound frames carrying any agent audio (not idle silence)
        self.frames = 0

    @property
    def current(self) -> Segment | None:
        """The segment in progress (the agent is speaking), if any."""
        last = self.segments[-1] if self.segments else None
        return last if last is not None and not last.ended else None

    def feed(self, payload: bytes, now: float) -> tuple[list[Segment], Segment | None]:
        """One inbound frame: (segments this closed, the segment this started or None)."""
        closed = self.poll(now)
        self.frames += 1
        if has_audio(payload):
            self.audio_frames += 1
        if not is_loud(payload):
            return closed, None
        current = self.current
        if current is not None:
            current.last_loud = now
            return closed, None
        started = Segment(start=now, last_loud=now)
        self.segments.append(started)
        return closed, started

    def poll(self, now: float) -> list[Segment]:
        """Close the current segment if the agent has been quiet for ``silence_ms``."""
        current = self.current
        if current is None or now - current.last_loud < self.silence_s:
            return []
        current.ended = True
        return [current]

    def quiet_deadline(self) -> float | None:
        """When the current segment ends unless more speech arrives."""
        current = self.current
        return None if current is None else current.last_loud + self.silence_s

    def finish(self) -> list[Segment]:
        """The call is over: close whatever is open."""
        current = self.current
        if current is None:
            return []
        current.ended = True
        return [current]

    def first_started_after(self, since: float) -> Segment | None:
        return next((s for s in self.segments if s.start >= since), None)
