"""Cold start of each Lambda handler: the import (the part that is ours), then its round trips.

The handlers are measured from a Lambda bundle built by the deployment's own bundling code
(`stacks/lambda_bundle.py`: the pinned wheels, our packages and the spec, precompiled to bytecode)
for this machine's Python, on a read-only footing: every probe runs with `-B`, as Lambda cannot
write bytecode next to its code, and boto3 comes from the environment, as the runtime provides it.
Each sample is a fresh interpreter with Lambda-like configuration. Reported per handler:
- import: `import functions.<name>.handler` (no network is touched at import); target 300 ms;
- from source: the same import from the bundle without its bytecode, what a bundle synthesized
  without the runtime's Python version costs on every cold start;
- floor: the same interpreter importing only pydantic and boto3 and building the DynamoDB table
  resource, which every handler needs: what is left above it is the handlers' own share;
- cold round trip: import + the first invocation (a policy CallStarted, a tools categorize_call)
  against a moto server, which is what the first caller to reach a new environment waits for;
  warm round trip: the median of the next invocations in that same process.
Prints a table and writes bench/results/lambda_cold_import.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

from load_harness import Processes, workdir

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # as app.py: the bundling imports CDK

from simulator.local_stack import LOCAL_BUCKET, attach_local_stack
from stacks.lambda_bundle import LocalPipBundling
from voice_agent.agent_registry import AgentRegistry
from voice_agent.spec import spec_version

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "agents" / "riverside_clinic.yaml"
# What the bridge's call_started names: the agent and version the dialled number routed to.
STARTED = f"'agent': 'riverside-clinic', 'spec_version': '{spec_version(SPEC.read_text())}'"
HANDLERS = ["functions.tools.handler", "functions.policy.handler"]
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "7"))
WARM = 20
TARGET_MS = 300.0
IMPORT = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
FLOOR = (
    "import time; t = time.perf_counter(); import pydantic, boto3; boto3.resource('dynamodb').Table('x'); "
    "print((time.perf_counter() - t) * 1000)"
)
# One round trip = the handler invoked with the bridge's event shape; the first includes the import.
ROUND_TRIP = """
import json, statistics, sys, time, uuid
t = time.perf_counter()
import {module} as m
class Ctx:
    function_name, memory_limit_in_mb, aws_request_id = "bench", 1024, "req"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
def event():
    if "policy" in "{module}":
        return {{"action": "call_started", "call_id": "CA" + uuid.uuid4().hex, {started}}}
    return {{"call_id": "{call_id}", "name": "categorize_call", "arguments": '{{"category":"billing"}}'}}
reply = m.handler(event(), Ctx())
cold = (time.perf_counter() - t) * 1000
assert reply.get("ok"), reply
warm = []
for _ in range({warm}):
    t = time.perf_counter(); m.handler(event(), Ctx()); warm.append((time.perf_counter() - t) * 1000)
print(json.dumps({{"cold": cold, "warm": statistics.median(warm)}}))
"""


def build_bundle(root: Path) -> tuple[Path, Path]:
    """The bundle as `cdk deploy` builds it, for this interpreter: (with bytecode, without)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    compiled, source = root / "bundle", root / "bundle-source"
    print(f"building the Lambda bundle for Python {version} (pip, about a minute)...", flush=True)
    spec = str(SPEC.relative_to(ROOT))
    LocalPipBundling(spec, version, f"manylinux2014_{platform.machine()}").try_bundle(str(compiled))
    shutil.copytree(compiled, source, ignore=shutil.ignore_patterns("__pycache__"))
    return compiled, source


def _env(bundle: Path, aws_endpoint: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "PYTHONPATH": str(bundle),  # before the environment's site-packages, where boto3 comes from
        "PYTHONDONTWRITEBYTECODE": "1",
        "CALLS_TABLE": "voice-agent-calls",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "voice-agent",
        "POWERTOOLS_METRICS_NAMESPACE": "VoiceAgent",
        "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF lines on stdout: the probe prints its result there
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    return env | ({"AWS_ENDPOINT_URL": aws_endpoint} if aws_endpoint else {})


def _probe(code: str, what: str, env: dict[str, str]) -> str:
    cwd = env["PYTHONPATH"]  # Lambda runs in its code directory
    out = subprocess.run([sys.executable, "-B", "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{what} failed:\n{(out.stderr.strip().splitlines() or ['no output'])[-1]}")
    return out.stdout.strip().splitlines()[-1]


def _started_call(bundle: Path, aws: str) -> str:
    """A call the tools handler can act on: started through the policy handler, as the bridge does."""
    call_id = f"CA{uuid.uuid4().hex}"
    code = (
        "import functions.policy.handler as m\n"
        "class C: function_name = 'b'; memory_limit_in_mb = 1; aws_request_id = 'r'; "
        "invoked_function_arn = 'arn:aws:lambda:us-east-1:1:function:b'\n"
        f"print(m.handler({{'action': 'call_started', 'call_id': '{call_id}', {STARTED}}}, C()).get('ok'))"
    )
    if _probe(code, "starting a call", _env(bundle, aws)) != "True":
        raise SystemExit("error: the policy handler did not start a call on moto")
    return call_id


def _ms(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def main() -> int:
    work = workdir("bench-lambda-")
    procs = Processes(work)
    try:
        bundle, source = build_bundle(work)
        aws = procs.moto()
        stack = attach_local_stack(aws)  # the table the handlers write to, and the example agent
        AgentRegistry(stack.table, stack.client("s3"), LOCAL_BUCKET).push(SPEC.read_text(), source=str(SPEC))
        floor = [float(_probe(FLOOR, "the SDK floor", _env(bundle))) for _ in range(SAMPLES)]
        call_id = _started_call(bundle, aws)
        rows = []
        for module in HANDLERS:
            importing = IMPORT.format(module=module)
            times = [float(_probe(importing, f"importing {module}", _env(bundle))) for _ in range(SAMPLES)]
            uncompiled = [float(_probe(importing, f"importing {module}", _env(source))) for _ in range(SAMPLES)]
            code = ROUND_TRIP.format(module=module, call_id=call_id, warm=WARM, started=STARTED)
            invoking = _env(bundle, aws)
            trips = [json.loads(_probe(code, f"invoking {module}", invoking)) for _ in range(max(3, SAMPLES // 2))]
            median = statistics.median(times)
            rows.append({
                "module": module,
                "samples": SAMPLES,
                "median_ms": round(median, 1),
                "min_ms": round(min(times), 1),
                "max_ms": round(max(times), 1),
                "from_source_median_ms": _ms(uncompiled),
                "sdk_floor_median_ms": _ms(floor),
                "above_floor_ms": round(median - statistics.median(floor), 1),
                "cold_round_trip_ms": _ms([t["cold"] for t in trips]),
                "warm_round_trip_ms": _ms([t["warm"] for t in trips]),
                "target_ms": TARGET_MS,
                "within_target": median < TARGET_MS,
            })  # fmt: skip
    finally:
        procs.close()
    cols = f"{'import':>7} {'min':>6} {'max':>6} {'source':>7} {'floor':>6} {'ours':>6} {'cold RT':>8} {'warm RT':>8}"
    print(f"{'handler module':<26} {cols}  (ms; import target {TARGET_MS:.0f})")
    for r in rows:
        verdict = "ok" if r["within_target"] else "OVER"
        print(
            f"{r['module']:<26} {r['median_ms']:>7} {r['min_ms']:>6} {r['max_ms']:>6} {r['from_source_median_ms']:>7} "
            f"{r['sdk_floor_median_ms']:>6} "
            f"{r['above_floor_ms']:>6} {r['cold_round_trip_ms']:>8} {r['warm_round_trip_ms']:>8}  {verdict}"
        )
    print(
        "import: from the precompiled bundle; source: the same bundle without bytecode; floor: pydantic + boto3 + "
        "the DynamoDB table resource alone; ours: import above it; RT: against moto"
    )
    out = ROOT / "bench" / "results" / "lambda_cold_import.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"python": sys.version.split()[0], "results": rows}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
