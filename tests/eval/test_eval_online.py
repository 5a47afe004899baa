"""`voice-agent eval --online` as a user runs it, with OpenAI's endpoint played by the stand-in.

The command is the online tier's, unchanged: its bridge talks to OPENAI_BASE_URL for the realtime
model, its persona caller asks the persona LLM for each line and transcribes what it heard, its
judge is the LLM judge. Here that base URL is the simulator (one persona, one run): the realtime
stand-in scripted by what the persona plays for the seed, the stand-in persona LLM answering the
same lines, the transcription recognising the stand-in's own speech, the stand-in judge.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from simulator import server
from simulator.server import SimulatorHandle
from voice_agent.spec import load_spec
from voice_eval import persona_standin
from voice_eval.offline import standin_answerers
from voice_eval.persona import Persona, play
from voice_eval.persona_turns import SCHEMA_NAME as PERSONA_SCHEMA

from ..conftest import EXAMPLE_SPEC, ROOT

RIVERSIDE = yaml.safe_load((ROOT / "scenarios" / "suites" / "riverside.yaml").read_text(encoding="utf-8"))
PERSONA = Persona.model_validate(RIVERSIDE["personas"][0])  # terse_booker: says each fact when asked
SEED = 1


class StandIn:
    """The simulator on a loop of its own (the command under test runs in another process)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        language = load_spec(EXAMPLE_SPEC).languages.default
        answerers = {**standin_answerers(), PERSONA_SCHEMA: persona_standin.answerer(EXAMPLE_SPEC, language)}
        scenario = play(PERSONA, EXAMPLE_SPEC, language, SEED)
        self.handle: SimulatorHandle = self._run(server.start(scenario, seed=SEED, chat_answerers=answerers))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self._run(self.handle.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


Run = tuple[subprocess.CompletedProcess[str], dict[str, Any], SimulatorHandle]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("online")
    suite = {
        "name": "online-one",
        "agent": str(EXAMPLE_SPEC),
        "personas": [RIVERSIDE["personas"][0]],
        "rubric": RIVERSIDE["rubric"],
    }
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    standin = StandIn()
    env = {**os.environ, "OPENAI_BASE_URL": standin.handle.http_url, "OPENAI_API_KEY": "sk-test-online"}
    env.pop("PRICES", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "voice_agent_cli", "eval", str(folder / "suite.yaml"), "--online",
             "--report", str(folder / "report")],
            cwd=ROOT, capture_output=True, text=True, timeout=240, env=env,
        )  # fmt: skip
        report = folder / "report" / "report.json"
        assert report.is_file(), done.stdout + done.stderr
        yield done, json.loads(report.read_text(encoding="utf-8")), standin.handle
    finally:
        standin.close()


def _persona_requests(handle: SimulatorHandle) -> list[dict[str, Any]]:
    return [r for r in handle.http_requests if r["response_format"]["json_schema"]["name"] == PERSONA_SCHEMA]


def test_the_output_and_the_report_name_the_online_tier(run: Run) -> None:
    done, report, handle = run
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ONLINE tier" in done.stdout
    assert f"OpenAI: {handle.http_url};" in done.stdout  # the endpoint it used, said before the calls
    assert f"[1/1] {PERSONA.name} seed {SEED}: pass" in done.stdout
    assert report["tier"] == "online"
    assert report["passed"] and not report["errors"]


def test_the_persona_llm_heard_the_agent_through_transcription(run: Run) -> None:
    _, _, handle = run
    requests = _persona_requests(handle)
    assert len(requests) >= 5  # the opening, three facts, the closing (and the hang-up, if asked)
    assert all(r["seed"] == SEED and r["temperature"] == 0.7 for r in requests)
    greeting = load_spec(EXAMPLE_SPEC).greeting
    second = [m["content"] for m in requests[1]["messages"] if m["role"] == "user"]
    assert second[0] == greeting  # what the caller heard first, transcribed from the RTP leg
    assert len(second) == 2 and second[1] and second[1] != greeting  # the agent's answer to the opening
    transcriptions = handle.transcription_requests
    assert len(transcriptions) >= len(requests)
    assert {(t["model"], t["file_type"], t["filename"]) for t in transcriptions} == {
        ("gpt-4o-transcribe", "audio/wav", "agent.wav")
    }


def test_the_required_fields_are_captured_and_the_checks_pass(run: Run) -> None:
    _, report, _ = run
    (call,) = report["calls"]
    fields = {f["field"]: f for f in call["fields"]}
    for name in ("caller_name", "date_of_birth", "callback_number"):
        assert fields[name]["outcome"] == "correct", fields[name]
        assert fields[name]["source"] == "live"
    assert call["check_failures"] == [] and call["failures"] == []
    assert call["ended_by"] == "agent" and call["goodbyes"] == 1
    assert call["judgment"]["in_persona"] is True
    assert call["harness_cost_usd"] is not None and call["harness_cost_usd"] > 0


@pytest.mark.parametrize(
    ("extra", "env", "says"),
    [
        ([], {}, "error: the online tier (--online) needs OPENAI_API_KEY in the environment"),
        (["--judge", "stand-in"], {"OPENAI_API_KEY": "sk-x"}, "error: the online tier is judged by the LLM judge"),
    ],
)
def test_online_without_a_key_or_with_the_stand_in_judge_says_so_in_one_line(
    extra: list[str],
    env: dict[str, str],
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from voice_agent_cli.main import main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    suite = str(ROOT / "scenarios" / "suites" / "riverside.yaml")
    assert main(["eval", suite, "--online", *extra]) == 2
    out = capsys.readouterr()
    assert out.err.startswith(says) and out.err.count("\n") == 1 and not out.out
