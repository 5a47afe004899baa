"""`voice-agent serve --local --openai-base-url URL`: the serving loop talks to that model endpoint.

The model here is the simulator started by the test on its own port, with the happy-path script;
the bridge process starts no stand-in of its own, so the call only works if every realtime and
post-call request went to the URL given.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from simulator import server as simulator_server
from simulator.caller import SimulatedCaller
from simulator.caller_result import CallerOptions
from simulator.scenario import load_scenario

from .bridge.test_bridge_crash import _free_port, _wait_http
from .conftest import ROOT

SCENARIO = ROOT / "scenarios" / "riverside_happy_path.yaml"


def test_a_call_reaches_the_model_at_the_given_url() -> None:
    scenario = load_scenario(SCENARIO)

    async def run() -> tuple[object, int, str]:
        sim = await simulator_server.start(scenario=scenario, port=0)
        sip_port, health_port = _free_port(), _free_port()
        bridge = subprocess.Popen(
            [sys.executable, "-m", "voice_agent_cli", "serve", "--local", "--openai-base-url", sim.http_url,
             "--sip-port", str(sip_port), "--health-port", str(health_port), "--drain-deadline", "3"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},  # no OPENAI_API_KEY: nothing else to reach
        )  # fmt: skip
        try:
            await asyncio.to_thread(_wait_http, f"http://127.0.0.1:{health_port}/health", 60)
            options = CallerOptions(hangup_timeout_s=60)
            result = await SimulatedCaller(scenario, "127.0.0.1", sip_port, options=options).run()
            bridge.terminate()
            out, _err = await asyncio.to_thread(bridge.communicate, timeout=60)
        finally:
            if bridge.poll() is None:
                bridge.kill()
                bridge.wait()
            await sim.close()
        return result, len(sim.sessions), out

    result, sessions, out = asyncio.run(run())
    assert result.answered and result.ended_by == "agent" and not result.timed_out  # type: ignore[attr-defined]
    assert sessions >= 1  # the realtime session was the simulator at the URL given
    assert "OpenAI:        http://127.0.0.1:" in out  # and the banner says where the model is
