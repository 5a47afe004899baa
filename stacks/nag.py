"""cdk-nag suppressions, always with a reason and, for wildcard findings, the exact findings."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct


def _findings(applies_to: Sequence[str] | None) -> list[str | RegexAppliesTo] | None:
    """`/.../` strings are regexes over finding IDs; anything else must match exactly."""
    if applies_to is None:
        return None
    return [RegexAppliesTo(regex=a) if a.startswith("/") and a.endswith("/") else a for a in applies_to]


def suppress(
    construct: IConstruct,
    rule: str,
    reason: str,
    *,
    applies_to: Sequence[str] | None = None,
    children: bool = False,
) -> None:
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=f"AwsSolutions-{rule}", reason=reason, applies_to=_findings(applies_to))],
        apply_to_children=children,
    )


def suppress_path(stack: Stack, path: str, rule: str, reason: str, *, applies_to: Sequence[str] | None = None) -> None:
    NagSuppressions.add_resource_suppressions_by_path(
        stack,
        path,
        [NagPackSuppression(id=f"AwsSolutions-{rule}", reason=reason, applies_to=_findings(applies_to))],
        apply_to_children=True,
    )
