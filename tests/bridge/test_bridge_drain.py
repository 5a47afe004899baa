"""SIGTERM drains: the bridge stops taking calls at once, lets the active call run until the
drain deadline, then the gate closes it (one closing, then BYE) and the process exits cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

from simulator.caller import SimulatedCaller
from simulator.caller_result import CallerEvent, CallerOptions
from simulator.scenario import load_scenario

from ..conftest import ROOT
from .test_bridge_crash import _free_port, _wait_http

SCENARIO = ROOT / "scenarios" / "riverside_happy_path.yaml"


def test_sigterm_lets_the_call_finish_with_the_closing_then_exits() -> None:
    sip_port, health_port = _free_port(), _free_port()
    bridge = subprocess.Popen(
        [sys.executable, "-m", "voice_agent_cli", "serve", "--local", "--json", "--scenario", str(SCENARIO),
         "--sip-port", str(sip_port), "--health-port", str(health_port), "--drain-deadline", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{health_port}/health", timeout=60)
        scenario = load_scenario(SCENARIO)

        def on_event(event: CallerEvent) -> None:
            if event.kind == "caller_turn_end" and event.turn == 1:
                bridge.send_signal(signal.SIGTERM)

        async def call():  # type: ignore[no-untyped-def]
            options = CallerOptions(hangup_timeout_s=30)
            return await SimulatedCaller(scenario, "127.0.0.1", sip_port, options=options, on_event=on_event).run()

        result = asyncio.run(call())
        out, err = bridge.communicate(timeout=60)
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()
    assert bridge.returncode == 0, err[-2000:]
    assert result.ended_by == "agent" and not result.timed_out  # the bridge said goodbye and hung up
    assert result.turns_spoken < result.turns_total  # ... before the scenario was over
    lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"ts"')]
    gate = [(d["verdict"], d["reason"]) for d in lines if d["decision"] == "end_call_gate"]
    assert ("allow", "shutdown") in gate and gate[-1] == ("ended", "closing_played")
    assert sum(1 for verdict, _ in gate if verdict == "allow") == 1
