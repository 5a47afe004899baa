"""Server VAD over incoming mu-law, sans-I/O: feed bytes, get speech start/stop marks.

Energy per 10 ms frame against a threshold; a segment ends after `silence_duration_ms`
of quiet. Times are milliseconds of audio received since the session started, which
is what the real service reports (audio_start_ms includes prefix padding, audio_end_ms
includes the silence that ended the turn).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.mulaw import BYTES_PER_MS, rms_dbfs

FRAME_MS = 10


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int


VadMark = SpeechStarted | SpeechStopped


def threshold_dbfs(threshold: float) -> float:
    # The real threshold is a probability in [0, 1]; map it onto loudness so that
    # the default 0.5 sits at -40 dBFS (well above line noise, below quiet speech).
    return -60.0 + 40.0 * threshold


@dataclass
class ServerVad:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 200
    _pending: bytes = b""
    _position_ms: int = 0
    _in_speech: bool = False
    _quiet_ms: int = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def position_ms(self) -> int:
        return self._position_ms

    def feed(self, audio: bytes) -> list[VadMark]:
        marks: list[VadMark] = []
        data = self._pending + audio
        frame = FRAME_MS * BYTES_PER_MS
        limit = threshold_dbfs(self.threshold)
        whole = len(data) - len(data) % frame
        for start in range(0, whole, frame):
            loud = rms_dbfs(data[start : start + frame]) > limit
            self._position_ms += FRAME_MS
            if not self._in_speech:
                if loud:
                    self._in_speech = True
                    self._quiet_ms = 0
                    onset = self._position_ms - FRAME_MS
                    marks.append(SpeechStarted(max(0, onset - self.prefix_padding_ms)))
            elif loud:
                self._quiet_ms = 0
            else:
                self._quiet_ms += FRAME_MS
                if self._quiet_ms >= self.silence_duration_ms:
                    self._in_speech = False
                    marks.append(SpeechStopped(self._position_ms))
        self._pending = data[whole:]
        return marks

    def reset(self) -> None:
        """input_audio_buffer.clear: drop a half-heard segment (the clock keeps running)."""
        self._in_speech = False
        self._quiet_ms = 0
