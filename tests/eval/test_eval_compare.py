"""`voice-agent eval --compare`: the same persona and seed answered by two specs, scored by one ruler.

The shipped riverside suite's `agent_tries_to_close_early` persona meets a model that tries to end
the call after the first answer. The shipped spec's gate refuses (the name, date of birth and
number are still missing), so the call completes; a weakened spec with only the reason required
lets it hang up, and the caller never gives the rest. The comparison must call the shipped spec
better, and two identical specs indistinguishable.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import EXAMPLE_SPEC, ROOT

WEAKENED = Path(__file__).parent / "agents" / "riverside_weakened.yaml"


async def _eval(suite: Path, other: Path, report: Path) -> tuple[int, str, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_agent_cli", "eval", str(suite), "--compare", str(other), "--gate",
        "--concurrency", "1", "--report", str(report),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    assert (report / "report.json").is_file(), err.decode()
    return proc.returncode or 0, out.decode(), json.loads((report / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("compare")
    shipped = yaml.safe_load((ROOT / "scenarios" / "suites" / "riverside.yaml").read_text(encoding="utf-8"))
    (persona,) = [p for p in shipped["personas"] if p["name"] == "agent_tries_to_close_early"]
    suite = folder / "suite.yaml"
    text = {"name": "compare", "agent": str(EXAMPLE_SPEC), "rubric": shipped["rubric"], "personas": [persona]}
    suite.write_text(yaml.safe_dump(text), encoding="utf-8")
    twin = folder / "twin.yaml"
    shutil.copy(EXAMPLE_SPEC, twin)

    async def both() -> list[tuple[int, str, dict[str, Any]]]:
        return await asyncio.gather(_eval(suite, WEAKENED, folder / "weakened"), _eval(suite, twin, folder / "twin"))

    weakened, identical = asyncio.run(both())
    return {"weakened": weakened, "identical": identical}


def test_a_weakened_spec_scores_measurably_worse_on_the_same_seed(runs) -> None:  # type: ignore[no-untyped-def]
    status, out, report = runs["weakened"]
    assert status == 0  # the shipped spec's own run holds
    cmp = report["comparison"]
    assert report["metrics"]["pass_hat_1"] == 1.0 and cmp["other_metrics"]["pass_hat_1"] == 0.0
    assert cmp["difference"] == 1.0 and cmp["interval"][0] > 0 and cmp["detectable"]
    assert cmp["verdict"] == "ours is better"
    assert "ours is better" in out
    # --gate: the shipped spec's one run passed, so nothing is rerun and the gate passes (exit 0 above).
    assert report["gate"]["passed"] and report["gate"]["verdict"] == "every run passed"
    assert "gate: PASS: every run passed" in out and "rerunning" not in out
    (persona,) = cmp["other_personas"]
    assert persona["scenario"] == "agent_tries_to_close_early" and persona["passes"] == 0
    assert "ended by the agent after" in out  # why the weakened spec's run failed, as it finished


def test_two_identical_specs_show_no_detectable_difference(runs) -> None:  # type: ignore[no-untyped-def]
    _, out, report = runs["identical"]
    cmp = report["comparison"]
    assert cmp["difference"] == 0.0 and not cmp["detectable"]
    assert cmp["verdict"] == "no detectable difference"
    assert "no detectable difference" in out
