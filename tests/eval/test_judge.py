"""The rubric judge: the stand-in's decisions, the quote check that keeps any judge honest, and the
SDK call the online tier makes, answered here by the simulator's HTTP API on loopback."""

from __future__ import annotations

import asyncio
import json

from voice_eval.judge import (
    CriterionVerdict,
    JudgeRequest,
    Judgment,
    PersonaBrief,
    TranscriptLine,
    ask_judge,
    verified,
)
from voice_eval.judge_standin import answer
from voice_eval.offline import standin_judge
from voice_eval.suite import Criterion

RUBRIC = [
    Criterion(id="no_time", text="Never promises a time.", forbidden=["your appointment is at"]),
    Criterion(id="fallback", text="Says which languages.", expected=["English or Spanish"], when_language="fr"),
    Criterion(id="kind", text="Is kind to the caller."),  # nothing structural: the stand-in cannot tell
]
PERSONA = PersonaBrief(goal="book", languages=["fr"], facts={"caller_name": "Claire Dubois"},
                       lines=["Bonjour, un rendez-vous.", "Claire Dubois, merci beaucoup."])  # fmt: skip


def request(*lines: tuple[str, str]) -> JudgeRequest:
    transcript = [TranscriptLine(seq=n, speaker=s, text=t) for n, (s, t) in enumerate(lines, 1)]  # type: ignore[arg-type]
    return JudgeRequest(persona=PERSONA, rubric=RUBRIC, transcript=transcript)


GOOD = request(
    ("agent", "Hello, how can I help?"),
    ("caller", "Bonjour, un rendez-vous."),
    ("agent", "I'm sorry, I can only help in English or Spanish."),
    ("caller", "Claire Dubois,"),  # half of a paused line is still the persona's
    ("caller", "merci beaucoup."),
    ("caller", "Bonjour, un rendez-vous. Claire Dubois, merci beaucoup."),  # two lines in one breath
)


def verdicts(judgment: Judgment) -> dict[str, str]:
    return {c.id: c.verdict for c in judgment.criteria}


def test_the_stand_in_judge_decides_only_what_structure_decides() -> None:
    judged = Judgment.model_validate_json(answer(GOOD.model_dump_json()))
    assert judged.in_persona and verdicts(judged) == {"no_time": "pass", "fallback": "pass", "kind": "unsure"}
    assert judged.criteria[1].evidence == ["I'm sorry, I can only help in English or Spanish."]
    bad = request(
        ("agent", "Great, your appointment is at 3 pm."),
        ("caller", "Bonjour, un rendez-vous."),
        ("caller", "Bonjour, un rendez-vous. Can I also get a refund?"),
    )
    judged = Judgment.model_validate_json(answer(bad.model_dump_json()))
    assert verdicts(judged) == {"no_time": "fail", "fallback": "fail", "kind": "unsure"}
    assert judged.criteria[0].evidence == ["Great, your appointment is at 3 pm."]
    assert not judged.in_persona and judged.persona_evidence == [
        "Bonjour, un rendez-vous. Can I also get a refund?"
    ]  # broke character


def test_a_verdict_whose_quote_is_not_in_the_transcript_becomes_unsure() -> None:
    claims = Judgment(
        in_persona=True,
        persona_evidence=[],
        criteria=[
            CriterionVerdict(id="no_time", verdict="pass", evidence=["Hello, how can I help?"], reason="ok"),
            CriterionVerdict(id="fallback", verdict="pass", evidence=["We speak French too."], reason="made up"),
        ],
    )
    checked = verified(claims, GOOD)
    assert verdicts(checked) == {"no_time": "pass", "fallback": "unsure", "kind": "unsure"}  # `kind`: unanswered
    assert "not in the transcript" in checked.criteria[1].reason


def test_the_judge_is_one_sdk_call_at_temperature_0_with_structured_output() -> None:
    async def judge_once() -> tuple[Judgment, list[dict[str, object]]]:
        async with standin_judge() as judge:
            judged = await asyncio.to_thread(ask_judge, judge.client, judge.model, GOOD)
            return judged, judge.requests()

    judged, sent = asyncio.run(judge_once())
    assert verdicts(judged) == {"no_time": "pass", "fallback": "pass", "kind": "unsure"}
    (body,) = sent
    assert body["temperature"] == 0
    fmt = body["response_format"]
    assert isinstance(fmt, dict) and fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
    assert JudgeRequest.model_validate(json.loads(body["messages"][-1]["content"])) == GOOD  # type: ignore[index]


def test_the_openai_judge_is_the_same_call_to_whatever_endpoint_the_environment_names(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from voice_eval.offline import open_judge

    async def judge_through_env() -> tuple[Judgment, str, int]:
        async with standin_judge() as standin:  # plays the service at OPENAI_BASE_URL
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
            monkeypatch.setenv("OPENAI_BASE_URL", str(standin.client.base_url))
            async with open_judge("openai", "gpt-4.1-mini") as judge:
                judged = await asyncio.to_thread(ask_judge, judge.client, judge.model, GOOD)
            sent = standin.requests()
            return judged, str(sent[0]["model"]), len(sent)

    judged, model, count = asyncio.run(judge_through_env())
    assert verdicts(judged) == {"no_time": "pass", "fallback": "pass", "kind": "unsure"}
    assert (model, count) == ("gpt-4.1-mini", 1)


def test_the_openai_judge_without_a_key_is_refused_before_any_call(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from ..conftest import ROOT

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    suite = ROOT / "scenarios" / "suites" / "riverside.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent_cli", "eval", str(suite), "--judge", "openai"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "error: --judge openai needs OPENAI_API_KEY in the environment\n"
