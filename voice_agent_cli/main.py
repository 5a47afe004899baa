"""`voice-agent`: the command line. Every failure is one clear line on stderr and a non-zero exit.

This package is the composition root: the one place that may import several deployables. `demo`,
`simulate` and `serve --local` start the simulator, `serve` the bridge; each is imported lazily
inside its command, so the production image (which has no `simulator/`) runs `voice-agent serve`.
The library (`voice_agent`) imports none of this (an import-linter contract keeps it so).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from realtime_bridge.event_loop import LOOPS
from realtime_bridge.event_loop import run as run_on_loop
from voice_agent.spec import SpecError, load_spec
from voice_agent.tool_catalog import build_tools

from . import agents, audit, calls, watch


def _check_spec(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    required = ", ".join(f.name for f in spec.required_fields)
    print(f"{args.spec}: OK — agent {spec.name!r}, {len(spec.fields)} fields (required: {required})")
    return 0


def _tools(args: argparse.Namespace) -> int:
    tools = build_tools(load_spec(args.spec))
    print(json.dumps([t.model_dump() for t in tools], indent=2, ensure_ascii=False))
    return 0


def _demo(args: argparse.Namespace) -> int:
    if bool(args.agents) != bool(args.numbers):
        print("error: --agents DIR and --numbers numbers.yaml go together", file=sys.stderr)
        return 2
    if args.agents:
        from simulator.commands import demo_side_by_side

        code = demo_side_by_side(args.agents, args.numbers, args.out, then=_draw_demo_call)
        if code != 2:
            print("\nCalls and cost per agent on these files: voice-agent audit cost_by_agent")
        return code
    from simulator.commands import demo

    return demo(args.out, then=_draw_demo_call)


def _draw_demo_call(out_dir: Path, call_id: str) -> None:
    """`make demo` ends with the call's picture (voice-agent calls timeline)."""
    from .local_archive import LocalArchive
    from .timeline import TimelineError, write_timeline

    call = LocalArchive(out_dir).get(call_id)
    if call is None:
        return
    out = out_dir / f"{call_id}.timeline.png"
    try:
        write_timeline(call.record, call.transcript, call.decisions, out)
    except TimelineError as err:
        print(f"\n(no picture of the call: {err})")
        return
    shown = out.resolve().relative_to(Path.cwd()) if out.resolve().is_relative_to(Path.cwd()) else out
    print(f"\nThe call as a picture: {shown}   (voice-agent calls timeline {call_id} --out FILE.svg|.png|.html)")


def _simulate(args: argparse.Namespace) -> int:
    from simulator.commands import simulate

    transport = "tls" if args.tls else "tcp" if args.tcp else "udp"
    return simulate(args.scenario, args.json, transport, out_dir=None if args.no_files else args.out)


def _serve(args: argparse.Namespace) -> int:
    if args.lambda_endpoint and not args.aws_endpoint:
        print(
            "error: --lambda-endpoint needs --aws-endpoint: the functions and the bridge share one moto",
            file=sys.stderr,
        )
        return 2
    if bool(args.agents) != bool(args.numbers):
        print("error: --agents DIR and --numbers numbers.yaml go together: the specs and who answers which number",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.agents and args.scenario:
        print("error: --scenario drives one agent's calls; with --agents, call each number with its own caller",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.local and args.scenario and args.openai_base_url:
        print("error: --scenario drives the simulated model; it cannot go with --openai-base-url", file=sys.stderr)
        return 2
    if args.local:
        return _serve_local(args)
    from realtime_bridge.main import main as serve_main

    return serve_main()


def _serve_local(args: argparse.Namespace) -> int:
    """The serving loop on the stand-ins, with the calls shown as they happen (`watch.py`): turns
    and decisions as readable lines, or with --json the decision lines as JSON."""
    import threading

    from simulator.local_stack import LOCAL_TABLE, start_local_stack
    from simulator.local_world import LocalAgents, serve_local
    from voice_agent.agent_registry import RegistryError

    try:
        agents_to_serve = LocalAgents.from_files(args.agents, args.numbers) if args.agents else args.spec
    except RegistryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    stack = None if args.aws_endpoint else start_local_stack()  # started here, so the watcher knows where
    endpoint = args.aws_endpoint or (stack.endpoint_url if stack else "")
    stop = threading.Event()
    if not args.json:  # the watcher shows the decisions (from the calls table) beside the turns
        store = calls.local_store(endpoint, LOCAL_TABLE)
        threading.Thread(
            target=watch.watch,
            args=(store, sys.stdout),
            kwargs={"as_json": False, "interval_s": 1.0, "stop": stop, "on_error": lambda err: None},
            name="watch",
            daemon=True,
        ).start()
    try:
        run_on_loop(
            serve_local(
                agents_to_serve,
                args.sip_port,
                args.health_port,
                scenario=args.scenario,
                aws_endpoint=endpoint,
                drain_deadline_s=args.drain_deadline,
                openai_base_url=args.openai_base_url,
                max_calls=args.max_calls,
                lambda_endpoint=args.lambda_endpoint,
                json_decisions=args.json,
            ),
            args.event_loop,
        )
    finally:
        stop.set()
        if stack is not None:
            stack.stop()
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voice-agent",
        description="A phone voice agent: agent specs, tools, the end-of-call gate and the local stack.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check-spec", help="validate an agent spec (YAML)")
    p.add_argument("spec", metavar="SPEC.yaml")
    p.set_defaults(run=_check_spec)

    p = sub.add_parser("tools", help="print the tools a spec generates, as JSON, for review")
    p.add_argument("spec", metavar="SPEC.yaml")
    p.set_defaults(run=_tools)

    p = sub.add_parser("demo", help="one full simulated phone call over SIP on the local stack (what `make demo` runs)")
    p.add_argument("--out", default=".local/demo", metavar="DIR", help="where to write transcript, record, decisions")
    p.add_argument("--agents", metavar="DIR", help="two agents side by side: the specs in DIR (with --numbers)")
    p.add_argument("--numbers", metavar="numbers.yaml", help="the number plan the two demo callers dial")
    p.set_defaults(run=_demo)

    p = sub.add_parser("simulate", help="run one scenario through the whole local stack; exit 0 when it holds")
    p.add_argument("scenario", metavar="SCENARIO.yaml")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of the live conversation")
    p.add_argument("--out", default=".local/demo", metavar="DIR", help="where to write transcript, record, decisions")
    p.add_argument("--no-files", action="store_true", help="write no files")
    wire = p.add_mutually_exclusive_group()
    wire.add_argument("--tcp", action="store_true", help="place the SIP call over TCP (default UDP)")
    wire.add_argument("--tls", action="store_true", help="encrypted: SIP over TLS and SRTP media (test certificates)")
    p.set_defaults(run=_simulate)

    p = sub.add_parser("serve", help="run the bridge (configuration from the environment; see README)")
    p.add_argument("--local", action="store_true", help="on the embedded stand-ins: moto and the OpenAI simulator")
    p.add_argument(
        "--spec", default="agents/riverside_clinic.yaml", help="--local: the one agent, answering every number"
    )
    p.add_argument("--agents", metavar="DIR", help="--local: every agent spec in DIR (with --numbers)")
    p.add_argument("--numbers", metavar="numbers.yaml", help="--local: the number plan: dialled number -> agent")
    p.add_argument("--sip-port", type=int, default=5060, help="SIP port for --local (UDP and TCP)")
    p.add_argument("--health-port", type=int, default=8080, help="health port for --local")
    p.add_argument("--scenario", help="--local: drive the simulated model with this scenario (default: free mode)")
    p.add_argument("--aws-endpoint", help="--local: use this running moto server instead of starting one")
    p.add_argument("--drain-deadline", type=float, default=30.0, help="--local: seconds calls may run after SIGTERM")
    p.add_argument(
        "--openai-base-url",
        metavar="URL",
        help="--local: the model endpoint (realtime and post-call) instead of the simulator; without it, "
        "OPENAI_API_KEY in the environment means the real service",
    )
    p.add_argument("--max-calls", type=_positive_int, help="--local: concurrent calls before new ones get 503")
    p.add_argument(
        "--lambda-endpoint",
        metavar="URL",
        help="--local: invoke tools and policy at this Lambda stand-in (python -m simulator.local_lambda, on the same "
        "--aws-endpoint) as production does, instead of in-process",
    )
    p.add_argument("--json", action="store_true", help="--local: decisions as JSON lines instead of the readable view")
    p.add_argument(
        "--event-loop", choices=LOOPS, default=LOOPS[0], help="--local: the bridge's event loop (EVENT_LOOP)"
    )
    p.set_defaults(run=_serve)

    calls.register(sub)
    agents.register(sub)
    audit.register(sub)
    watch.register(sub)
    from voice_eval.cli import register as register_eval  # the evaluation harness: its own package

    register_eval(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `voice-agent ... | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # nothing more may reach the closed pipe
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
