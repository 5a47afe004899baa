"""mu-law, the VAD core and the agent voice, on real bytes."""

from __future__ import annotations

import shutil

import pytest

from simulator import mulaw, speech
from simulator.vad import ServerVad, SpeechStarted, SpeechStopped


def test_mulaw_round_trip_is_within_quantisation_error() -> None:
    for sample in (-32000, -1000, -5, 0, 7, 999, 31000):
        decoded = mulaw.decode(mulaw.encode([sample]))[0]
        assert abs(decoded - sample) <= max(8, abs(sample) // 16)
    assert mulaw.decode(mulaw.silence(1)) == [0] * 8


def test_vad_marks_one_segment_with_padding_and_silence_included() -> None:
    vad = ServerVad(prefix_padding_ms=300, silence_duration_ms=500)
    voice = speech.synthesize("one two three", "synthetic")
    marks = vad.feed(mulaw.silence(1000) + voice + mulaw.silence(600))
    assert [type(m) for m in marks] == [SpeechStarted, SpeechStopped]
    start, stop = marks
    assert isinstance(start, SpeechStarted) and isinstance(stop, SpeechStopped)
    assert abs(start.audio_start_ms - 700) <= 20
    assert abs(stop.audio_end_ms - (1000 + mulaw.duration_ms(voice) + 500)) <= 60


def test_vad_is_indifferent_to_how_the_audio_is_chunked() -> None:
    audio = mulaw.silence(300) + speech.synthesize("hello there", "synthetic") + mulaw.silence(700)
    whole = ServerVad().feed(audio)
    chunked = ServerVad()
    marks = [m for i in range(0, len(audio), 37) for m in chunked.feed(audio[i : i + 37])]
    assert marks == whole


def test_synthetic_voice_is_deterministic_and_about_the_right_length() -> None:
    text = "Thank you. The clinic team will call you back."
    audio = speech.synthesize(text, "synthetic")
    assert audio == speech.synthesize(text, "synthetic")
    assert 0.7 * len(text) * speech.MS_PER_CHAR < mulaw.duration_ms(audio) < 1.5 * len(text) * speech.MS_PER_CHAR


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_voice_is_mulaw_speech_a_vad_hears() -> None:
    audio = speech.synthesize("Your callback number is five five five.", "espeak-ng")
    assert 1000 < mulaw.duration_ms(audio) < 6000
    marks = ServerVad(silence_duration_ms=500).feed(audio + mulaw.silence(800))
    assert isinstance(marks[0], SpeechStarted) and isinstance(marks[-1], SpeechStopped)
