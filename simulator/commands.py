"""`voice-agent demo` and `voice-agent simulate`: one scenario over a real loopback SIP call."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from simulator.local_world import LocalAgents
from simulator.runner import AgentCall, SimulationResult, run_scenario, run_side_by_side
from simulator.scenario import ScenarioError, load_scenario
from voice_agent.agent_registry import NumberPlan, RegistryError
from voice_agent.archive_store import archive_key
from voice_agent.record_store import Turn
from voice_agent.spec import SpecError, load_spec

DEMO_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "riverside_demo.yaml"


def _print_turn(turn: Turn, out: TextIO) -> None:
    cut = f"   [cut off: heard {turn.heard_ms} ms]" if turn.interrupted and turn.heard_ms else ""
    if turn.interrupted and turn.heard_ms == 0:
        cut = "   [never played]"
    if turn.untranscribed:
        cut = "[speech not transcribed: the words are lost, the turn is kept]"
    out.write(f"  {turn.t_ms / 1000:6.1f}s  {turn.speaker:<6}  {turn.text}{cut}\n")
    out.flush()


def print_summary(result: SimulationResult, out: TextIO) -> None:
    out.write("\nRecord (value, source, quote):\n")
    for name, f in result.record.fields.items():
        value = f.value if f.status == "value" else f"declined: {f.quote!r}" if f.status == "declined" else "—"
        quote = f"  quote: {f.quote!r} (turn {f.turn_seq})" if f.source == "backfill" and f.quote else ""
        out.write(f"  {name:<22} {value!s:<45} {f.source or '':<9}{quote}\n")
    out.write(f"  {'category / provider':<22} {result.record.category} / {result.record.provider}\n")
    cost = f"${result.record.cost_usd:.4f}" if result.record.cost_usd is not None else "n/a"
    out.write(f"  ended by {result.ended_by}, goodbyes heard: {result.goodbyes}, estimated model cost {cost}\n")
    out.write(
        f"  caller-perceived response time: p50 {result.latency.p50_ms} ms, max {result.latency.max_ms} ms "
        f"over {result.latency.count} turns (includes the VAD's end-of-turn silence)\n"
    )
    out.write("\nDecisions (one JSON line each, values masked):\n")
    for line in result.decisions:
        out.write("  " + line.to_json() + "\n")
    verdict = "hold" if result.expectations.passed else "FAIL"
    out.write(f"\nExpectations {verdict}" + "".join(f"\n  - {f}" for f in result.expectations.failures) + "\n")


def write_call_files(result: SimulationResult, root: Path) -> list[Path]:
    """The call's transcript, record and decisions under `root`, in the S3 archive's layout and
    format (`transcripts/date=YYYY-MM-DD/<call_id>.jsonl`, ...), so `voice-agent calls` and
    `voice-agent audit --local` read them as Athena reads the bucket."""
    started = result.record.started_ms
    record = json.dumps(
        result.record.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    files = {
        archive_key("transcripts", result.call_id, started): "".join(
            json.dumps(t.model_dump(), ensure_ascii=False) + "\n" for t in result.transcript
        ),
        archive_key("records", result.call_id, started): record + "\n",
        archive_key("decisions", result.call_id, started): "".join(d.to_json() + "\n" for d in result.decisions),
    }
    written = []
    for key, body in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        written.append(path)
    return written


async def _run(path: Path, live: bool, transport: str) -> SimulationResult:
    on_turn = (lambda t: _print_turn(t, sys.stdout)) if live else None
    return await run_scenario(path, transport=transport, on_turn=on_turn)  # type: ignore[arg-type]


def _quiet_logs() -> None:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


def simulate(scenario: str, as_json: bool, transport: str = "udp", out_dir: str | None = None) -> int:
    _quiet_logs()
    path = Path(scenario)
    if not path.is_file():
        print(f"error: {scenario}: no such scenario file", file=sys.stderr)
        return 2
    if not as_json:
        shown = "TLS + SRTP" if transport == "tls" else transport
        print(f"Simulating {path} over a real SIP call on 127.0.0.1 ({shown})...\n", flush=True)
    try:
        result = asyncio.run(_run(path, live=not as_json, transport=transport))
    except ScenarioError as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    written = write_call_files(result, Path(out_dir)) if out_dir else []
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_summary(result, sys.stdout)
        _print_files(written)
    return 0 if result.expectations.passed else 1


def _shown(path: Path) -> Path:
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def demo(out_dir: str, then: Callable[[Path, str], None] | None = None) -> int:
    """The demo call; `then(out_dir, call_id)` runs once its files are written (the CLI draws it)."""
    _quiet_logs()
    print(
        "The demo call: the whole local stack on 127.0.0.1 (moto for AWS, the OpenAI stand-in, the real bridge),\n"
        "and a simulated caller who dials it over SIP and speaks the scenario's turns as audio.\n"
        f"Scenario: {_shown(DEMO_SCENARIO)}"
        "\n\nThe call, as it happens:\n",
        flush=True,
    )
    result = asyncio.run(_run(DEMO_SCENARIO, live=True, transport="udp"))
    print_summary(result, sys.stdout)
    _print_files(write_call_files(result, Path(out_dir)))
    print(f"\nRead it again: voice-agent calls show {result.call_id}")
    print("The auditors' queries on these files: voice-agent audit")
    if then is not None:
        then(Path(out_dir), result.call_id)
    return 0 if result.expectations.passed else 1


# The two-agent demo: each agent's demo caller, dialling the number the plan gives that agent.
SIDE_BY_SIDE = (DEMO_SCENARIO, DEMO_SCENARIO.parent / "two_agents" / "plumbing_demo.yaml")


def demo_side_by_side(agents_dir: str, numbers: str, out_dir: str, then: Callable[[Path, str], None] | None) -> int:
    """Two agents at once through one bridge: the clinic's demo call and the plumbing dispatcher's,
    each to its own number from the plan. `then(out_dir, call_id)` runs once per call."""
    _quiet_logs()
    try:
        agents = LocalAgents.from_files(agents_dir, numbers)
        calls = [AgentCall(scenario=path, number=_number_for(agents.plan, path)) for path in SIDE_BY_SIDE]
    except (RegistryError, ScenarioError, SpecError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("Two agents, one bridge: two callers dial two numbers at the same time.", flush=True)
    for call in calls:
        print(f"  {call.number} <- {_shown(call.scenario)}", flush=True)
    print("(about a minute: both calls happen in real time)\n", flush=True)
    results = asyncio.run(run_side_by_side(agents, calls))
    for result in results:
        print(f"\n=== {result.record.agent} @ {result.record.spec_version} ({result.scenario}) ===")
        print_summary(result, sys.stdout)
        _print_files(write_call_files(result, Path(out_dir)))
        if then is not None:
            then(Path(out_dir), result.call_id)
    return 0 if all(r.expectations.passed for r in results) else 1


def _number_for(plan: NumberPlan, scenario: Path) -> str:
    agent = load_spec(load_scenario(scenario).agent).name
    numbers = sorted(n for n, a in plan.numbers.items() if a == agent)
    if not numbers:
        raise ScenarioError(f"the number plan gives agent {agent!r} no number; the demo calls it")
    return numbers[0]


def _print_files(written: list[Path]) -> None:
    if written:
        print("\nFiles (the same layout as the S3 archive):")
        for path in written:
            print(f"  {_shown(path.resolve())}")
