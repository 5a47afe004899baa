"""A bad setting stops synth with one clear line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.config import CHIME_CIDRS, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
BASE = {"aws:cdk:bundling-stacks": []}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"phone_number": "555-0100"}, "phone_number"),
        ({"phone_number": "+1206555010"}, "phone_number"),
        ({"chime_signaling_cidrs": "3.80.16.0/33"}, "chime_signaling_cidrs"),
        ({"chime_media_cidrs": "3.80.16.1/23"}, "chime_media_cidrs"),  # host bits set
        ({"chime_media_cidrs": "0.0.0.0/0"}, "chime_media_cidrs"),
        ({"chime_signaling_cidrs": "10.0.0.0/16"}, "chime_signaling_cidrs"),  # not public
        ({"desired_count": "two"}, "desired_count"),
        ({"desired_count": 0}, "desired_count"),
        ({"object_lock_retention_days": -1}, "object_lock_retention_days"),
        ({"region": "eu-west-1"}, "chime_signaling_cidrs"),  # no defaults there: must be given
        ({"agent_spec": "tests/stacks/fixtures/bad_spec.yaml"}, "fields[caller_name].type"),
        ({"agent_spec": "agents/missing.yaml"}, "cannot read"),
        ({"agent_spec": "/etc/hostname"}, "inside the project"),
        ({"realtime_model": "gpt realtime"}, "realtime_model"),
    ],
)
def test_bad_values_raise_one_line(context: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({**BASE, **context})
    message = str(err.value)
    assert expected in message and "\n" not in message


def test_region_picks_its_chime_ranges() -> None:
    west = load_config({"region": "us-west-2"})
    assert west.signaling_cidrs == CHIME_CIDRS["us-west-2"]["signaling"]
    assert west.media_cidrs == CHIME_CIDRS["us-west-2"]["media"]


def test_settings_reach_the_config() -> None:
    c = load_config(
        {
            "phone_number": "+1 (206) 555-0100",
            "desired_count": "4",
            "realtime_model": "gpt-realtime-mini",
            "post_call_model": "gpt-4.1",
            "chime_media_cidrs": '["52.94.2.0/24"]',
        }
    )
    assert c.phone_number == "+12065550100"  # normalized to E.164
    assert (c.desired_count, c.realtime_model, c.post_call_model) == (4, "gpt-realtime-mini", "gpt-4.1")
    assert c.media_cidrs == ("52.94.2.0/24",)
    assert load_config({}).realtime_model is None  # default: each agent's spec names its model


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "phone_number=12345"],
        ["-c", "agent_spec=tests/stacks/fixtures/bad_spec.yaml"],
    ],
)
def test_app_prints_one_line_and_exits_nonzero(args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "app.py", "-c", "aws:cdk:bundling-stacks=[]", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("synth stopped: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.template.json"))
