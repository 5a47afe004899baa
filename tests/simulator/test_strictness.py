"""Nothing leaves or enters the stand-in unless the SDK's own types accept it."""

from __future__ import annotations

import asyncio

import pytest

from simulator import response_run
from simulator.wire import WireViolation, check_client_event, check_server_event
from tests.simulator.sim_helpers import Reader, phone_session, running, sdk_client


def test_a_server_event_the_sdk_rejects_kills_the_session_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def finish_with_a_status_the_sdk_does_not_know(self: response_run.ResponseRun) -> list[dict]:
        self.status = "completed"
        return [self._done("finished", None)]  # "finished" is not a response status

    monkeypatch.setattr(response_run.ResponseRun, "_finish", finish_with_a_status_the_sdk_does_not_know)

    async def main() -> tuple[int, list[str]]:
        async with running() as handle, sdk_client(handle).realtime.connect(model="gpt-realtime") as connection:
            reader = Reader(connection)
            await connection.session.update(session=phone_session())  # type: ignore[arg-type]
            await connection.response.create(response={"instructions": "Say exactly: Hi."})
            code = await reader.until_closed()
            return code, reader.types()

    code, seen = asyncio.run(main())
    assert code == 1011
    assert "response.done" not in seen  # the bad event never reached the client


def test_undeclared_keys_and_wrong_literals_are_violations() -> None:
    ok = {"type": "input_audio_buffer.speech_started", "event_id": "e", "audio_start_ms": 0, "item_id": "i"}
    check_server_event(ok)
    with pytest.raises(WireViolation, match="audio_start"):
        check_server_event({**ok, "audio_start": 0})
    with pytest.raises(WireViolation, match="rejected"):
        check_server_event({"type": "response.audio.delta", "event_id": "e"})  # the beta name
    with pytest.raises(WireViolation):
        check_client_event({"type": "input_audio_buffer.append"})  # no audio
