"""Calls the simulator really placed, written to disk as `make demo` and `voice-agent simulate` do
(the S3 layout), once per session: the files `voice-agent calls`, `audit` and `timeline` read.

Four scenarios over loopback SIP (about a minute; nothing when tests/bridge placed them already):
the demo call (a gate denial, a misread number caught, a barge-in, a second goodbye never played),
a forgotten field backfilled after the call, a caller who hangs up with fields missing, and a call
the system ends (no model session).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.commands import write_call_files
from simulator.runner import SimulationResult

from ..conftest import ROOT
from ..scenario_runs import ScenarioRuns

SCENARIO_NAMES = ("riverside_demo", "forgotten_tool_call", "caller_hang_up", "model_refuse_connect")


@dataclass(frozen=True)
class Archive:
    root: Path
    calls: dict[str, SimulationResult]  # by scenario name


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory, scenario_runs: ScenarioRuns) -> Archive:
    root = tmp_path_factory.mktemp("archive")
    results = scenario_runs.get(SCENARIO_NAMES)  # placed once: tests/bridge checks the same calls
    for result in results.values():
        assert result.expectations.passed, (result.scenario, result.expectations.failures)
        write_call_files(result, root)
    return Archive(root, results)


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`voice-agent ARGS` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "voice_agent_cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )
