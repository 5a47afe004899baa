"""The simulated caller's voice: each spoken turn as one mu-law utterance, ready before the call.

Speech comes from ``simulator.speech`` (espeak-ng, flite, else the synthetic voice). With
espeak-ng the caller gets a voice variant (``en+f3``) so a listener can tell it from the agent,
which uses the plain voice. Engines pause at commas and full stops for up to ~300 ms, which a
low-silence VAD (semantic "high": 250 ms) would split into two turns; the simulated model
counts VAD segments as scenario turns, so pauses are capped and the edges trimmed. A turn
with ``mid_turn_pause_ms`` is the one exception: its two parts (``Turn.parts()``) are shaped
apart and joined by that much silence, so the server's VAD commits it as two segments. A caller
with ``noise_db`` has background noise under each utterance, below the VAD's speech threshold.
"""

from __future__ import annotations

import asyncio
import math
import random
import zlib
from collections.abc import Sequence

from simulator import mulaw, speech
from simulator.mulaw import BYTES_PER_MS, rms_dbfs
from simulator.scenario import Turn
from simulator.vad import threshold_dbfs

WINDOW_MS = 10  # the simulator VAD's frame
LOUD_DBFS = threshold_dbfs(0.5)  # what the simulator's server VAD calls speech
MAX_PAUSE_MS = 150  # below every VAD silence the bridge may configure (>= 200 ms)
_SILENT_CODES = b"\xff\x7f"  # mu-law +0 and -0


def is_loud(ulaw: bytes) -> bool:
    """Speech by the same measure as the simulator's VAD; pure-silence frames skip the math."""
    return bool(ulaw.strip(_SILENT_CODES)) and rms_dbfs(ulaw) > LOUD_DBFS


def has_audio(ulaw: bytes) -> bool:
    """Any non-zero sample: the far end sent audio rather than its idle silence."""
    return bool(ulaw.strip(_SILENT_CODES))


def tighten(ulaw: bytes, *, max_pause_ms: int = MAX_PAUSE_MS) -> bytes:
    """Trim quiet edges and shorten every inner pause to ``max_pause_ms``: one VAD segment."""
    window = WINDOW_MS * BYTES_PER_MS
    chunks = [ulaw[i : i + window] for i in range(0, len(ulaw), window)]
    loud = [is_loud(c) for c in chunks]
    if not any(loud):
        return ulaw
    first = loud.index(True)
    last = len(loud) - 1 - loud[::-1].index(True)
    keep_quiet = max_pause_ms // WINDOW_MS
    out = bytearray()
    quiet_run = 0
    for chunk, is_speech in zip(chunks[first : last + 1], loud[first : last + 1], strict=True):
        quiet_run = 0 if is_speech else quiet_run + 1
        if quiet_run <= keep_quiet:
            out += chunk
    return bytes(out)


def caller_voice(language: str, engine: speech.Engine) -> str:
    """The ``language`` argument speech.synthesize passes to ``espeak-ng -v``: a variant of the
    scenario's language (any language takes one), ignored by flite and the synthetic voice."""
    chosen = speech.available_engine() if engine == "auto" else engine
    return f"{language}+f3" if chosen == "espeak-ng" else language


async def prepare_turn_audio(
    turns: Sequence[Turn], *, language: str, engine: speech.Engine = "auto", noise_db: float | None = None
) -> list[bytes | None]:
    """Audio per turn (None for a hang_up turn). Synthesis runs subprocesses: off the loop."""
    voice = caller_voice(language, engine)

    def render(turn: Turn) -> bytes:
        return render_utterance(turn.parts(), voice, engine, turn.mid_turn_pause_ms or 0, noise_db)

    return [None if turn.say is None else await asyncio.to_thread(render, turn) for turn in turns]


def render_utterance(
    parts: Sequence[str], voice: str, engine: speech.Engine, pause_ms: int = 0, noise_db: float | None = None
) -> bytes:
    """One caller utterance: each part shaped into one VAD segment, joined by ``pause_ms`` of
    silence (a caller reading digits stops to look), with background noise at ``noise_db`` under
    it. Synthesis runs a subprocess: call it off the loop."""
    clip = mulaw.silence(pause_ms).join(tighten(speech.synthesize(text, engine, voice)) for text in parts)
    return clip if noise_db is None else with_noise(clip, noise_db)


def with_noise(ulaw: bytes, noise_db: float) -> bytes:
    """``ulaw`` with white noise of ``noise_db`` dBFS RMS added; the same noise for the same audio."""
    rng = random.Random(zlib.crc32(ulaw))
    peak = 32768 * 10 ** (noise_db / 20) * math.sqrt(3)  # uniform noise: RMS = peak / sqrt(3)
    return mulaw.encode(s + round(rng.uniform(-peak, peak)) for s in mulaw.decode(ulaw))
