"""The suite file: strict, resolved relative to itself, and the `eval` command's errors and `--list`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from voice_eval.suite import SuiteError, load_suite

from ..conftest import ROOT

SHIPPED = ROOT / "scenarios" / "suites" / "offline.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_offline_suite_places_every_shipped_scenario_once() -> None:
    suite, files = load_suite(SHIPPED)
    assert suite.tier == "offline"
    assert files == sorted((ROOT / "scenarios").glob("*.yaml"))
    assert suite.thresholds["wrong_values"] == 0


def test_patterns_resolve_relative_to_the_suite_and_each_file_is_placed_once(tmp_path: Path) -> None:
    scenarios = ROOT / "scenarios"
    path = write(tmp_path, f"name: t\nscenarios: ['{scenarios}/riverside_*.yaml', '{scenarios}/riverside_demo.yaml']\n")
    _, files = load_suite(path)
    assert [f.name for f in files] == ["riverside_demo.yaml", "riverside_happy_path.yaml"]
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "one.yaml").write_text((scenarios / "barge_in.yaml").read_text(), encoding="utf-8")
    _, files = load_suite(write(tmp_path, "name: t\nscenarios: [s/one.yaml]\n"))
    assert files == [(tmp_path / "s" / "one.yaml").resolve()]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: t\nscenarios: [nowhere/*.yaml]\n", "matches no file"),
        ("name: t\nscenarios: [missing.yaml]\n", "matches no file"),
        ("name: t\nscenarios: []\n", "needs `personas`"),
        ("name: t\nscenarios: [x.yaml]\nthresholds: {wrong_value: 0}\n", "unknown metrics in thresholds"),
        ("name: t\nscenarios: [x.yaml]\nrepeat: 3\n", "Extra inputs are not permitted"),
        ("name: t\nscenarios: [x.yaml]\ntier: live\n", "offline"),
        ("name: t\nscenarios: [x.yaml]\nconcurrency: 0\n", "greater than or equal to 1"),
    ],
)
def test_a_bad_suite_is_refused_with_the_reason(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(SuiteError, match=says):
        load_suite(write(tmp_path, text))


def _eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_agent_cli", "eval", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_eval_list_names_every_call_with_its_seed(tmp_path: Path) -> None:
    happy = ROOT / "scenarios" / "riverside_happy_path.yaml"
    done = _eval(str(write(tmp_path, f"name: t\nscenarios: ['{happy}']\nrepeats: 3\n")), "--list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{happy} seed {seed}" for seed in (7, 8, 9)]


def test_eval_refuses_a_bad_suite_or_scenario_in_one_line_with_status_2(tmp_path: Path) -> None:
    done = _eval(str(write(tmp_path, "name: t\nscenarios: [x.yaml]\nthresholds: {speed: 1}\n")))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
    (tmp_path / "bad.yaml").write_text("agent: ../agents/none.yaml\ncaller: {turns: [{say: hi}]}\n", encoding="utf-8")
    done = _eval(str(write(tmp_path, "name: t\nscenarios: [bad.yaml]\n")))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
