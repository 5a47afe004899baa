"""`voice-agent calls list|show|timeline`: calls as people read them, from local files, a local
stack or AWS.

`show` prints the record (each field with its source, the evidence rule that accepted a backfill
and the caller quote behind it; a candidate the pass could not prove, marked as unverified), the
transcript (the S3 archive when written, else the per-turn store) and the call's decisions.
`timeline` draws the call (see timeline.py).

Where calls are read from: --endpoint-url URL (or AWS_ENDPOINT_URL: a running local stack), --aws
(boto3's usual AWS configuration), or else the local archive folder that `make demo` and
`voice-agent simulate` write, --local DIR (default .local/demo).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from voice_agent.agent_registry import AgentRegistry, RegistryError
from voice_agent.archive_store import ArchiveStore, archive_key
from voice_agent.decisions import DecisionLine
from voice_agent.record_store import CallMeta, Candidate, FieldValue, ReconcileState, RecordStore, Turn
from voice_agent.record_view import CallRecord, build_record
from voice_agent.spec import AgentSpec, load_spec

from .local_archive import DEFAULT_LOCAL_DIR, LocalArchive, LocalArchiveError, LocalCall

# The local stack's names (simulator/local_stack.py). Not imported from there: the production image
# has no simulator, and `voice-agent serve` must start without it.
LOCAL_REGION = "us-east-1"
LOCAL_TABLE = "voice-agent-calls"
LOCAL_BUCKET = "voice-agent-archive"


def register(subparsers: Any) -> None:
    """Add `calls list`, `calls show CALL_ID` and `calls timeline CALL_ID` to a parser's subparsers."""
    p = subparsers.add_parser("calls", help="list calls, show one (record, transcript, decisions) or draw it")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        metavar="DIR",
        help=f"read the archive files `make demo` and `simulate` write (default {DEFAULT_LOCAL_DIR})",
    )
    where.add_argument(
        "--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="a running local stack's endpoint"
    )
    where.add_argument("--aws", action="store_true", help="read the calls table and archive bucket in AWS")
    p.add_argument("--table", default=os.environ.get("CALLS_TABLE", LOCAL_TABLE), help="calls table name")
    p.add_argument("--bucket", default=os.environ.get("ARCHIVE_BUCKET", LOCAL_BUCKET), help="archive bucket name")
    p.add_argument(
        "--spec",
        help="agent spec for missing fields (default: the version the call ran with, from the agent registry)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = p.add_subparsers(dest="calls_command", required=True, metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="the most recent calls first")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--agent", help="only this agent's calls (in AWS: a query on the agent-calls index)")
    show = sub.add_parser("show", help="one call: record with sources and quotes, transcript, decisions")
    show.add_argument("call_id", metavar="CALL_ID")
    tl = sub.add_parser("timeline", help="one call as a picture: speech lanes on a time axis, decisions, fields")
    tl.add_argument("call_id", metavar="CALL_ID")
    tl.add_argument("--out", metavar="FILE", help="FILE.svg, FILE.png or FILE.html (default <CALL_ID>.svg)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.local is not None or not (args.endpoint_url or args.aws):
        return _run_local(args)
    try:
        store, archive = _stores(args)
        if args.calls_command == "list":
            return _list(store, args)
        if args.calls_command == "timeline":
            return _timeline_from_store(store, archive, args)
        return _show(store, archive, args)
    except (BotoCoreError, ClientError) as err:
        print(f"error: cannot read calls ({err})", file=sys.stderr)
        return 2


def local_store(endpoint_url: str, table: str) -> RecordStore:
    """The calls table of a local stack (dummy credentials: real ones are never sent to it)."""
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=LOCAL_REGION)
    return RecordStore(session.resource("dynamodb", endpoint_url=endpoint_url).Table(table))


def session_for(args: argparse.Namespace) -> boto3.Session:
    """AWS credentials as the aws CLI finds them; a local endpoint (`--endpoint-url`) dummy ones."""
    if args.endpoint_url:
        # A local endpoint gets dummy credentials: real ones are never sent to it.
        return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=LOCAL_REGION)
    return boto3.Session()


def _stores(args: argparse.Namespace) -> tuple[RecordStore, ArchiveStore]:
    session = session_for(args)
    ddb = session.resource("dynamodb", endpoint_url=args.endpoint_url)
    s3 = session.client("s3", endpoint_url=args.endpoint_url)
    return RecordStore(ddb.Table(args.table)), ArchiveStore(s3, args.bucket)


def _spec_of(args: argparse.Namespace, meta: CallMeta) -> AgentSpec | None:
    """--spec when given, else the version the call ran with, from the agent registry."""
    if args.spec:
        return load_spec(args.spec)
    if meta.spec_version is None:
        return None
    session = session_for(args)
    table = session.resource("dynamodb", endpoint_url=args.endpoint_url).Table(args.table)
    registry = AgentRegistry(table, session.client("s3", endpoint_url=args.endpoint_url), args.bucket)
    try:
        return registry.spec(meta.agent, meta.spec_version)
    except RegistryError:
        return None


def _run_local(args: argparse.Namespace) -> int:
    try:
        archive = LocalArchive(args.local or DEFAULT_LOCAL_DIR)
        if args.calls_command == "list":
            return _list_local(archive, args)
        call = archive.get(args.call_id)
        if call is None:
            print(f"error: no call {args.call_id} in {archive.root}", file=sys.stderr)
            return 1
        if args.calls_command == "timeline":
            return _draw(call.record, call.transcript, call.decisions, args)
        return _show_local(call, args)
    except LocalArchiveError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _timeline_from_store(store: RecordStore, archive: ArchiveStore, args: argparse.Namespace) -> int:
    meta = store.get_call(args.call_id)
    if meta is None:
        print(f"error: no call {args.call_id}", file=sys.stderr)
        return 1
    spec = _spec_of(args, meta)
    if spec is None:
        print("error: calls timeline: the call names no archived spec version; give --spec", file=sys.stderr)
        return 2
    fields, candidates = store.get_fields(meta.call_id), store.get_candidates(meta.call_id)
    record = build_record(spec, meta, fields, candidates)
    turns, _ = _transcript(store, archive, meta)
    return _draw(record, turns, store.decisions(meta.call_id), args)


def _draw(record: CallRecord, turns: list[Turn], decisions: list[DecisionLine], args: argparse.Namespace) -> int:
    from .timeline import TimelineError, write_timeline  # matplotlib: loaded only to draw

    out = Path(args.out or f"{record.call_id}.svg")
    try:
        write_timeline(record, turns, decisions, out)
    except TimelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0


def _from_record(record: CallRecord, reconciliation: dict[str, Any] | None) -> tuple[
    CallMeta, dict[str, FieldValue], dict[str, Candidate]
]:  # fmt: skip
    """The archived record in the store's shapes, so both sources print the same way."""
    meta = CallMeta(
        call_id=record.call_id,
        agent=record.agent,
        started_ms=record.started_ms,
        status=record.status,  # an archived record's status is a gate state
        language=record.language,
        category=record.category,
        provider=record.provider,
        ended_by=record.ended_by,
        ended_reason=record.ended_reason,
        ended_ms=record.ended_ms,
        cost_usd=record.cost_usd,
        reconcile_state=_reconcile_state(reconciliation),
    )
    fields: dict[str, FieldValue] = {}
    candidates: dict[str, Candidate] = {}
    for name, f in record.fields.items():
        if f.status in ("value", "declined"):
            fields[name] = FieldValue(
                name=name,
                status=f.status,
                value=f.value,
                quote=f.quote,
                source=f.source or "live",
                turn_seq=f.turn_seq,
                recorded_ms=0,
                corrections=f.corrections,
                evidence=f.evidence,
            )
        elif f.candidate is not None:
            c = f.candidate
            candidates[name] = Candidate(
                name=name, value=c.value, quote=c.quote, turn_seq=c.turn_seq, reason=c.reason,
                numerals=c.numerals, recorded_ms=0,
            )  # fmt: skip
    return meta, fields, candidates


def _reconcile_state(reconciliation: dict[str, Any] | None) -> ReconcileState | None:
    if not reconciliation:
        return None
    return "failed" if reconciliation.get("verdict") == "fail" else "reconciled"


def _list_local(archive: LocalArchive, args: argparse.Namespace) -> int:
    records = [r for r in archive.records() if args.agent in (None, r.agent)][: args.limit]
    if args.json:
        print(json.dumps([r.model_dump(exclude={"fields"}) for r in records], indent=2, ensure_ascii=False))
        return 0
    if not records:
        print(f"no calls in {archive.root}")
        return 0
    print(f"{'CALL_ID':<36} {'STARTED':<20} {'STATUS':<7} {'ENDED':<24} MISSING")
    for r in records:
        ended = f"{r.ended_by or '-'}: {r.ended_reason or '-'}"[:24] if r.status == "ENDED" else ""
        missing = ", ".join(r.missing_required) or "-"
        print(f"{r.call_id:<36} {_when(r.started_ms):<20} {r.status:<7} {ended:<24} {missing}")
    return 0


def _show_local(call: LocalCall, args: argparse.Namespace) -> int:
    reconciliation = call.reconciliation
    if reconciliation is None:  # the simulator's files: the pass's own decision says whether it ran
        passes = [d.verdict for d in call.decisions if d.decision == "reconcile"]
        reconciliation = {"verdict": passes[-1]} if passes else None
    meta, fields, candidates = _from_record(call.record, reconciliation)
    transcript_path = call.record_path.parent.parent.parent / archive_key("transcripts", meta.call_id, meta.started_ms)
    if args.json:
        out = {
            "record": call.record.model_dump(),
            "reconciliation": call.reconciliation,
            "transcript_source": str(transcript_path),
            "transcript": [t.model_dump(exclude_none=True) for t in call.transcript],
            "decisions": [d.model_dump(exclude_none=True) for d in call.decisions],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    _print_call(meta, fields, candidates, call.record.missing_required)
    _print_transcript(call.transcript, str(transcript_path))
    _print_decisions(call.decisions)
    return 0


def _when(ms: int | None) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ms else "-"


def _list(store: RecordStore, args: argparse.Namespace) -> int:
    found = store.agent_calls(args.agent) if args.agent else store.scan_calls()
    calls = sorted(found, key=lambda m: m.started_ms, reverse=True)[: args.limit]
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
    spec = _spec_of(args, meta)
    missing = build_record(spec, meta, fields).missing_required if spec else None
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
