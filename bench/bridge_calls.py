"""Bridge benchmark: N simultaneous calls through one bridge on the local stack.

Each call is the happy-path scenario over real loopback SIP/RTP. Reported per concurrency level:
the caller-perceived response time (end of a caller turn -> first agent audio heard; it includes
the server VAD's end-of-turn silence and the simulated model's first-audio delay, so the bridge's
own share is the part above those), RTP frames lost, and CPU seconds per call-minute. The
callers, the model stand-in and moto share the process, so CPU is an upper bound on the bridge's.
Prints a table and writes bench/results/bridge_calls.json.

    .venv/bin/python bench/bridge_calls.py [--calls 1,4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path

from simulator.caller import SimulatedCaller
from simulator.caller_result import CallerResult
from simulator.local_world import start_local_world
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "riverside_happy_path.yaml"


async def level(n: int) -> dict[str, object]:
    scenario = load_scenario(SCENARIO)
    world = await start_local_world(scenario.agent, scenario)
    try:
        cpu0, wall0 = time.process_time(), time.monotonic()
        results: list[CallerResult] = await asyncio.gather(
            *(SimulatedCaller(scenario, "127.0.0.1", world.sip_port).run() for _ in range(n))
        )
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        for _ in range(n):
            await asyncio.wait_for(world.router.finished.get(), 60)
    finally:
        await world.close()
    latencies = sorted(t.latency_ms for r in results for t in r.turns if t.latency_ms is not None)
    call_minutes = sum(r.duration_ms for r in results) / 60_000
    expected_frames = sum(r.duration_ms // 20 for r in results)
    received = sum(r.rtp_frames_received for r in results)
    return {
        "concurrent_calls": n,
        "calls_answered": sum(r.answered for r in results),
        "turns": len(latencies),
        "response_p50_ms": statistics.median(latencies) if latencies else None,
        "response_p95_ms": latencies[int(0.95 * (len(latencies) - 1))] if latencies else None,
        "response_max_ms": latencies[-1] if latencies else None,
        "rtp_frames_received_pct": round(100 * received / expected_frames, 1) if expected_frames else None,
        "cpu_s_per_call_minute": round(cpu / call_minutes, 3) if call_minutes else None,
        "wall_s": round(wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="1,4", help="comma-separated concurrency levels")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows = [asyncio.run(level(int(n))) for n in args.calls.split(",")]
    head = ["concurrent_calls", "calls_answered", "turns", "response_p50_ms", "response_p95_ms",
            "response_max_ms", "rtp_frames_received_pct", "cpu_s_per_call_minute", "wall_s"]  # fmt: skip
    print("  ".join(f"{h:>22}" for h in head))
    for row in rows:
        print("  ".join(f"{row[h]!s:>22}" for h in head))
    out = ROOT / "bench" / "results" / "bridge_calls.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"python": sys.version.split()[0], "scenario": SCENARIO.name, "results": rows}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
