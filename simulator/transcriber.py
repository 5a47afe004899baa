"""The stand-in's transcription (`POST /v1/audio/transcriptions`), sans-I/O: it cannot do ASR, so it
recognises only what the stand-in itself said.

Every utterance the realtime stand-in renders is kept here (text -> its mu-law bytes; synthesis is
deterministic). The bridge passes the model's audio/pcmu bytes to RTP unchanged (it only frames
them in 160-byte packets and pads the last one with silence), so what a caller heard of an
utterance is a run of its bytes. An upload is cut into 160-byte windows; each loud one (silence
would match anything) is looked for in every utterance with `bytes.find`, and the utterance with
the most windows found is the transcript: "" when none is. Structure, not language.
"""

from __future__ import annotations

import typing

import typing_extensions
from openai.types.audio import Transcription, transcription_create_params
from pydantic import TypeAdapter

from simulator.caller_audio import is_loud

WINDOW = 160  # bytes: one 20 ms RTP frame

# The SDK's transcription params minus the file (it arrives as a multipart part of its own).
_FIELDS = typing.get_type_hints(transcription_create_params.TranscriptionCreateParamsNonStreaming, include_extras=True)
TranscriptionForm = typing_extensions.TypedDict(  # type: ignore[misc]
    "TranscriptionForm", {k: v for k, v in _FIELDS.items() if k != "file"}, total=False
)
FORM = TypeAdapter(TranscriptionForm)


KEPT = 512  # utterances: a long-running stand-in (serve --local) forgets the oldest


class SpokenAudio:
    """What the stand-in said, to recognise it when a caller uploads it back."""

    def __init__(self) -> None:
        self._by_text: dict[str, bytes] = {}

    def add(self, text: str, ulaw: bytes) -> None:
        self._by_text.pop(text, None)  # latest last: the oldest goes first
        self._by_text[text] = ulaw
        if len(self._by_text) > KEPT:
            del self._by_text[next(iter(self._by_text))]

    def recognise(self, ulaw: bytes) -> str:
        """The text of the utterance most of the upload's loud windows come from; "" for none."""
        windows = [ulaw[i : i + WINDOW] for i in range(0, len(ulaw) - WINDOW + 1, WINDOW)]
        loud = [w for w in windows if is_loud(w)]
        best, best_found = "", 0
        for text, audio in self._by_text.items():
            found = sum(1 for w in loud if audio.find(w) >= 0)
            if found > best_found:
                best, best_found = text, found
        return best


def transcription(text: str, audio_ms: int) -> dict[str, object]:
    """The reply body, shaped (and checked) as the SDK's `Transcription`."""
    body: dict[str, object] = {"text": text, "usage": {"type": "duration", "seconds": max(1, round(audio_ms / 1000))}}
    Transcription.model_validate(body)
    return body
