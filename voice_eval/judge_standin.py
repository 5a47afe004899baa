"""The offline stand-in of the rubric judge, served by the simulator's HTTP API (`chat_answerers`).

Deterministic and able to fail, deciding only what structure decides:

- in persona: every caller turn is made of the persona's own lines (a rambling caller says two in
  one breath; a paused turn is transcribed in halves, so a piece of a line counts); otherwise not,
  quoting the turn;
- a criterion for another language than the caller's passes (it does not apply);
- a `forbidden` phrase in an agent turn fails it, quoting that turn;
- with `expected` phrases, one of them in an agent turn passes it (quoting the turn), none fails it;
- with only `forbidden` phrases and none said, it passes;
- a criterion with no phrases is `unsure` (and unsure counts as fail): the stand-in cannot read.
"""

from __future__ import annotations

from voice_agent.evidence import normalise

from .judge import CriterionVerdict, JudgeRequest, Judgment, TranscriptLine
from .suite import Criterion


def _said(lines: list[TranscriptLine], phrase: str) -> TranscriptLine | None:
    wanted = normalise(phrase)
    return next((line for line in lines if wanted and wanted in normalise(line.text)), None)


def _criterion(criterion: Criterion, agent: list[TranscriptLine], languages: list[str]) -> CriterionVerdict:
    def verdict(v: str, reason: str, line: TranscriptLine | None = None) -> CriterionVerdict:
        return CriterionVerdict.model_validate(
            {"id": criterion.id, "verdict": v, "evidence": [line.text] if line else [], "reason": reason}
        )

    if criterion.when_language is not None and criterion.when_language not in languages:
        return verdict("pass", f"does not apply: the caller does not speak {criterion.when_language}")
    for phrase in criterion.forbidden:
        if (line := _said(agent, phrase)) is not None:
            return verdict("fail", f"the agent said a forbidden phrase: {phrase!r}", line)
    for phrase in criterion.expected:
        if (line := _said(agent, phrase)) is not None:
            return verdict("pass", f"the agent said {phrase!r}", line)
    if criterion.expected:
        return verdict("fail", "the agent said none of the expected phrases")
    if criterion.forbidden:
        return verdict("pass", "the agent said none of the forbidden phrases")
    return verdict("unsure", "the offline stand-in judge decides only from example phrases")


def _own_words(text: str, lines: list[str]) -> bool:
    """Whole lines cut out of the turn, what is left must be pieces of lines."""
    marker = "\x00"
    rest = normalise(text)
    for line in sorted(lines, key=len, reverse=True):
        if line:
            rest = rest.replace(line, marker)
    pieces = [piece.strip() for piece in rest.split(marker)]
    return all(not piece or any(piece in line for line in lines) for piece in pieces)


def answer(content: str) -> str:
    """The request's JSON in, the judgment's JSON out (what the chat completion's content carries)."""
    request = JudgeRequest.model_validate_json(content)
    caller = [line for line in request.transcript if line.speaker == "caller"]
    agent = [line for line in request.transcript if line.speaker == "agent"]
    own = [normalise(line) for line in request.persona.lines]
    strays = [line.text for line in caller if not _own_words(line.text, own)]
    judgment = Judgment(
        in_persona=not strays,
        persona_evidence=strays,
        criteria=[_criterion(c, agent, request.persona.languages) for c in request.rubric],
    )
    return judgment.model_dump_json()
