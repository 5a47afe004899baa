"""The caller's sans-I/O pieces: turn audio shaping, agent speech tracking, options."""

from __future__ import annotations

import asyncio
import math

import pytest
from pydantic import ValidationError

from simulator import mulaw
from simulator.caller import SimulatedCaller
from simulator.caller_audio import MAX_PAUSE_MS, caller_voice, is_loud, prepare_turn_audio, tighten
from simulator.caller_listen import AgentSpeechTracker
from simulator.caller_result import CallerOptions
from simulator.scenario import Caller, Turn
from simulator.vad import ServerVad, SpeechStarted


def tone(ms: int, amplitude: int = 8000) -> bytes:
    return mulaw.encode(int(amplitude * math.sin(2 * math.pi * 300 * i / 8000)) for i in range(ms * 8))


def vad_segments(audio: bytes, silence_ms: int) -> int:
    vad = ServerVad(prefix_padding_ms=0, silence_duration_ms=silence_ms)
    marks = vad.feed(audio + mulaw.silence(silence_ms + 100))
    return sum(isinstance(m, SpeechStarted) for m in marks)


def test_tighten_trims_the_edges_and_caps_pauses_so_one_turn_is_one_vad_segment() -> None:
    speech = mulaw.silence(200) + tone(300) + mulaw.silence(400) + tone(300) + tone(100, 20) + mulaw.silence(500)
    shaped = tighten(speech)
    assert vad_segments(speech, 250) == 2  # a semantic-VAD "high" silence would split the raw turn
    assert vad_segments(shaped, 250) == 1
    assert mulaw.duration_ms(shaped) == 300 + MAX_PAUSE_MS + 300
    assert tighten(mulaw.silence(100)) == mulaw.silence(100)  # nothing to shape


def test_background_noise_is_heard_under_the_speech_and_stays_below_the_vad() -> None:
    turns = [Turn(say="My number is six one seven, five five five.", mid_turn_pause_ms=1200)]
    (clean,) = asyncio.run(prepare_turn_audio(turns, language="en", engine="synthetic"))
    (noisy,) = asyncio.run(prepare_turn_audio(turns, language="en", engine="synthetic", noise_db=-50))
    assert clean is not None and noisy is not None and len(noisy) == len(clean)
    frames = range(0, len(clean) - 160, 160)
    quiet = [i for i in frames if clean[i : i + 160] == mulaw.silence(20)]  # the mid-turn pause
    assert len(quiet) >= 50
    levels = [mulaw.rms_dbfs(noisy[i : i + 160]) for i in quiet]
    assert all(-53 < level < -47 for level in levels)  # the noise, at its level, in the pause
    assert not any(is_loud(noisy[i : i + 160]) for i in quiet)
    assert vad_segments(noisy, 500) == vad_segments(clean, 500) == 2  # the VAD still hears two halves
    again = asyncio.run(prepare_turn_audio(turns, language="en", engine="synthetic", noise_db=-50))
    assert again == [noisy]  # the same noise for the same audio: runs stay reproducible
    with pytest.raises(ValidationError):
        Caller(turns=turns, noise_db=-30)  # above the VAD threshold: it would be speech


def test_caller_voice_is_a_variant_of_any_language_for_espeak_only() -> None:
    assert caller_voice("es", "espeak-ng") == "es+f3" and caller_voice("pt-BR", "espeak-ng") == "pt-BR+f3"
    assert caller_voice("es", "synthetic") == "es" and caller_voice("es", "flite") == "es"


def test_prepare_turn_audio_renders_spoken_turns_only() -> None:
    turns = [Turn(say="Hello there."), Turn(hang_up=True)]
    spoken, hang_up = asyncio.run(prepare_turn_audio(turns, language="en", engine="synthetic"))
    assert hang_up is None and spoken is not None and vad_segments(spoken, 200) == 1
    assert mulaw.duration_ms(spoken) > 500


def test_tracker_finds_utterances_across_short_gaps_and_ends_them_by_media_time() -> None:
    tracker = AgentSpeechTracker(silence_ms=700)
    loud, quiet, idle = tone(20), tone(20, 20), mulaw.silence(20)
    started, closed = [], []
    for n, payload in enumerate([loud] * 10 + [idle] * 15 + [loud] * 5 + [quiet] * 34):  # a 300 ms gap inside
        ended, start = tracker.feed(payload, n / 50)
        closed += ended
        started += [start] if start else []
    (segment,) = started
    assert closed == [] and segment.start == 0.0 and tracker.current is segment
    ended, _ = tracker.feed(quiet, 64 / 50)  # the 35th quiet frame: 700 ms of the far end's audio
    assert ended == [segment] and segment.ended and segment.duration_ms == 600 and tracker.current is None
    assert tracker.audio_frames == 50  # the quiet-but-not-silent frames count as agent audio, idle ones not
    closed, again = tracker.feed(loud, 2.0)
    assert closed == [] and again is not None and tracker.first_started_after(0.1) is again
    assert tracker.finish() == [again] and again.ended


def test_a_stalled_listener_does_not_end_the_agent_mid_sentence() -> None:
    """Frames that reach a busy process late (a sentence pause, then a 900 ms stall) are the
    same audio: the utterance goes on."""
    tracker = AgentSpeechTracker(silence_ms=700)
    loud, idle = tone(20), mulaw.silence(20)
    tracker.feed(loud, 0.0)
    for n in range(15):  # a 300 ms sentence pause
        assert tracker.feed(idle, 0.02 * (n + 1)) == ([], None)
    assert tracker.poll(1.2) == []  # the loop wakes late, before the late frames are read
    assert tracker.feed(loud, 1.2) == ([], None) and tracker.current is not None


def test_a_far_end_that_stops_sending_ends_the_utterance_by_time() -> None:
    tracker = AgentSpeechTracker(silence_ms=700)
    _, segment = tracker.feed(tone(20), 1.0)
    assert segment is not None and tracker.quiet_deadline() == pytest.approx(2.4)
    assert tracker.poll(2.39) == [] and tracker.poll(2.41) == [segment] and tracker.current is None


def test_options_are_strict_and_audio_must_match_the_turns() -> None:
    with pytest.raises(ValidationError):
        CallerOptions.model_validate({"transport": "sctp"})
    with pytest.raises(ValidationError):
        CallerOptions.model_validate({"bargein": True})
    script = Caller(turns=[Turn(say="Hi."), Turn(hang_up=True)])
    with pytest.raises(ValueError, match="audio for 1 turns"):
        SimulatedCaller(script, "127.0.0.1", 5060, audio=[b"\x00" * 160])
