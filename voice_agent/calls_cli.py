"""`voice-agent calls list|show`: calls as people read them, from the local stack or from AWS.

`show` prints the record (each field with its source, the evidence rule that accepted a backfill
and the caller quote behind it; a candidate the pass could not prove, marked as unverified), the
transcript (the S3 archive when written, else the per-turn store) and the call's decisions.
The endpoint comes from --endpoint-url or AWS_ENDPOINT_URL (the local stack); without one, boto3's
usual AWS configuration applies. Wire it into the CLI with `calls_cli.register(subparsers)`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .archive_store import ArchiveStore, archive_key
from .decisions import DecisionLine
from .local_stack import LOCAL_BUCKET, LOCAL_REGION, LOCAL_TABLE
from .record_store import CallMeta, Candidate, FieldValue, RecordStore, Turn
from .record_view import build_record
from .spec import load_spec


def register(subparsers: Any) -> None:
    """Add `calls list` and `calls show CALL_ID` to a parser's subparsers (argparse)."""
    p = subparsers.add_parser("calls", help="list calls, or show one call's record, transcript and decisions")
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="local stack endpoint")
    p.add_argument("--table", default=os.environ.get("CALLS_TABLE", LOCAL_TABLE), help="calls table name")
    p.add_argument("--bucket", default=os.environ.get("ARCHIVE_BUCKET", LOCAL_BUCKET), help="archive bucket name")
    p.add_argument("--spec", default=os.environ.get("AGENT_SPEC_PATH"), help="agent spec: also list missing fields")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = p.add_subparsers(dest="calls_command", required=True, metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="the most recent calls first")
    ls.add_argument("--limit", type=int, default=20)
    show = sub.add_parser("show", help="one call: record with sources and quotes, transcript, decisions")
    show.add_argument("call_id", metavar="CALL_ID")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        store, archive = _stores(args)
        if args.calls_command == "list":
            return _list(store, args)
        return _show(store, archive, args)
    except (BotoCoreError, ClientError) as err:
        print(f"error: cannot read calls ({err})", file=sys.stderr)
        return 2


def _stores(args: argparse.Namespace) -> tuple[RecordStore, ArchiveStore]:
    if args.endpoint_url:
        # A local endpoint gets dummy credentials: real ones are never sent to it.
        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=LOCAL_REGION)
    else:
        session = boto3.Session()
    ddb = session.resource("dynamodb", endpoint_url=args.endpoint_url)
    s3 = session.client("s3", endpoint_url=args.endpoint_url)
    return RecordStore(ddb.Table(args.table)), ArchiveStore(s3, args.bucket)


def _when(ms: int | None) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ms else "-"


def _list(store: RecordStore, args: argparse.Namespace) -> int:
    calls = sorted(store.scan_calls(), key=lambda m: m.started_ms, reverse=True)[: args.limit]
    if args.json:
        print(json.dumps([m.model_dump(exclude_none=True) for m in calls], indent=2, ensure_ascii=False))
        return 0
    if not calls:
        print("no calls")
        return 0
    print(f"{'CALL_ID':<36} {'STARTED':<20} {'STATUS':<7} {'ENDED':<24} RECONCILE")
    for m in calls:
        ended = f"{m.ended_by or '-'}: {m.ended_reason or '-'}"[:24] if m.status == "ENDED" else ""
        print(f"{m.call_id:<36} {_when(m.started_ms):<20} {m.status:<7} {ended:<24} {m.reconcile_state or '-'}")
    return 0


def _transcript(store: RecordStore, archive: ArchiveStore, meta: CallMeta) -> tuple[list[Turn], str]:
    try:
        return archive.get_transcript(meta.call_id, meta.started_ms), archive_key(
            "transcripts", meta.call_id, meta.started_ms
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        return store.turns(meta.call_id), "per-turn store; not archived yet"


def _show(store: RecordStore, archive: ArchiveStore, args: argparse.Namespace) -> int:
    meta = store.get_call(args.call_id)
    if meta is None:
        print(f"error: no call {args.call_id}", file=sys.stderr)
        return 1
    fields, candidates = store.get_fields(meta.call_id), store.get_candidates(meta.call_id)
    turns, where = _transcript(store, archive, meta)
    decisions = store.decisions(meta.call_id)
    missing = build_record(load_spec(args.spec), meta, fields).missing_required if args.spec else None
    if args.json:
        out = {
            "call": meta.model_dump(exclude_none=True),
            "fields": {n: f.model_dump(exclude_none=True) for n, f in fields.items()},
            # Only beside a field without a value: a candidate is never a value.
            "candidates": {n: c.model_dump(exclude_none=True) for n, c in candidates.items() if n not in fields},
            "missing_required": missing,
            "transcript_source": where,
            "transcript": [t.model_dump(exclude_none=True) for t in turns],
            "decisions": [d.model_dump(exclude_none=True) for d in decisions],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    _print_call(meta, fields, {n: c for n, c in candidates.items() if n not in fields}, missing)
    _print_transcript(turns, where)
    _print_decisions(decisions)
    return 0


def _print_call(
    meta: CallMeta, fields: dict[str, FieldValue], candidates: dict[str, Candidate], missing: list[str] | None
) -> None:
    print(f"call {meta.call_id}  agent {meta.agent}  started {_when(meta.started_ms)}  language {meta.language or '-'}")
    ended = (
        f" by {meta.ended_by or '-'} ({meta.ended_reason or '-'}) at {_when(meta.ended_ms)}" if meta.ended_ms else ""
    )
    print(f"status {meta.status}{ended}")
    reconcile: str = meta.reconcile_state or "not run"
    if meta.reconcile_error:
        reconcile += f" ({meta.reconcile_error})"
    print(f"reconciliation {reconcile}  category {meta.category or '-'}  provider {meta.provider or '-'}")
    print("\nRecord")
    if not fields and not candidates:
        print("  (no fields recorded)")
    for name in sorted({*fields, *candidates}):
        if (f := fields.get(name)) is not None:
            shown = f.value if f.status == "value" else "(declined)"
            turn = f" (turn {f.turn_seq})" if f.turn_seq is not None else ""
            rule = f" [{f.evidence}]" if f.evidence else ""
            print(f"  {name:<22} {shown!s:<32} {f.source:<8}{turn}{rule}")
            if f.quote:
                print(f"  {'':<22} quote: “{f.quote}”")
            continue
        c = candidates[name]
        print(f"  {name:<22} {'(missing)':<32} {'':<8}")
        print(f"  {'':<22} candidate, unverified: {c.value} (turn {c.turn_seq}); the office must confirm it")
        print(f"  {'':<22} quote: “{c.quote}”" + (f"  numerals read by the model: {c.numerals}" if c.numerals else ""))
    if missing is not None:
        print(f"  missing required: {', '.join(missing) or 'none'}")


def _print_transcript(turns: list[Turn], where: str) -> None:
    print(f"\nTranscript ({where})")
    for t in turns:
        cut = f" [interrupted, heard {t.heard_ms} ms]" if t.interrupted else ""
        print(f"  {t.seq:>3} {t.t_ms / 1000:>7.1f}s {t.speaker:<6} {t.text}{cut}")


def _print_decisions(decisions: list[DecisionLine]) -> None:
    print("\nDecisions")
    for d in decisions:
        about = f" {d.field}" if d.field else ""
        turn = f" turn {d.turn_seq}" if d.turn_seq is not None else ""
        when = dt.datetime.fromtimestamp(d.ts, tz=dt.UTC).strftime("%H:%M:%S")
        print(f"  {when} {d.decision:<14} {d.verdict:<7}{about}{turn}: {d.reason}")
