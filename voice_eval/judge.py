"""The rubric judge: one chat completion per call, temperature 0, structured output.

The judge reads the persona (goal, facts, the lines it may say), the rubric and the transcript, and
answers, per criterion, pass / fail / unsure with quoted transcript evidence, and first whether the
simulated caller stayed in persona. The same SDK call goes to OpenAI online and to the local
stand-in (judge_standin.py, served by the simulator's HTTP API) offline: only the endpoint differs.

Verify, never trust: a quote that is not in the transcript (normalised as the evidence rules
compare words) turns that verdict into `unsure`, and unsure counts as fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from openai import OpenAI
from openai.types.completion_usage import CompletionUsage
from pydantic import BaseModel, ConfigDict, ValidationError

from voice_agent.evidence import normalise
from voice_agent.record_store import Turn

from .persona import Persona
from .suite import Criterion

SCHEMA_NAME = "eval_judgment"
SYSTEM_PROMPT = """You judge one recorded phone call made by a simulated caller to a business's voice agent.
The user message is JSON: the persona the caller was asked to play, the business's rubric, and the transcript.
First decide whether the caller stayed in persona: it said only what its goal and facts allow (no invented facts,
no other goal). Then, for each rubric criterion, answer pass, fail or unsure, with the exact transcript words that
show it (copied verbatim from `transcript`, one quote per list item); `forbidden` and `expected` are the business's
example phrases. A criterion that applies only to another language passes with no evidence. When the transcript
does not let you decide, answer unsure."""

Verdict = Literal["pass", "fail", "unsure"]


class _Strict(BaseModel):
    # Strict structured output: every key required, nothing else allowed.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TranscriptLine(_Strict):
    seq: int
    speaker: Literal["caller", "agent", "system"]
    text: str


class PersonaBrief(_Strict):
    goal: str
    languages: list[str]
    facts: dict[str, str]  # field -> value, or "(refuses)"
    lines: list[str]  # everything the persona may say


class JudgeRequest(_Strict):
    persona: PersonaBrief
    rubric: list[Criterion]
    transcript: list[TranscriptLine]


class CriterionVerdict(_Strict):
    id: str
    verdict: Verdict
    evidence: list[str]
    reason: str


class Judgment(_Strict):
    in_persona: bool
    persona_evidence: list[str]  # the caller's words that broke character, when it did
    criteria: list[CriterionVerdict]


class JudgeError(RuntimeError):
    pass


def brief(persona: Persona) -> PersonaBrief:
    facts = {name: "(refuses)" if f.refuse else str(f.value) for name, f in persona.facts.items()}
    facts.update(persona.opening.means)
    languages = [persona.language, *([persona.switch_to] if persona.switch_to else [])]
    return PersonaBrief(goal=persona.goal, languages=languages, facts=facts, lines=persona.lines())


def transcript_lines(transcript: Sequence[Turn]) -> list[TranscriptLine]:
    return [TranscriptLine(seq=t.seq, speaker=t.speaker, text=t.text) for t in transcript if t.text]


def ask_judge(
    client: OpenAI,
    model: str,
    request: JudgeRequest,
    on_usage: Callable[[CompletionUsage | None], None] | None = None,
) -> Judgment:
    """`on_usage`: told the call's token usage (the online tier counts what its judge costs)."""
    completion = client.chat.completions.create(
        model=model,
        temperature=0,
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": request.model_dump_json()},
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": Judgment.model_json_schema()},
        },
    )
    if on_usage is not None:
        on_usage(completion.usage)
    content = completion.choices[0].message.content if completion.choices else None
    if not content:
        raise JudgeError("the judge's answer has no content")
    try:
        judgment = Judgment.model_validate_json(content)
    except ValidationError as err:
        raise JudgeError(f"the judge's answer does not match the contract ({err.error_count()} errors)") from err
    return verified(judgment, request)


def verified(judgment: Judgment, request: JudgeRequest) -> Judgment:
    """Every criterion answered once, every quote found in the transcript; otherwise `unsure`."""
    said = [normalise(line.text) for line in request.transcript]
    answers = {c.id: c for c in judgment.criteria}
    criteria = []
    for criterion in request.rubric:
        answer = answers.get(criterion.id)
        if answer is None:
            answer = CriterionVerdict(id=criterion.id, verdict="unsure", evidence=[], reason="the judge did not answer")
        missing = [q for q in answer.evidence if not any(normalise(q) in text for text in said)]
        if missing and answer.verdict != "unsure":
            answer = answer.model_copy(
                update={"verdict": "unsure", "reason": f"quoted evidence not in the transcript: {missing[0]!r}"}
            )
        criteria.append(answer)
    return judgment.model_copy(update={"criteria": criteria})
