"""The translator on the real recorded sessions: every server event decodes without an error, and
the shortcuts (audio and transcript deltas read by hand, unread bookkeeping dropped on its type)
give exactly what validating the event with the SDK's types and mapping it would give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from realtime_bridge.realtime import translate
from realtime_bridge.realtime.model_events import AgentTranscriptDelta, AudioDelta, ModelError

RECORDINGS = sorted((Path(__file__).parent.parent / "fixtures" / "realtime").glob("*.yaml"))


def _server_events(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    return [
        i["data"] for i in data["interactions"] if i.get("direction") == "received" and isinstance(i.get("data"), dict)
    ]


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recorded_events_decode_as_the_sdk_types_say(path: Path) -> None:
    events = _server_events(path)
    assert events, "a recording with server events"
    for data in events:
        got = translate.decode(json.dumps(data))
        assert not isinstance(got, ModelError), (data["type"], got)
        if data["type"] in translate._UNREAD:
            assert translate._neutral(translate.SERVER_EVENT.validate_python(data)) is None  # truly unread
        elif isinstance(got, AgentTranscriptDelta | AudioDelta):
            validated = translate.SERVER_EVENT.validate_python(data)  # the shortcut read a valid event
            assert got.item_id == validated.item_id  # type: ignore[union-attr]


def test_the_recordings_exercise_the_shortcuts() -> None:
    kinds = {d["type"] for p in RECORDINGS for d in _server_events(p)}
    assert {"response.output_audio.delta", "response.output_audio_transcript.delta"} <= kinds
    assert kinds & translate._UNREAD


def test_a_malformed_delta_is_still_an_error() -> None:
    bad = translate.decode(json.dumps({"type": "response.output_audio_transcript.delta", "item_id": 7}))
    assert isinstance(bad, ModelError) and bad.code == translate.INVALID_SERVER_EVENT
