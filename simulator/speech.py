"""Agent (and simulated caller) audio: espeak-ng or flite when installed, else a
deterministic speech-like signal of about the right duration. Always valid mu-law."""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
import wave
from functools import lru_cache
from typing import Literal

from simulator import mulaw

Engine = Literal["auto", "espeak-ng", "flite", "synthetic"]
MS_PER_CHAR = 65  # about 150 words a minute
_GAP_MS = 40  # between words: well under any silence_duration_ms, so one utterance = one VAD turn


def available_engine() -> Engine:
    for name in ("espeak-ng", "flite"):
        if shutil.which(name):
            return name
    return "synthetic"


def synthesize(text: str, engine: Engine = "auto", language: str = "en") -> bytes:
    """mu-law 8 kHz audio speaking `text` (or a stand-in with its rhythm)."""
    chosen = available_engine() if engine == "auto" else engine
    if chosen != "synthetic":
        audio = _external(text, chosen, language)
        if audio:
            return audio
    return _synthetic(text)


@lru_cache(maxsize=256)
def _external(text: str, engine: str, language: str) -> bytes | None:
    if engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", language, "-s", "170", "--stdout", text]
    else:
        cmd = ["flite", "-t", text, "-o", "/dev/stdout"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=20, check=True).stdout
        return mulaw.from_wav(out)
    except (OSError, subprocess.SubprocessError, wave.Error, EOFError):
        return None  # fall back to the synthetic voice rather than failing a call


@lru_cache(maxsize=256)
def _synthetic(text: str) -> bytes:
    """Voiced bursts per word with a pitch contour from a hash of the text: speech-like
    to a VAD, deterministic, and `MS_PER_CHAR` long per character."""
    digest = hashlib.sha256(text.encode()).digest()
    base_hz = 110 + digest[0] % 90
    out: list[int] = []
    words = text.split() or [text or "."]
    for w, word in enumerate(words):
        n = max(1, len(word)) * MS_PER_CHAR * mulaw.SAMPLE_RATE // 1000
        pitch = base_hz * (1 + 0.15 * math.sin(w + digest[w % 32] / 40))
        for i in range(n):
            t = i / mulaw.SAMPLE_RATE
            envelope = math.sin(math.pi * i / n) ** 0.5
            s = math.sin(2 * math.pi * pitch * t) + 0.5 * math.sin(4 * math.pi * pitch * t)
            s += 0.25 * math.sin(6 * math.pi * pitch * t)
            out.append(int(9000 * envelope * s))
        if w < len(words) - 1:
            out.extend([0] * (_GAP_MS * mulaw.SAMPLE_RATE // 1000))
    return mulaw.encode(out)
