"""`python -m simulator [--scenario FILE] [--seed N] [--port P]`:
run the offline OpenAI stand-in on loopback and print its base URLs."""

from __future__ import annotations

import argparse
import asyncio
import sys

from simulator import server, speech
from simulator.scenario import ScenarioError, load_scenario


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--scenario", help="scenario YAML (default: free mode, generic replies)")
    parser.add_argument("--seed", type=int, help="default: the scenario's seed, else 0")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="one port for websocket and HTTP (0 = a free port)")
    parser.add_argument("--speed", type=float, default=4.0, help="audio generated N times faster than real time")
    parser.add_argument("--session-limit-s", type=float, default=3600.0)
    parser.add_argument("--engine", choices=["auto", "espeak-ng", "flite", "synthetic"], default="auto")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    scenario = load_scenario(args.scenario) if args.scenario else None
    handle = await server.start(
        scenario,
        args.seed,
        args.host,
        args.port,
        speed=args.speed,
        session_limit_s=args.session_limit_s,
        engine=args.engine,
    )
    engine = speech.available_engine() if args.engine == "auto" else args.engine
    # OPENAI_BASE_URL alone is enough: the SDK derives the websocket URL from it.
    print(f"OPENAI_BASE_URL={handle.http_url}")
    print(f"# websocket_base_url={handle.url}")
    print(f"# voice: {engine}; mode: {'scenario ' + args.scenario if scenario else 'free'}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await handle.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
