"""Cold-import time of each Lambda handler module: the part of a cold start that is ours.

Each sample is a fresh interpreter importing one handler module with Lambda-like configuration
(no network is touched at import). Prints a table and writes bench/results/lambda_cold_import.json.
Target: under 300 ms per handler on the development machine.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ["functions.tools.handler", "functions.policy.handler"]
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "7"))
TARGET_MS = 300.0
PROBE = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"


def sample(module: str) -> float:
    env = os.environ | {
        "CALLS_TABLE": "voice-agent-calls",
        "AGENT_SPEC_PATH": str(ROOT / "agents" / "riverside_clinic.yaml"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "voice-agent",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{out.stderr.strip().splitlines()[-1]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    rows = []
    for module in HANDLERS:
        times = [sample(module) for _ in range(SAMPLES)]
        rows.append({
            "module": module,
            "samples": SAMPLES,
            "median_ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1),
            "target_ms": TARGET_MS,
            "within_target": statistics.median(times) < TARGET_MS,
        })  # fmt: skip
    print(f"{'handler module':<28} {'median ms':>10} {'min ms':>8} {'max ms':>8}  target {TARGET_MS:.0f} ms")
    for r in rows:
        verdict = "ok" if r["within_target"] else "OVER"
        print(f"{r['module']:<28} {r['median_ms']:>10} {r['min_ms']:>8} {r['max_ms']:>8}  {verdict}")
    out = ROOT / "bench" / "results" / "lambda_cold_import.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"python": sys.version.split()[0], "results": rows}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
