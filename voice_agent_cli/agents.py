"""`voice-agent agents push|list|show`: the deployment's agent specs and number plan.

A push validates the spec (the same one-line errors as `check-spec`), archives its exact text as a
new version (its content hash, optional label), makes it the agent's current version and routes
the given numbers to it. Calls that start after the push get it, without a bridge restart; calls
in progress keep the version they started with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from voice_agent.agent_registry import DEFAULT_ROUTE, AgentRegistry, RegistryError
from voice_agent.spec import SpecError, read_spec_text

from .calls import LOCAL_BUCKET, LOCAL_TABLE, session_for

ROUTE_TTL_NOTE = "calls that start from now on get it (the bridge re-reads a number's agent every few seconds)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "agents",
        help="push an agent spec (a new version) and route numbers to it; list the agents and numbers",
        description="Where: --endpoint-url a local stack (the `AWS (moto)` URL `serve --local` prints), "
        "or --aws with CALLS_TABLE and ARCHIVE_BUCKET (or --table/--bucket).",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="a running local stack's endpoint"
    )
    where.add_argument("--aws", action="store_true", help="the deployment's calls table and archive bucket in AWS")
    p.add_argument("--table", default=os.environ.get("CALLS_TABLE", LOCAL_TABLE), help="calls table name")
    p.add_argument("--bucket", default=os.environ.get("ARCHIVE_BUCKET", LOCAL_BUCKET), help="archive bucket name")
    sub = p.add_subparsers(dest="agents_command", required=True, metavar="SUBCOMMAND")
    push = sub.add_parser("push", help="validate and push a spec as the agent's current version")
    push.add_argument("spec", metavar="SPEC.yaml")
    push.add_argument(
        "--number", action="append", default=[], metavar="E164", help="route this number to the agent (repeatable)"
    )
    push.add_argument("--label", help="a human label for this version (e.g. v3, 2026-12-spring-hours)")
    push.add_argument("--default", action="store_true", help="also route every unlisted number to this agent")
    ls = sub.add_parser("list", help="every agent's current version and the numbers that reach it")
    ls.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="an agent's versions, or one version's exact archived text")
    show.add_argument("agent")
    show.add_argument("--version", help="print this version's text exactly as archived")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not (args.endpoint_url or args.aws):
        print(
            "error: say where the agents live: --endpoint-url URL (a local stack) or --aws (the deployment)",
            file=sys.stderr,
        )
        return 2
    try:
        registry = _registry(args)
        if args.agents_command == "push":
            return _push(registry, args)
        if args.agents_command == "list":
            return _list(registry, args)
        return _show(registry, args)
    except (SpecError, RegistryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as err:
        print(f"error: cannot reach the agent registry ({err})", file=sys.stderr)
        return 2


def _registry(args: argparse.Namespace) -> AgentRegistry:
    session = session_for(args)
    table = session.resource("dynamodb", endpoint_url=args.endpoint_url).Table(args.table)
    return AgentRegistry(table, session.client("s3", endpoint_url=args.endpoint_url), args.bucket)


def _push(registry: AgentRegistry, args: argparse.Namespace) -> int:
    text = read_spec_text(args.spec)
    version = registry.push(text, source=args.spec, label=args.label, numbers=args.number, make_default=args.default)
    label = f" ({version.label})" if version.label else ""
    print(f"{args.spec}: pushed {version.agent} @ {version.version}{label}, archived at {version.archive_key}")
    for number in args.number:
        print(f"  {number} -> {version.agent}")
    if args.default:
        print(f"  every other number -> {version.agent}")
    print(f"  {ROUTE_TTL_NOTE}")
    return 0


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _list(registry: AgentRegistry, args: argparse.Namespace) -> int:
    agents = sorted(registry.agents(), key=lambda v: v.agent)
    routes = registry.routes()
    numbers = {a.agent: sorted(n for n, agent in routes.items() if agent == a.agent) for a in agents}
    if args.json:
        rows = [a.model_dump() | {"numbers": numbers[a.agent]} for a in agents]
        print(json.dumps(rows, indent=2))
        return 0
    if not agents:
        print("no agents yet: voice-agent agents push SPEC.yaml --number +1...")
        return 0
    for a in agents:
        label = f" ({a.label})" if a.label else ""
        reach = ", ".join("every other number" if n == DEFAULT_ROUTE else n for n in numbers[a.agent]) or "no number"
        print(f"{a.agent:<24} {a.version}{label}  pushed {_when(a.pushed_ms)}  <- {reach}")
    return 0


def _show(registry: AgentRegistry, args: argparse.Namespace) -> int:
    if args.version:
        sys.stdout.write(registry.archived_text(args.agent, args.version))  # the Object Lock copy
        return 0
    versions = registry.versions(args.agent)
    if not versions:
        print(f"error: no agent {args.agent!r}", file=sys.stderr)
        return 1
    current = registry.current(args.agent)
    for v in versions:
        mark = "*" if current and v.version == current.version else " "
        label = f" ({v.label})" if v.label else ""
        print(f"{mark} {v.version}{label}  first pushed {_when(v.pushed_ms)}  {v.archive_key}")
    return 0
