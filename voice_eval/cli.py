"""`voice-agent eval SUITE.yaml`: run a suite, print the report, exit 0 only when every threshold holds.

Wire it into any argparse command line with `register(subparsers)`; the simulator and the bridge
are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from .suite import SuiteError, load_suite


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add `eval SUITE.yaml` to a parser's subparsers (argparse)."""
    p = subparsers.add_parser(
        "eval", help="run an evaluation suite (many scenario calls, scored); exit 0 when its thresholds hold"
    )
    p.add_argument("suite", metavar="SUITE.yaml")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    p.add_argument("--out", metavar="FILE", help="also write the report as JSON to FILE")
    p.add_argument("--report", metavar="DIR", help="write report.json, junit.xml and report.html into DIR")
    p.add_argument("--runs", type=_at_least_one, metavar="K", help="runs per scenario (default: the suite's repeats)")
    p.add_argument("--concurrency", type=_at_least_one, metavar="N", help="calls at once (default: the suite's)")
    p.add_argument(
        "--compare",
        metavar="OTHER_SPEC.yaml",
        help="also run the same scenarios and seeds with this agent spec; report the paired difference",
    )
    p.add_argument("--list", action="store_true", help="list the calls the suite would place, and stop")
    p.set_defaults(run=run)


def _fail(err: Exception) -> int:
    print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    # The offline tier runs the simulator and the bridge: imported here, not when the CLI starts.
    from simulator.scenario import ScenarioError
    from voice_agent.spec import SpecError, load_spec

    from .offline import planned_calls, run_offline
    from .report import compare, print_report
    from .report_files import write_report
    from .scoring import CallScore

    try:
        suite, files = load_suite(args.suite)
        if args.runs is not None:
            suite = suite.model_copy(update={"repeats": args.runs})
        plan = planned_calls(suite, files)
        if args.compare:
            load_spec(args.compare)
    except (SuiteError, ScenarioError, SpecError) as err:
        return _fail(err)
    if args.list:
        for path, seed in plan:
            print(f"{path} seed {seed}")
        return 0
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    at_once = args.concurrency or suite.concurrency
    if not args.json:
        print(f"Suite {suite.name}: {len(plan)} calls on the {suite.tier} tier, {at_once} at a time...", flush=True)

    def progress(call: CallScore) -> None:
        verdict = "ok" if call.expectations_passed else "FAIL"
        print(f"  {Path(call.scenario).stem} seed {call.seed}: {verdict} ({call.duration_ms / 1000:.0f} s)", flush=True)

    on_call = None if args.json else progress
    report = asyncio.run(run_offline(suite, files, concurrency=at_once, on_call=on_call))
    if args.compare:
        if not args.json:
            print(f"The same calls with {args.compare}...", flush=True)
        other = Path(args.compare)
        theirs = asyncio.run(run_offline(suite, files, concurrency=at_once, on_call=on_call, agent=other))
        report = report.model_copy(update={"comparison": compare(report, theirs, args.compare)})
    text = report.model_dump_json(indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    written = write_report(report, args.report) if args.report else []
    if args.json:
        print(text)
    else:
        print_report(report, sys.stdout)
        for path in written:
            print(f"  {path}")
    return 0 if report.passed else 1
