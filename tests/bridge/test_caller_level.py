"""The caller-level meter that tells the caller's speech from our own echo on a silent line:
audible means a sample at or above about -45 dBFS in the last 600 ms of the caller's frames."""

from __future__ import annotations

import math

from realtime_bridge.caller_level import CallerLevel
from simulator import mulaw

FRAME = 160
SILENCE = b"\xff" * FRAME
THRESHOLD = round(32768 * 10 ** (-45 / 20))  # about 184: a quiet line's hiss stays below it


def _frame_with(code: int) -> bytes:
    return SILENCE[:80] + bytes([code]) + SILENCE[81:]


def _meter(*frames: bytes) -> CallerLevel:
    level = CallerLevel(window_ms=600)
    for frame in frames:
        level.push(frame)
    return level


def test_one_sample_is_enough_and_only_if_it_is_loud_enough() -> None:
    for code in range(256):  # every mu-law code, either sign
        amplitude = abs(mulaw.decode(bytes([code]))[0])
        audible = _meter(*[SILENCE] * 10, _frame_with(code), *[SILENCE] * 5).audible()
        if amplitude >= THRESHOLD + 20:
            assert audible, f"code {code:#04x} ({20 * math.log10(amplitude / 32768):.1f} dBFS) is speech"
        elif amplitude < THRESHOLD - 20:
            assert not audible, f"code {code:#04x} ({amplitude}) is below the line's hiss threshold"


def test_silence_of_either_sign_is_not_audible() -> None:
    assert not _meter(*[SILENCE] * 30).audible()
    assert not _meter(*[b"\x7f" * FRAME] * 30).audible()
    assert not _meter().audible()  # no frame yet


def test_only_the_last_600_ms_count() -> None:
    loud = bytes(mulaw.encode([8000, -8000] * (FRAME // 2)))
    assert _meter(loud, *[SILENCE] * 29).audible()  # 30 frames: the loud one is still in the window
    assert not _meter(loud, *[SILENCE] * 30).audible()  # 31: it has left


def test_speech_at_phone_level_is_audible_and_hiss_is_not() -> None:
    tone = [round(3000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(FRAME)]
    hiss = [(-1) ** i * 60 for i in range(FRAME)]  # about -55 dBFS
    assert _meter(*[SILENCE] * 20, mulaw.encode(tone)).audible()
    assert not _meter(*[mulaw.encode(hiss)] * 30).audible()
