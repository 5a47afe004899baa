"""The templates pass cfn-lint with zero errors and cdk-nag's AwsSolutions pack with zero
unsuppressed findings; every suppression carries a reason."""

from __future__ import annotations

import csv

import pytest
from cfnlint.api import ManualArgs, lint_file

from stacks.voice_agent_app import STACK_NAMES
from tests.stacks.conftest import Synth


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_cfn_lint_finds_no_errors(synth: Synth, stack: str) -> None:
    template = synth.outdir / f"{synth.prefix}{stack}.template.json"
    matches = lint_file(template, config=ManualArgs(regions=["us-east-1", "us-west-2"]))
    errors = [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches if m.rule.severity == "error"]
    assert errors == []


def _nag_rows(synth: Synth, stack: str) -> list[dict[str, str]]:
    path = synth.outdir / f"AwsSolutions--{synth.prefix}{stack}-NagReport.csv"
    assert path.exists(), f"cdk-nag wrote no report for {stack}"
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_cdk_nag_has_no_unsuppressed_findings(synth: Synth, stack: str) -> None:
    rows = _nag_rows(synth, stack)
    failing = [f"{r['Rule ID']} {r['Resource ID']}" for r in rows if r["Compliance"] == "Non-Compliant"]
    assert failing == []


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_nag_suppression_has_a_reason(synth: Synth, stack: str) -> None:
    for row in _nag_rows(synth, stack):
        if row["Compliance"] == "Suppressed":
            reason = row["Exception Reason"].split("] ", 1)[-1]  # granular rows start with [finding]
            assert len(reason) >= 40, f"{row['Rule ID']} on {row['Resource ID']}: reason too thin: {reason!r}"


def test_wildcard_suppressions_name_their_findings(synth: Synth) -> None:
    """IAM5 (wildcards) is never suppressed wholesale: each suppression lists the findings it covers."""
    for stack in STACK_NAMES:
        for row in _nag_rows(synth, stack):
            if row["Rule ID"] == "AwsSolutions-IAM5" and row["Compliance"] == "Suppressed":
                assert row["Exception Reason"].startswith("[Resource::"), row


def test_cdk_nag_actually_checked_the_app(synth: Synth) -> None:
    """A pack that silently checked nothing would pass the tests above; it must have looked."""
    checked = {stack for stack in STACK_NAMES if _nag_rows(synth, stack)}
    assert checked == set(STACK_NAMES)
