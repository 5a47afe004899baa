"""The stand-in's transcription: it recognises its own speech as a caller heard it, nothing else."""

from __future__ import annotations

import asyncio

import openai
import pytest

from simulator import mulaw, speech
from simulator.transcriber import SpokenAudio

from .sim_helpers import running, sdk_client

QUESTION = "Thank you. Could I have your callback number?"
CLOSING = "The clinic team will call you back within one business day. Goodbye."


def _spoken() -> SpokenAudio:
    spoken = SpokenAudio()
    for text in (QUESTION, CLOSING):
        spoken.add(text, speech.synthesize(text, "synthetic"))
    return spoken


def _as_heard(audio: bytes, skip: int = 0) -> bytes:
    """What a caller hears of an utterance: 160-byte RTP frames from `skip` on (not aligned to the
    utterance), the last one padded with silence, with silence around, through a WAV and back."""
    frames = [audio[i : i + 160] for i in range(skip, len(audio), 160)]
    frames[-1] = frames[-1].ljust(160, bytes([mulaw.SILENCE]))
    return mulaw.from_wav(mulaw.to_wav(mulaw.silence(400) + b"".join(frames) + mulaw.silence(700)))


def test_it_recognises_its_own_utterance_reframed_with_silence_around() -> None:
    spoken = _spoken()
    assert spoken.recognise(_as_heard(speech.synthesize(CLOSING, "synthetic"), skip=37)) == CLOSING
    assert spoken.recognise(_as_heard(speech.synthesize(QUESTION, "synthetic"))) == QUESTION


def test_an_utterance_cut_short_is_still_recognised() -> None:  # the caller talked over the agent
    half = speech.synthesize(CLOSING, "synthetic")[:8000]
    assert _spoken().recognise(_as_heard(half)) == CLOSING


def test_unrelated_audio_and_silence_are_not_recognised() -> None:
    spoken = _spoken()
    assert spoken.recognise(_as_heard(speech.synthesize("Something it never said.", "synthetic"))) == ""
    assert spoken.recognise(mulaw.silence(2000)) == ""


def test_the_sdk_transcribes_a_wav_of_what_a_session_rendered() -> None:
    async def main() -> None:
        async with running() as handle:
            handle.config.spoken.add(CLOSING, speech.synthesize(CLOSING, "synthetic"))
            client = sdk_client(handle)
            wav = mulaw.to_wav(_as_heard(speech.synthesize(CLOSING, "synthetic"), skip=80))
            reply = await client.audio.transcriptions.create(
                model="gpt-4o-transcribe", file=("agent.wav", wav, "audio/wav"), language="en"
            )
            assert reply.text == CLOSING
            with pytest.raises(openai.BadRequestError, match="16-bit PCM WAV"):
                await client.audio.transcriptions.create(
                    model="gpt-4o-transcribe", file=("a.mp3", b"ID3", "audio/mpeg")
                )
            with pytest.raises(openai.BadRequestError, match="temperature"):
                await client.audio.transcriptions.create(
                    model="gpt-4o-transcribe", file=("agent.wav", wav, "audio/wav"), extra_body={"temperature": "hot"}
                )
            assert [t["filename"] for t in handle.transcription_requests] == ["agent.wav", "a.mp3", "agent.wav"]

    asyncio.run(main())
