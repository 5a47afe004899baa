"""The spec's `evidence` option on text fields: extractive by default, summary on request, refused
on any other type (whose evidence is their structure). Every shipped spec stays valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from voice_agent.spec import EvidenceRule, SpecError, load_spec, parse_spec

from ..conftest import EXAMPLE_SPEC, ROOT


def example(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    reason = next(f for f in data["fields"] if f["name"] == "reason")
    reason.update(changes)
    return data


def test_text_fields_are_extractive_unless_the_spec_says_summary() -> None:
    data = example()
    del next(f for f in data["fields"] if f["name"] == "reason")["evidence"]
    assert all(f.evidence is EvidenceRule.EXTRACTIVE for f in parse_spec(data).fields)
    reason = parse_spec(example()).field("reason")  # the example marks its reason a summary
    assert reason is not None and reason.evidence is EvidenceRule.SUMMARY
    member_id = parse_spec(example()).field("insurance_member_id")
    assert member_id is not None and member_id.evidence is EvidenceRule.EXTRACTIVE


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"evidence": "paraphrase"}, "fields[reason].evidence: 'paraphrase' is not a valid value"),
        ({"type": "person_name", "evidence": "summary"}, "'evidence' is only allowed on a text field"),
        ({"type": "date", "evidence": "summary"}, "'evidence' is only allowed on a text field"),
        ({"type": "date", "evidence": "extractive"}, "'evidence' is only allowed on a text field"),
    ],
)
def test_a_misplaced_or_unknown_evidence_rule_is_one_clear_line(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(example(**changes), "agent.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)


SHIPPED = sorted([*ROOT.glob("agents/*.yaml"), *ROOT.glob("scenarios/agents/*.yaml")])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_spec_is_valid(path: Path) -> None:
    assert load_spec(path).fields
