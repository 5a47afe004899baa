"""`voice-agent`: the command line. Every failure is one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import calls_cli
from .spec import SpecError, load_spec
from .tool_catalog import build_tools


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
    from .text_demo import run_text_demo

    return run_text_demo(args.out)


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

    p = sub.add_parser("demo", help="walk one scripted call through the tools and the gate on the local stack")
    p.add_argument("--out", default=".local/demo", metavar="DIR", help="where to write transcript, record, decisions")
    p.set_defaults(run=_demo)

    calls_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
