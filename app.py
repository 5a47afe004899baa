#!/usr/bin/env python3
"""CDK entry point: `cdk synth` / `cdk deploy --all`, or `python app.py [-c key=value ...]` offline.

A bad setting (spec, CIDR, phone number, count, ...) stops synth with one line on stderr.
"""

from __future__ import annotations

import json
import os
import sys

# jsii prints a ten-line banner on Node 20 (still the Debian/CI default); it would bury the
# one-line errors below. docs/deploy.md recommends Node 22+.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _cli_context(argv: list[str]) -> dict[str, object]:
    """`-c key=value` / `--context key=value`, as the cdk CLI accepts them; `[...]` is a JSON list
    (e.g. `-c aws:cdk:bundling-stacks=[]` skips bundling)."""
    out: dict[str, object] = {}
    args = iter(argv)
    for arg in args:
        if arg in ("-c", "--context"):
            pair = next(args, "")
        elif arg.startswith("--context="):
            pair = arg.split("=", 1)[1]
        else:
            raise SystemExit(f"app.py: unexpected argument {arg!r} (use -c key=value)")
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"app.py: -c needs key=value, got {pair!r}")
        try:
            out[key] = json.loads(value) if value.startswith("[") else value
        except json.JSONDecodeError:
            raise SystemExit(f"app.py: -c {key}: {value!r} is not a JSON list") from None
    return out


def main(argv: list[str]) -> int:
    from stacks.config import ConfigError
    from stacks.lambda_bundle import BundleError

    overrides = _cli_context(argv)
    try:
        from stacks.voice_agent_app import build_app

        app, _ = build_app(overrides, outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
        app.synth()
    except (ConfigError, BundleError) as err:
        print(f"synth stopped: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        # A BundleError raised inside jsii's bundling callback comes back wrapped.
        marker = str(err).find(BundleError.PREFIX)
        if marker < 0:
            raise
        print(f"synth stopped: {str(err)[marker:].splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
