"""`voice-agent watch`: the calls on a running local stack as they happen, for a person to read.

It polls the calls table (the same items the bridge and the policy write: META, TURN#, DECISION#)
and prints what is new: a call starting, each turn as it is stored, each decision, the call's end.
`--json` prints the same as JSON lines instead (one object each, with a `kind`). `serve --local`
runs the same watcher beside the bridge.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from voice_agent.decisions import DecisionLine
from voice_agent.record_store import CallMeta, RecordStore, Turn

from .calls import LOCAL_TABLE, local_store


@dataclass
class _Seen:
    turns: int = -1  # the highest turn seq printed
    decisions: int = 0  # how many decisions printed
    ended: bool = False


@dataclass
class Watcher:
    """What is new since the last poll, as printable events; calls that had already ended when the
    watcher started are history, not news, and stay quiet."""

    store: RecordStore
    seen: dict[str, _Seen] = field(default_factory=dict)
    first: bool = True
    active: list[str] = field(default_factory=list)

    def poll(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        calls = sorted(self.store.scan_calls(), key=lambda m: m.started_ms)
        for meta in calls:
            state = self.seen.get(meta.call_id)
            if state is None:
                if self.first and meta.status == "ENDED":
                    self.seen[meta.call_id] = _Seen(ended=True)
                    continue
                state = self.seen[meta.call_id] = _Seen()
                events.append({"kind": "call_started", "call_id": meta.call_id, "agent": meta.agent})
            if state.ended:
                continue
            for turn in self.store.turns(meta.call_id):
                if turn.seq > state.turns:
                    events.append({"kind": "turn", **turn.model_dump(exclude_none=True)})
                    state.turns = turn.seq
            decisions = self.store.decisions(meta.call_id)
            for line in decisions[state.decisions :]:
                events.append({"kind": "decision", **line.model_dump(exclude_none=True)})
            state.decisions = len(decisions)
            if meta.status == "ENDED":
                state.ended = True
                events.append(_ended(meta))
        active = [m.call_id for m in calls if m.status != "ENDED"]
        if active != self.active or self.first:  # the list of active calls, whenever it changes
            events.append({"kind": "active_calls", "count": len(active), "call_ids": active})
        self.first, self.active = False, active
        return events


def _ended(meta: CallMeta) -> dict[str, Any]:
    return {"kind": "call_ended", "call_id": meta.call_id, "ended_by": meta.ended_by, "reason": meta.ended_reason}


def readable(event: dict[str, Any]) -> str:
    """One line a person reads: `CA1234…  12.3s caller  I need a refill`."""
    kind = event["kind"]
    if kind == "active_calls":
        return f"-- active calls: {event['count']}" + (f" ({', '.join(event['call_ids'])})" if event["count"] else "")
    who = f"{event['call_id'][:12]}…"
    if kind == "call_started":
        return f"{who}  call started (agent {event['agent']})"
    if kind == "call_ended":
        return f"{who}  call ended by {event['ended_by'] or '-'} ({event['reason'] or '-'})"
    if kind == "turn":
        t = Turn.model_validate({k: v for k, v in event.items() if k != "kind"})
        cut = f"  [cut off: heard {t.heard_ms} ms]" if t.interrupted else ""
        lost = "  [speech not transcribed]" if t.untranscribed else ""
        return f"{who}  {t.t_ms / 1000:6.1f}s {t.speaker:<6} {t.text}{cut}{lost}"
    d = DecisionLine.model_validate({k: v for k, v in event.items() if k != "kind"})
    about = " ".join(x for x in (d.field or d.tool or "", f"missing {', '.join(d.missing)}" if d.missing else "") if x)
    return f"{who}  decision {d.decision} {d.verdict}{' ' + about if about else ''}: {d.reason}"


def watch(
    store: RecordStore,
    out: TextIO,
    *,
    as_json: bool,
    interval_s: float,
    once: bool = False,
    stop: threading.Event | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    watcher = Watcher(store)
    while True:
        try:
            for event in watcher.poll():
                out.write((json.dumps(event, ensure_ascii=False) if as_json else readable(event)) + "\n")
            out.flush()
        except (BotoCoreError, ClientError) as err:
            if on_error is None:
                raise
            on_error(err)
        if once or (stop is not None and stop.wait(interval_s)):
            return
        if stop is None:
            time.sleep(interval_s)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("watch", help="the calls on a running local stack as they happen (turns, decisions)")
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="the local stack's endpoint")
    p.add_argument("--table", default=os.environ.get("CALLS_TABLE", LOCAL_TABLE), help="calls table name")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between looks")
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument("--once", action="store_true", help="print what is there now and stop")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.endpoint_url:
        print("error: watch needs --endpoint-url (the AWS line `serve --local` prints)", file=sys.stderr)
        return 2
    try:
        watch(local_store(args.endpoint_url, args.table), sys.stdout, as_json=args.json, interval_s=args.interval,
              once=args.once)  # fmt: skip
    except (BotoCoreError, ClientError) as err:
        print(f"error: cannot read calls at {args.endpoint_url} ({str(err).splitlines()[0]})", file=sys.stderr)
        return 2
    return 0
