"""The must-show: `voice-agent simulate riverside_happy_path.yaml --tls` holds its expectations,
and a capture of the loopback interface during that call shows only SRTP: no packet carries a
frame of the audio the caller sent, nor clear silence."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from simulator.caller_audio import prepare_turn_audio
from tests.sip.loopback_capture import LoopbackCapture, assert_srtp_only
from voice_agent_cli.main import main

HAPPY_PATH = Path(__file__).resolve().parents[2] / "scenarios" / "riverside_happy_path.yaml"


def test_simulate_tls_passes_and_its_rtp_is_never_clear(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[bytes] = []

    async def recording(turns: Sequence[Any], **kwargs: Any) -> list[bytes | None]:
        clips = await prepare_turn_audio(turns, **kwargs)
        sent.extend(c for c in clips if c)  # exactly what the caller will speak, in clear
        return clips

    monkeypatch.setattr("simulator.caller.prepare_turn_audio", recording)  # the name the caller calls
    with LoopbackCapture() as capture:
        code = main(["simulate", str(HAPPY_PATH), "--tls", "--json", "--no-files"])
    result = json.loads(capsys.readouterr().out)
    assert result["expectations"]["failures"] == [] and code == 0
    caller = result["caller"]
    assert caller["transport"] == "tls" and caller["srtp"] and caller["answered"]
    assert caller["turns_spoken"] == caller["turns_total"] > 0
    assert_srtp_only(capture.udp(caller["local_rtp_port"]), sent)
