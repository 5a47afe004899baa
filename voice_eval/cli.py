"""`voice-agent eval SUITE.yaml`: run a suite, print the report, exit 0 only when every threshold holds.

Wire it into any argparse command line with `register(subparsers)`; the simulator and the bridge
are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .scoring import CallScore

    Placed = tuple[list[CallScore], list[str]]  # the runs scored, and the runs that broke


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
    p.add_argument(
        "--report",
        metavar="DIR",
        help="write report.json, junit.xml and report.html into DIR (default: .local/eval/SUITE_NAME)",
    )
    p.add_argument("--no-report", action="store_true", help="write no report files")
    p.add_argument("--runs", type=_at_least_one, metavar="K", help="runs per scenario (default: the suite's repeats)")
    p.add_argument("--concurrency", type=_at_least_one, metavar="N", help="calls at once (default: the suite's)")
    p.add_argument(
        "--compare",
        metavar="OTHER_SPEC.yaml",
        help="also run the same scenarios and seeds with this agent spec; report the paired difference",
    )
    p.add_argument(
        "--gate",
        action="store_true",
        help="CI mode: pass when every run passes; else rerun failing personas (the suite's gate.reruns) "
        "and require each one's Wilson lower bound >= gate.min_lower_bound",
    )
    p.add_argument(
        "--judge",
        choices=["stand-in", "openai"],
        help="who answers the rubric: the offline stand-in (the offline default) or OpenAI (OPENAI_API_KEY; the "
        "suite's judge_model, temperature 0; OPENAI_BASE_URL is honoured; always, online)",
    )
    p.add_argument(
        "--online",
        action="store_true",
        help="the online tier: the real realtime model behind the real bridge, an LLM persona caller heard through "
        "transcription, the LLM judge (OPENAI_API_KEY; OPENAI_BASE_URL when set; costs money: see the README)",
    )
    p.add_argument("--list", action="store_true", help="list the calls the suite would place, and stop")
    p.set_defaults(run=run)


def _fail(err: Exception) -> int:
    print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
    return 2


class Progress:
    """One line per finished run: runs done of planned, passing so far, running model cost."""

    def __init__(self, planned: int) -> None:
        self.planned, self.done, self.passing, self.cost = planned, 0, 0, 0.0

    def __call__(self, call: CallScore) -> None:
        self.done += 1
        self.passing += call.passed and not call.broke_character
        self.cost += (call.cost_usd or 0.0) + (call.harness_cost_usd or 0.0)
        verdict = "broke character" if call.broke_character else ("pass" if call.passed else "FAIL")
        name = call.scenario.rsplit("/", 1)[-1].removesuffix(".yaml")
        print(
            f"  [{self.done}/{self.planned}] {name} seed {call.seed}: {verdict} ({call.duration_ms / 1000:.0f} s)"
            f"  passing {self.passing}/{self.done}, cost ${self.cost:.4f}",
            flush=True,
        )
        for failure in call.failures[:3]:
            print(f"      {failure}", flush=True)


def run(args: argparse.Namespace) -> int:
    # The offline tier runs the simulator and the bridge: imported here, not when the CLI starts.
    from simulator.scenario import ScenarioError
    from voice_agent.spec import SpecError, load_spec

    from .offline import JudgeKind, PlannedCall, planned_calls, run_calls
    from .online import online_target
    from .report import build_report, compare, gate_outcome, print_report, tier_label
    from .report_files import write_report
    from .suite import SuiteError, load_suite  # it reads scenarios: the simulator, absent from the image

    try:
        suite, files = load_suite(args.suite)
        online = args.online or suite.tier == "online"
        suite = suite.model_copy(update={"tier": "online" if online else "offline"})
        if args.runs is not None:
            suite = suite.model_copy(update={"repeats": args.runs})
        plan = planned_calls(suite, files)
        if args.compare:
            load_spec(args.compare)
        judge: JudgeKind = args.judge or ("openai" if online else "stand-in")
        if online and judge != "openai":
            raise SuiteError("the online tier is judged by the LLM judge: drop --judge stand-in")
        if online and files:
            raise SuiteError("the online tier calls with the suite's personas; its scenario files run offline only")
        if online and not os.environ.get("OPENAI_API_KEY"):
            raise SuiteError("the online tier (--online) needs OPENAI_API_KEY in the environment")
        if judge == "openai" and not os.environ.get("OPENAI_API_KEY"):
            raise SuiteError("--judge openai needs OPENAI_API_KEY in the environment")
    except (SuiteError, ScenarioError, SpecError) as err:
        return _fail(err)
    if args.list:
        for call in plan:
            print(f"{call.persona} seed {call.seed}")
        return 0
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    at_once = args.concurrency or (suite.online.concurrency if online else suite.concurrency)
    quiet = args.json
    if not quiet:
        print(f"Suite {suite.name}, {tier_label(suite.tier)}", flush=True)
        if online:
            models = suite.online
            print(
                f"  OpenAI: {online_target().label}; persona {models.persona_model}, transcription "
                f"{models.transcribe_model}, judge {suite.judge_model}, the agent's realtime model per its spec",
                flush=True,
            )
        print(f"  {len(plan)} runs, {at_once} at a time...", flush=True)
    progress = Progress(len(plan))
    started = time.monotonic()

    def place(
        calls: list[PlannedCall], counter: Progress, agent: Path | None = None
    ) -> tuple[list[CallScore], list[str]]:
        on_call = None if quiet else counter
        return asyncio.run(
            run_calls(
                suite,
                calls,
                concurrency=at_once,
                on_call=on_call,
                agent=agent,
                judge_kind=judge,
                tier=suite.tier,
            )
        )

    calls, errors = place(plan, progress)
    gate = None
    if args.gate:
        failing = {c.scenario for c in calls if not c.passed and not c.broke_character}
        reruns = planned_calls(suite, files, first=suite.repeats, count=suite.gate.reruns)
        reruns = [c for c in reruns if c.persona in failing]
        if reruns:
            if not quiet:
                print(f"Gate: rerunning {len(failing)} failing personas, {suite.gate.reruns} more runs each...")
            progress.planned += len(reruns)
            more, more_errors = place(reruns, progress)
            calls, errors = calls + more, errors + more_errors
        gate = gate_outcome(suite, calls)
    report = build_report(suite, calls, time.monotonic() - started, errors=errors)
    if gate is not None:
        report = report.model_copy(update={"gate": gate})
    if args.compare:
        if not quiet:
            print(f"The same runs with {args.compare}...", flush=True)
        theirs_calls, theirs_errors = place(plan, Progress(len(plan)), Path(args.compare))
        theirs = build_report(suite, theirs_calls, 0.0, errors=theirs_errors)
        report = report.model_copy(update={"comparison": compare(report, theirs, args.compare)})
    text = report.model_dump_json(indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    folder = args.report or Path(".local", "eval", re.sub(r"[^A-Za-z0-9._-]+", "-", suite.name))
    written = [] if args.no_report else write_report(report, folder)
    if args.json:
        print(text)
    else:
        print_report(report, sys.stdout)
        for path in written:
            print(f"  {path}")
    if gate is not None:
        return 0 if gate.passed and not errors else 1
    return 0 if report.passed else 1
