"""One call, scored against what its caller meant (the scenario's `means`, turn by turn).

The scenario's `expect:` says what one scenario is there to prove; the score asks the same
questions of every call, so they can be summed over a suite: for each field the caller gave, is
the value in the record, is it the caller's, who wrote it; was anything written the caller never
gave; was the caller closed once; how long did the caller wait. Pure: no I/O.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, computed_field

from simulator.runner import SimulationResult
from simulator.scenario import CATEGORY, DECLINED, LANGUAGE, PROVIDER, Scenario
from voice_agent.evidence import normalise
from voice_agent.field_values import Valid, validate_value
from voice_agent.spec import AgentSpec, FieldType

from .checks import asked_again_failures, ended_by_failures, evidence_failures, gate_failures, readback_failures
from .judge import Judgment, TranscriptLine, transcript_lines

# correct: the record holds what the caller meant (a refusal counts when the caller refused);
# wrong: it holds something else; missing: it holds nothing (a candidate may be kept for the office);
# unsupported: it holds a value or refusal for a field the caller never gave.
Outcome = Literal["correct", "wrong", "missing", "unsupported"]
REFUSED = "(declined)"


class FieldScore(BaseModel):
    field: str
    outcome: Outcome
    meant: str | None  # canonical; REFUSED when the caller refused it; None when never given
    got: str | None  # what the record holds (REFUSED for a declined field)
    source: Literal["live", "backfill"] | None = None
    candidate: bool = False  # missing, with an unverified candidate kept for the office
    required: bool = False  # the spec requires it: missing it fails the run


class CallScore(BaseModel):
    scenario: str  # the persona: its name, or the scenario file
    seed: int
    call_id: str
    answered: bool
    expectations_passed: bool
    expectation_failures: list[str]
    fields: list[FieldScore]  # the spec's fields (given or written), then category and provider
    turns_spoken: int
    turns_total: int
    ended_by: str | None
    goodbyes: int
    gate_denials: int
    latencies_ms: list[int]  # caller-perceived, one per answered turn
    cost_usd: float | None  # the agent's, as its record prices it
    harness_cost_usd: float | None = None  # online: this run's persona LLM, transcription and judge calls
    duration_ms: int
    check_failures: list[str] = []  # checks.py: evidence, gate, read-back, who ended it, asked again
    judgment: Judgment | None = None  # the rubric judge's, when the suite has a rubric or personas
    transcript: list[TranscriptLine] = []
    decision_lines: list[str] = []  # the call's decision lines as logged (PII masked)

    @property
    def broke_character(self) -> bool:
        """The simulated caller left its persona: the run says nothing about the agent."""
        return self.judgment is not None and not self.judgment.in_persona

    @property
    def incomplete(self) -> bool:
        return self.turns_spoken < self.turns_total

    @property
    def extra_goodbyes(self) -> int:
        return max(0, self.goodbyes - 1)

    @property
    def missing_closing(self) -> bool:
        return self.ended_by == "agent" and self.goodbyes == 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failures(self) -> list[str]:
        """Why the run fails, by the deterministic checks; empty: it passes. A run passes when the
        call was answered, its scenario's expectations held, every field the caller gave that the
        spec requires is recorded as meant, nothing wrong or invented is recorded, and the agent
        that ended the call was heard closing it once."""
        found = [] if self.answered else ["not answered"]
        found += [f"expect: {failure}" for failure in self.expectation_failures]
        for f in self.fields:
            if f.outcome in ("wrong", "unsupported") or (f.outcome == "missing" and f.required):
                found.append(f"{f.outcome}: {f.field}")
        if self.incomplete and self.ended_by == "agent":
            found.append(f"ended by the agent after {self.turns_spoken} of {self.turns_total} caller turns")
        if self.extra_goodbyes:
            found.append(f"goodbyes heard: {self.goodbyes}")
        if self.missing_closing:
            found.append("ended by the agent without the closing heard")
        found += self.check_failures
        if self.judgment is not None:  # unsure counts as fail
            found += [f"rubric {c.id}: {c.verdict}" for c in self.judgment.criteria if c.verdict != "pass"]
        return found

    @property
    def passed(self) -> bool:
        return not self.failures


def meant_by_caller(scenario: Scenario, spoken: int) -> dict[str, str]:
    """What a perfect listener holds after the first `spoken` turns: field (or `category`,
    `provider`) -> value, REFUSED for a refusal; a later mention replaces an earlier one."""
    meant: dict[str, str] = {}
    for turn in scenario.caller.spoken_turns[:spoken]:
        for key, value in turn.means.items():
            if key == DECLINED:
                meant[value] = REFUSED
            elif key != LANGUAGE:
                meant[key] = value
    return meant


def _same(spec: AgentSpec, name: str, meant: str, got: str) -> bool:
    field = spec.field(name)
    if field is None:  # category, provider: canonical names
        return meant == got
    want = validate_value(field, meant)
    canonical = want.value if isinstance(want, Valid) else meant
    if field.type in (FieldType.TEXT, FieldType.PERSON_NAME):
        return normalise(canonical) == normalise(got)  # as the evidence rules compare words
    return canonical == got


def _outcome(spec: AgentSpec, name: str, meant: str | None, got: str | None) -> Outcome | None:
    if meant is None:
        return None if got is None else "unsupported"
    if got is None:
        return "missing"
    if meant == REFUSED or got == REFUSED:
        return "correct" if meant == got else "wrong"
    return "correct" if _same(spec, name, meant, got) else "wrong"


def score_call(scenario: Scenario, spec: AgentSpec, result: SimulationResult, seed: int) -> CallScore:
    meant = meant_by_caller(scenario, result.caller.turns_spoken)
    record = result.record
    scores: list[FieldScore] = []
    for name, recorded in record.fields.items():
        got = recorded.value if recorded.status == "value" else REFUSED if recorded.status == "declined" else None
        outcome = _outcome(spec, name, meant.get(name), got)
        if outcome is not None:
            scores.append(
                FieldScore(
                    field=name,
                    outcome=outcome,
                    meant=meant.get(name),
                    got=got,
                    source=recorded.source if got is not None else None,
                    candidate=recorded.candidate is not None,
                    required=bool((field := spec.field(name)) and field.required),
                )
            )
    # Only their tools write these, during the call: the post-call pass never does.
    for name, got in ((CATEGORY, record.category), (PROVIDER, record.provider)):
        outcome = _outcome(spec, name, meant.get(name), got)
        if outcome is not None:
            source = "live" if got is not None else None
            scores.append(FieldScore(field=name, outcome=outcome, meant=meant.get(name), got=got, source=source))
    caller = result.caller
    checks = [
        *evidence_failures(record, result.transcript),
        *gate_failures(result.ended_by, result.decisions),
        *readback_failures(spec, record, result.decisions),
        *asked_again_failures(result.decisions),
    ]
    if scenario.expect.ended_by is None:  # a scenario's own `expect:` already says who ends it
        checks += ended_by_failures(result.ended_by, scenario.caller.hangs_up)
    return CallScore(
        scenario=result.scenario,
        seed=seed,
        call_id=result.call_id,
        answered=caller.answered,
        expectations_passed=result.expectations.passed,
        expectation_failures=result.expectations.failures,
        fields=scores,
        turns_spoken=caller.turns_spoken,
        turns_total=caller.turns_total,
        ended_by=result.ended_by,
        goodbyes=result.goodbyes,
        gate_denials=sum(1 for d in result.decisions if d.decision == "end_call_gate" and d.verdict == "deny"),
        latencies_ms=[t.latency_ms for t in caller.turns if t.latency_ms is not None],
        cost_usd=record.cost_usd,
        duration_ms=caller.duration_ms,
        check_failures=checks,
        transcript=transcript_lines(result.transcript),
        decision_lines=[d.to_json() for d in result.decisions],
    )
