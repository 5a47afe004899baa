"""SIP load bench: N concurrent calls (200 by default) with RTP and DTMF, over UDP and over TCP,
against `voice-agent serve --local` (on the fake model and a moto process), then an audit.

Calls are offered at `--rate` new calls a second (0: all at once, a setup storm). Each keys its
own number on the keypad (RFC 4733: four digits, the
call's index), streams PCMU with loud bursts for `--hold` seconds once every call is up, and
hangs up. Then the bench reads what the product wrote, as an auditor would: the call's record
(status ENDED), its transcript in the archive (holding exactly that call's digits, which is how
a record is matched to its call), and its CallEnded event on the bus (a rule forwards it to a
queue the bench reads). Reported per transport: setup calls per second (answered calls over
first INVITE -> last 200), setup p50/p99, and every failure by kind.

    .venv/bin/python bench/sip_load.py [--calls 200] [--transports udp,tcp] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, cast

import boto3
from load_harness import (
    RESULTS,
    CallPlan,
    CallRecord,
    LoadCaller,
    Processes,
    machine,
    summary,
    table,
    workdir,
    write_json,
)

from realtime_bridge.sip.build import Transport
from simulator.local_stack import LOCAL_BUCKET, LOCAL_BUS, LOCAL_TABLE
from voice_agent.archive_store import ArchiveStore
from voice_agent.event_bus import EVENT_SOURCE
from voice_agent.record_store import RecordStore

AUDIT_TIMEOUT_S = 180.0
MIN_HOLD_S = 4.0  # the last call up must live past its first burst, the answer and its keyed digits


def _aws(endpoint: str, service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def watch_call_ended(endpoint: str) -> str:
    """A rule on the product's bus that forwards every CallEnded to a queue; returns its URL."""
    sqs, events = _aws(endpoint, "sqs"), _aws(endpoint, "events")
    queue_url: str = sqs.create_queue(QueueName="bench-call-ended")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [EVENT_SOURCE], "detail-type": ["CallEnded"]}
    events.put_rule(Name="bench-call-ended", EventBusName=LOCAL_BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="bench-call-ended", EventBusName=LOCAL_BUS, Targets=[{"Id": "q", "Arn": arn}])
    return queue_url


def drain_queue(endpoint: str, queue_url: str, into: set[str]) -> None:
    sqs = _aws(endpoint, "sqs")
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return
        for message in got:
            into.add(json.loads(message["Body"])["detail"]["call_id"])
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )


def audit(endpoint: str, queue_url: str, answered: int, deadline_s: float) -> dict[str, Any]:
    """Wait until every answered call is ENDED with its transcript and CallEnded (or time out),
    then map each record to a call by the keypad digits in its transcript."""
    store = RecordStore(boto3.resource(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table(LOCAL_TABLE))  # fmt: skip
    archive = ArchiveStore(_aws(endpoint, "s3"), LOCAL_BUCKET)
    ended_events: set[str] = set()
    end = time.monotonic() + deadline_s
    while True:
        drain_queue(endpoint, queue_url, ended_events)
        metas = store.scan_calls()
        ended = [m for m in metas if m.status == "ENDED"]
        if (len(ended) >= answered and len(ended_events) >= answered) or time.monotonic() > end:
            break
        time.sleep(2)
    by_digits: dict[str, list[str]] = {}
    no_transcript: list[str] = []
    example: list[str] = []  # the first transcript whose digits name no call: what went wrong
    short: list[str] = []  # archived transcripts that differ from the per-turn store
    speakers: dict[str, int] = {}  # turns by speaker over every transcript
    for meta in metas:
        try:
            turns = archive.get_transcript(meta.call_id, meta.started_ms)
        except Exception:
            no_transcript.append(meta.call_id)
            continue
        for t in turns:
            speakers[t.speaker] = speakers.get(t.speaker, 0) + 1
        stored = store.turns(meta.call_id)
        if len(stored) != len(turns):
            short.append(f"{meta.call_id}: archive {len(turns)} turns, store {len(stored)}")
        digits = "".join(
            t.text.rsplit(" ", 1)[-1] for t in turns if t.speaker == "system" and t.text.startswith("DTMF")
        )
        by_digits.setdefault(digits, []).append(meta.call_id)
        if not example and (len(digits) != 4 or not digits.isdigit()):
            example = [f"{t.seq} {t.speaker}: {t.text[:60]}" for t in turns[:12]]
    return {
        "example_unmatched_transcript": example,
        "archive_differs": short,
        "turns_by_speaker": speakers,
        "records": len(metas),
        "ended": sum(1 for m in metas if m.status == "ENDED"),
        "not_ended": [m.call_id for m in metas if m.status != "ENDED"],
        "no_transcript": no_transcript,
        "by_digits": by_digits,
        "call_ended_events": sorted(ended_events),
    }


def run_transport(transport: Transport, n: int, hold_s: float, rate: float, seed: int) -> dict[str, Any]:
    work = workdir(f"bench-sip-{transport}-{n}-")
    procs = Processes(work)
    try:
        fake, model_url = procs.fake_model(work / "fake_model.json", seed, tool_every=0)
        aws = procs.moto()
        bridge, sip_port = procs.bridge(model_url, aws, max_calls=n + 10, lambda_url=procs.local_lambda(aws, model_url))
        queue_url = watch_call_ended(aws)
        plans = [CallPlan(i, lead_frames=60, dtmf=f"{i:04d}") for i in range(n)]
        caller = LoadCaller(sip_port, transport)
        started = time.monotonic()
        ramp = n / rate if rate > 0 else 0.0
        records = asyncio.run(caller.run(plans, ramp_s=ramp, hold_s=hold_s, deadline_s=ramp + hold_s + 120))
        answered = sum(r.answered_ns is not None for r in records)
        found = audit(aws, queue_url, answered, AUDIT_TIMEOUT_S)
        wall = time.monotonic() - started
        procs.stop(bridge)
        procs.stop(fake)
    finally:
        procs.close()
    return measure(transport, n, records, found, wall) | {"offered_calls_per_s": rate or None}


def measure(transport: str, n: int, records: list[CallRecord], found: dict[str, Any], wall: float) -> dict[str, Any]:
    answered = [r for r in records if r.answered_ns is not None]
    setup = [r.setup_ms for r in answered if r.setup_ms is not None]
    last_answer = max((r.answered_ns for r in answered if r.answered_ns is not None), default=0)
    span_s = (last_answer - min(r.invite_ns for r in records)) / 1e9 if answered else 0.0
    by_digits: dict[str, list[str]] = found["by_digits"]
    events = set(found["call_ended_events"])
    record_ids = {cid for ids in by_digits.values() for cid in ids} | set(found["no_transcript"])
    failures = {
        "not_answered": [r.call_no for r in records if r.answered_ns is None],
        "bye_not_200": [r.call_no for r in answered if r.bye_status != 200],
        "records_missing": list(range(max(0, len(answered) - found["records"]))),
        "records_not_ended": found["not_ended"],
        "transcript_missing": found["no_transcript"],
        "archive_differs_from_store": found["archive_differs"],
        "call_ended_missing": sorted(record_ids - events),
        # The four keyed digits name the call: a transcript without exactly them lost DTMF.
        "dtmf_lost": [r.call_no for r in answered if len(by_digits.get(f"{r.call_no:04d}", [])) != 1],
    }
    return {
        "transport": transport,
        "calls": n,
        "answered": len(answered),
        "setup_calls_per_s": round(len(answered) / span_s, 1) if span_s else None,
        "setup_ms": summary(setup),
        "records": found["records"],
        "call_ended_events": len(events),
        "failed": len({c for v in failures.values() for c in v}),
        "failures": {k: v for k, v in failures.items() if v},
        "example_unmatched_transcript": found["example_unmatched_transcript"],
        "turns_by_speaker": found["turns_by_speaker"],
        "wall_s": round(wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--transports", default="udp,tcp")
    parser.add_argument("--hold", type=float, default=8.0, help="seconds every call stays up once all are answered")
    parser.add_argument("--rate", type=float, default=25.0, help="new calls offered per second (0: all at once)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "sip_load.json")
    args = parser.parse_args()
    transports = cast(list[Transport], [t.strip() for t in args.transports.split(",") if t.strip()])
    if args.calls < 1 or not transports or any(t not in ("udp", "tcp") for t in transports):
        print("error: --calls must be at least 1 and --transports a list of udp and tcp", file=sys.stderr)
        return 2
    if args.hold < MIN_HOLD_S:
        print(f"error: --hold must be at least {MIN_HOLD_S:.0f} s (a burst, its answer, the digits)", file=sys.stderr)
        return 2
    rows = [run_transport(t, args.calls, args.hold, args.rate, args.seed) for t in transports]
    head = ["transport", "calls", "answered", "offered/s", "setup calls/s", "setup p50 ms", "setup p99 ms", "records",
            "CallEnded", "failed", "wall s"]  # fmt: skip
    cells = [[r["transport"], r["calls"], r["answered"], r["offered_calls_per_s"], r["setup_calls_per_s"],
              r["setup_ms"]["p50"], r["setup_ms"]["p99"], r["records"], r["call_ended_events"], r["failed"],
              r["wall_s"]] for r in rows]  # fmt: skip
    print(table(cells, head))
    for r in rows:
        for kind, calls in r["failures"].items():
            shown = ", ".join(map(str, calls[:5])) + (" ..." if len(calls) > 5 else "")
            print(f"  {r['transport']}: {kind}: {len(calls)} ({shown})")
    for r in rows:
        print(f"  {r['transport']}: turns by speaker {r['turns_by_speaker']}")
    out = write_json(args.out, {"machine": machine(), "hold_s": args.hold, "rate": args.rate, "results": rows})
    print(f"wrote {out}")
    return 0 if all(r["failed"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
