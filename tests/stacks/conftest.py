"""One offline synth per test session, shared by every stack test.

Bundling is skipped (`aws:cdk:bundling-stacks=[]`) so pip never runs here; `make synth` does
the real bundling. The context uses non-default Chime ranges and a phone number, so the tests
prove that configuration reaches the templates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

SIGNALING = ("52.94.1.0/24", "52.94.9.0/25")
MEDIA = ("52.94.2.0/24", "52.94.3.128/25")
PHONE = "+12065550100"
RETENTION_DAYS = 400
CONTEXT: dict[str, Any] = {
    "aws:cdk:bundling-stacks": [],
    "chime_signaling_cidrs": ",".join(SIGNALING),
    "chime_media_cidrs": list(MEDIA),
    "phone_number": PHONE,
    "desired_count": "3",
    "object_lock_retention_days": RETENTION_DAYS,
}


@dataclass(frozen=True)
class Synth:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # short stack name (Data, Bridge, ...) -> template
    prefix: str

    def resources(self, type_: str, stack: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(stack, logical id, properties) of every resource of a type."""
        for name, template in self.templates.items():
            if stack and name != stack:
                continue
            for logical_id, res in template["Resources"].items():
                if res["Type"] == type_:
                    yield name, logical_id, res.get("Properties", {})


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    from stacks.voice_agent_app import STACK_NAMES, build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, config = build_app(CONTEXT, outdir=str(outdir))
    app.synth()
    templates = {
        name: json.loads((outdir / f"{config.stack_prefix}{name}.template.json").read_text()) for name in STACK_NAMES
    }
    return Synth(outdir=outdir, templates=templates, prefix=config.stack_prefix)
