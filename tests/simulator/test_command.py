"""`python -m simulator` prints a base URL the unmodified SDK can use."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from openai import AsyncOpenAI

from tests.simulator.sim_helpers import ROOT, SCENARIOS


def test_command_prints_a_base_url_that_works() -> None:
    scenario = SCENARIOS / "riverside_happy_path.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--scenario", str(scenario), "--engine", "synthetic"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("OPENAI_BASE_URL=http://127.0.0.1:")
        base_url = line.split("=", 1)[1]

        async def main() -> str:
            client = AsyncOpenAI(api_key="sk-test", base_url=base_url)
            async with client.realtime.connect(model="gpt-realtime") as connection:
                return (await connection.recv()).type

        assert asyncio.run(main()) == "session.created"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_command_rejects_a_bad_scenario(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("agent: nowhere.yaml\ncaller: {turns: []}\n")
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--scenario", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "turns" in result.stderr
