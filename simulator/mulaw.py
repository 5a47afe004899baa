"""G.711 mu-law (audio/pcmu) codec: pure functions, 8 kHz, 8 bytes per millisecond."""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Iterable, Sequence

SAMPLE_RATE = 8000
BYTES_PER_MS = 8
SILENCE = 0xFF  # mu-law code for 0
_BIAS = 0x84
_CLIP = 32635


def _decode_byte(code: int) -> int:
    code = ~code & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    sample = ((mantissa << 3) + _BIAS) << exponent
    sample -= _BIAS
    return -sample if sign else sample


_DECODE = tuple(_decode_byte(c) for c in range(256))


def encode_sample(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), _CLIP) + _BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def encode(samples: Iterable[int]) -> bytes:
    return bytes(encode_sample(s) for s in samples)


def decode(data: bytes) -> list[int]:
    return [_DECODE[b] for b in data]


def rms_dbfs(data: bytes) -> float:
    """Loudness of a mu-law chunk in dBFS (-inf-safe: silence gives -120)."""
    if not data:
        return -120.0
    power = sum(_DECODE[b] ** 2 for b in data) / len(data)
    return -120.0 if power <= 0 else 10 * math.log10(power / (32768.0**2))


def duration_ms(data: bytes | Sequence[int]) -> int:
    return len(data) // BYTES_PER_MS


def silence(ms: int) -> bytes:
    return bytes([SILENCE]) * (ms * BYTES_PER_MS)


def to_pcm16_24k(data: bytes) -> bytes:
    """mu-law 8 kHz -> PCM16 LE 24 kHz (sample repeat: enough for a stand-in)."""
    out = bytearray()
    for b in data:
        out += _DECODE[b].to_bytes(2, "little", signed=True) * 3
    return bytes(out)


def from_pcm16_24k(data: bytes) -> bytes:
    """PCM16 LE 24 kHz -> mu-law 8 kHz (every third sample)."""
    usable = len(data) - len(data) % 6
    return encode(int.from_bytes(data[i : i + 2], "little", signed=True) for i in range(0, usable, 6))


def from_wav(data: bytes) -> bytes:
    """A 16-bit PCM WAV (any rate, the first channel) as 8 kHz mu-law; wave.Error for anything else."""
    with wave.open(io.BytesIO(data)) as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise wave.Error("expected 16-bit PCM")
    samples = [int.from_bytes(frames[i : i + 2], "little", signed=True) for i in range(0, len(frames), 2 * channels)]
    step = rate / SAMPLE_RATE
    count = int(len(samples) / step)
    # Nearest-sample decimation is enough for a telephone-band stand-in voice.
    return encode(samples[min(int(i * step), len(samples) - 1)] for i in range(count))


def to_wav(data: bytes) -> bytes:
    """8 kHz mu-law as a mono 16-bit PCM WAV (decoded exactly: encoding it again gives the same bytes, -0 as +0)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(b"".join(_DECODE[b].to_bytes(2, "little", signed=True) for b in data))
    return out.getvalue()
