"""Load bench: the bridge against a do-nothing relay, N concurrent calls, side by side, one run.

For each level, the same load is placed twice, each time on fresh processes: once on the null
relay (bench/null_relay.py: SIP answer + RTP <-> websocket, nothing else) and once on the bridge
(`voice-agent serve --local --openai-base-url` the fake model, moto in its own process). Each call
streams 20 ms PCMU over loopback UDP: silence, then 600 ms loud bursts every 2.2 s. The fake model
(bench/fake_model.py) answers each burst after a jittered delay (its own latency, printed beside
ours), every third one with a tool call.

Reported per level and target: ingress (first loud frame sent -> its append at the model) and
egress (first loud delta sent -> first loud RTP frame, kernel-stamped) p50/p90/p99/max; RTP
jitter (RFC 3550) and timestamp-vs-arrival drift p99; frames lost up and down; caller onsets
that never reached the model within 1 s; SIP setup p50/p99; the tool round trip (the model's
arguments.done -> the bridge's function_call_output) and the CallStarted policy round trip
(180 -> 200), cold (the first) and warm (the rest); CPU seconds per call-minute of the target
process over the steady window (every call up, none hung up yet). Ratios are ours / null.

    .venv/bin/python bench/bridge_load.py [--levels 1,20,100] [--duration 20] [--repeat N] [--paired N]
                                          [--out PATH]

With --repeat N each level is run N times per target, null and ours alternating, and the table
shows the median of each figure (the JSON keeps every run): on a shared machine one run's CPU
figures move by 15 % either way. --paired N (default 1) also runs both targets at once, N times,
each with its own calls, fake model and callers, both on the target CPU, and reads their CPU over
the same window: the host's noise falls on both alike, so this ratio holds to about 1 % from run
to run where the runs alone scatter by 30 %. Latency comes from the runs alone.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import functools
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from load_harness import (
    KIND_ANSWER,
    RESULTS,
    CallPlan,
    CallRecord,
    FakeModelStats,
    LoadCaller,
    Processes,
    cpu_seconds,
    machine,
    pin_harness,
    pin_target,
    stream_stats,
    summary,
    table,
    workdir,
    write_json,
)

from realtime_bridge.event_loop import LOOPS

ONSET_LOST_MS = 1000.0
# Every third burst is answered with a tool call. When the tool round trip is slow (the stand-ins
# share the harness CPU), the follow-up's audio can still be playing when a later answer arrives,
# and that answer waits behind it: egress is also reported for the answers that found the line
# idle (`_line_busy`), as the wait is the other audio's length, not the bridge's delay.
TOOL_EVERY = 3
TARGETS = ("null", "ours")


def start_target(
    procs: Processes, target: str, n: int, stats_path: Path, seed: int, event_loop: str
) -> tuple[subprocess.Popen[str], subprocess.Popen[str], int]:
    """A target's world (its fake model; for ours also moto and the Lambda stand-in) and the target
    itself, pinned to the target CPU: (the fake model, the target, its SIP port)."""
    fake, model_url = procs.fake_model(stats_path, seed, tool_every=TOOL_EVERY)
    if target == "ours":
        aws = procs.moto()
        lambda_url = procs.local_lambda(aws, model_url)
        proc, sip_port = procs.bridge(model_url, aws, n + 10, lambda_url, event_loop)
    else:
        proc, sip_port = procs.null_relay(model_url, event_loop)
    pin_target(proc.pid)
    return fake, proc, sip_port


def run_target(target: str, n: int, duration_s: float, seed: int, event_loop: str) -> dict[str, Any]:
    work = workdir(f"bench-load-{target}-{n}-")
    procs = Processes(work)
    stats_path = work / "fake_model.json"
    try:
        fake, proc, sip_port = start_target(procs, target, n, stats_path, seed, event_loop)
        window: dict[str, float] = {}

        standins = procs.pids("moto", "local_lambda")  # remote in production: on the harness CPUs

        def sample(edge: str) -> None:  # 0: every call answered; 1: the hold is over, no BYE sent yet
            window[f"cpu{edge}"], window[f"t{edge}"] = cpu_seconds(proc.pid), time.monotonic()
            window[f"fake{edge}"], window[f"caller{edge}"] = cpu_seconds(fake.pid), time.process_time()
            window[f"standins{edge}"] = sum(cpu_seconds(pid) for pid in standins)

        plans = [CallPlan(i, lead_frames=100 + (i * 37) % 110) for i in range(n)]  # spread the bursts
        caller = LoadCaller(sip_port, "udp")
        ramp = min(10.0, n / 20)  # 20 new calls a second: setup storms stay out of the steady window
        # The window closes before the hang-ups: ending 100 calls (the bridge's records, transcripts
        # and CallEnded events) is not the steady state, and the null relay has nothing to end.
        records = asyncio.run(
            _run(caller, plans, ramp, duration_s, deadline_s=ramp + duration_s + 90,
                 on_all_answered=lambda: sample("0"), on_hold_over=lambda: sample("1"))
        )  # fmt: skip
        procs.stop(proc)
        procs.stop(fake)
        fake_stats = FakeModelStats.model_validate_json(stats_path.read_text())
    finally:
        procs.close()
    return measure(target, event_loop, n, records, fake_stats, window)


def run_paired(n: int, duration_s: float, seed: int, event_loop: str) -> dict[str, Any]:
    """Both targets at once, each with its own n calls, fake model and callers, both on the target
    CPU, their CPU read over the same window. Run alone, one after the other, a target's CPU
    figure moves by about 15 % either way from run to run on a shared VM (the null relay's own
    ranged 0.122-0.169 s per call-minute here); measured side by side, whatever the host does to
    that CPU it does to both, and the ratio is the bridge's own cost."""
    works = {t: workdir(f"bench-paired-{t}-{n}-") for t in TARGETS}
    procs = {t: Processes(works[t]) for t in TARGETS}
    try:
        targets: dict[str, int] = {}
        sip_ports: dict[str, int] = {}
        running: dict[str, tuple[subprocess.Popen[str], subprocess.Popen[str]]] = {}
        for t in TARGETS:
            fake, proc, sip_ports[t] = start_target(procs[t], t, n, works[t] / "fake_model.json", seed, event_loop)
            targets[t], running[t] = proc.pid, (fake, proc)
        window: dict[str, float] = {}
        up: set[str] = set()

        def answered(t: str) -> None:
            up.add(t)
            if up == set(TARGETS):  # every call of both up: the window opens
                window["t0"] = time.monotonic()
                window.update({f"{t}0": cpu_seconds(pid) for t, pid in targets.items()})

        def hold_over() -> None:  # the first to end its hold closes the window, before any BYE
            if "t0" in window and "t1" not in window:
                window["t1"] = time.monotonic()
                window.update({f"{t}1": cpu_seconds(pid) for t, pid in targets.items()})

        plans = [CallPlan(i, lead_frames=100 + (i * 37) % 110) for i in range(n)]
        ramp = min(10.0, n / 20)

        async def both() -> list[list[CallRecord]]:
            runs = [
                LoadCaller(sip_ports[t], "udp").run(
                    plans,
                    ramp_s=ramp,
                    hold_s=duration_s + 2,
                    deadline_s=ramp + duration_s + 90,
                    on_all_answered=functools.partial(answered, t),
                    on_hold_over=hold_over,
                )
                for t in TARGETS
            ]
            return list(await asyncio.gather(*runs))

        records = dict(zip(TARGETS, asyncio.run(both()), strict=True))
        fakes: dict[str, FakeModelStats] = {}
        for t, (fake, proc) in running.items():
            procs[t].stop(proc)
            procs[t].stop(fake)  # it writes its timestamps as it stops
            fakes[t] = FakeModelStats.model_validate_json((works[t] / "fake_model.json").read_text())
    finally:
        for t in TARGETS:
            procs[t].close()
    seconds = window.get("t1", 0.0) - window.get("t0", 0.0)
    out: dict[str, Any] = {"calls": n, "window_s": round(seconds, 1)}
    for t in TARGETS:
        answered_n = sum(1 for r in records[t] if r.answered_ns is not None)
        minutes = answered_n * seconds / 60
        out[t] = round((window[f"{t}1"] - window[f"{t}0"]) / minutes, 3) if minutes > 0 else None
        out[f"{t}_failed"] = n - answered_n
        # The same figures as the runs alone, over the same seconds for both targets.
        own = {"t0": window.get("t0", 0.0), "t1": window.get("t1", 0.0)}
        own |= {"cpu0": window.get(f"{t}0", 0.0), "cpu1": window.get(f"{t}1", 0.0)}
        out[f"{t}_run"] = measure(t, event_loop, n, records[t], fakes[t], own)
    out["ratio"] = round(out["ours"] / out["null"], 3) if out["ours"] and out["null"] else None
    return out


async def _run(caller: LoadCaller, plans: list[CallPlan], ramp: float, hold: float, **kw: Any) -> list[CallRecord]:
    return await caller.run(plans, ramp_s=ramp, hold_s=hold, **kw)


def measure(
    target: str, event_loop: str, n: int, records: list[CallRecord], fake: FakeModelStats, window: dict[str, float]
) -> dict[str, Any]:
    ingress: list[float] = []
    first_ingress: list[float] = []  # the call's first burst
    egress: list[float] = []
    jitter: list[float] = []
    drift: list[float] = []
    egress_clear: list[float] = []
    onsets = lost_onsets = lost_down = received = lost_up = 0
    for r in records:
        for seq, sent_ns in r.burst_sent_ns.items():
            onsets += 1
            heard = fake.ingress_ns.get(f"{r.call_no}:{seq}")
            if heard is None or (heard - sent_ns) / 1e6 > ONSET_LOST_MS:
                lost_onsets += 1
            if heard is not None:
                (ingress if seq else first_ingress).append((heard - sent_ns) / 1e6)
        first_loud: dict[int, int] = {}
        tagged: list[tuple[int, int, int]] = []  # (arrival, kind, seq) of every frame of model audio
        for a in r.arrivals:
            if a.tag is not None:
                tagged.append((a.kernel_ns, a.tag.kind, a.tag.seq))
                if a.tag.kind == KIND_ANSWER and a.tag.seq not in first_loud:
                    first_loud[a.tag.seq] = a.kernel_ns
        for seq, at_ns in first_loud.items():
            sent = fake.egress_sent_ns.get(f"{r.call_no}:{seq}")
            if sent is not None:
                egress.append((at_ns - sent) / 1e6)
                if not _line_busy(tagged, sent, at_ns, seq):
                    egress_clear.append((at_ns - sent) / 1e6)
        s = stream_stats(r.arrivals)
        jitter += s.jitter_ms
        drift += s.drift_ms
        lost_down += s.lost
        received += s.received
        lost_up += max(0, r.frames_sent - fake.appends.get(str(r.call_no), 0))
    answered = [r for r in records if r.answered_ns is not None]
    setup = [r.setup_ms for r in answered if r.setup_ms is not None]
    policy = [r.ringing_to_answer_ms for r in sorted(answered, key=lambda r: r.invite_ns)]
    policy_ms = [p for p in policy if p is not None]
    steady_s = window.get("t1", 0.0) - window.get("t0", 0.0)
    call_minutes = len(answered) * steady_s / 60
    cpu = (window["cpu1"] - window["cpu0"]) / call_minutes if call_minutes > 0 else None
    return {
        "target": target,
        "event_loop": event_loop,
        "calls": n,
        "answered": len(answered),
        "failed": n - len(answered),
        "bye_not_200": sum(1 for r in answered if r.bye_status != 200 and not r.hung_up_by_remote),
        "ingress_ms": summary(ingress),
        "first_ingress_ms": summary(first_ingress),
        "egress_line_idle_ms": summary(egress_clear),
        "egress_ms": summary(egress),
        "rtp_jitter_ms": summary(jitter),
        "ts_drift_ms": summary(drift),
        "frames_lost_down": lost_down,
        "frames_received_down": received,
        "frames_lost_up": lost_up,
        "onsets": onsets,
        "onsets_lost": lost_onsets,
        "sip_setup_ms": summary(setup),
        "tool_rt_cold_ms": summary(fake.tool_cold_ms),
        "tool_rt_warm_ms": summary(fake.tool_warm_ms),
        "policy_rt_cold_ms": round(policy_ms[0], 2) if policy_ms else None,
        "policy_rt_warm_ms": summary(policy_ms[1:]),
        "steady_window_s": round(steady_s, 1),
        "cpu_s_per_call_minute": round(cpu, 3) if cpu is not None else None,
        # The harness's own load (share of one core over the window): near 100 % it, not the
        # target, is the bottleneck and the level says nothing about the target.
        "target_cpu_pct": _share(window, "cpu", steady_s),
        "fake_model_cpu_pct": _share(window, "fake", steady_s),
        "caller_cpu_pct": _share(window, "caller", steady_s),
        "standins_cpu_pct": _share(window, "standins", steady_s),
    }


def _line_busy(tagged: list[tuple[int, int, int]], sent_ns: int, first_ns: int, seq: int) -> bool:
    """Did other model audio reach the caller between this answer's first delta leaving the model
    and its first frame arriving? Then the answer queued behind it (a tool round's follow-up, late
    when the stand-ins are slow) and its egress is that audio's length, not the bridge's delay."""
    i = bisect.bisect_left(tagged, (sent_ns, 0, 0))
    while i < len(tagged) and tagged[i][0] <= first_ns:
        if (tagged[i][1], tagged[i][2]) != (KIND_ANSWER, seq):
            return True
        i += 1
    return False


def _share(window: dict[str, float], key: str, seconds: float) -> float | None:
    if seconds <= 0 or f"{key}1" not in window:
        return None
    return round(100 * (window[f"{key}1"] - window[f"{key}0"]) / seconds, 1)


def _ratio(ours: float | None, null: float | None) -> str:
    if ours is None or null is None or null == 0:
        return "-"
    return f"{ours / null:.2f}x"


def _gap(ours: dict[str, Any], null: dict[str, Any], key: str) -> float | None:
    o, n = _get(ours, key), _get(null, key)
    return o - n if o is not None and n is not None else None


def _get(row: dict[str, Any], key: str) -> float | None:
    head, _, sub = key.partition(".")
    value = row.get(head)
    return value.get(sub) if isinstance(value, dict) else value


CPU = "cpu_s_per_call_minute"
METRICS = [
    ("ingress p50 ms", "ingress_ms.p50"),
    ("ingress p99 ms", "ingress_ms.p99"),
    ("ingress max ms", "ingress_ms.max"),
    ("first-burst ingress p99 ms", "first_ingress_ms.p99"),
    ("egress p50 ms", "egress_ms.p50"),
    ("egress p99 ms", "egress_ms.p99"),
    ("egress max ms", "egress_ms.max"),
    ("egress p99, line idle when sent", "egress_line_idle_ms.p99"),
    ("RTP jitter p99 ms", "rtp_jitter_ms.p99"),
    ("ts drift p99 ms", "ts_drift_ms.p99"),
    ("frames lost down", "frames_lost_down"),
    ("frames lost up", "frames_lost_up"),
    ("onsets lost (>1 s)", "onsets_lost"),
    ("SIP setup p50 ms", "sip_setup_ms.p50"),
    ("SIP setup p99 ms", "sip_setup_ms.p99"),
    ("tool RT warm p50 ms", "tool_rt_warm_ms.p50"),
    ("tool RT warm p99 ms", "tool_rt_warm_ms.p99"),
    ("tool RT cold p99 ms", "tool_rt_cold_ms.p99"),
    ("policy RT (180->200) cold ms", "policy_rt_cold_ms"),
    ("policy RT warm p50 ms", "policy_rt_warm_ms.p50"),
    ("policy RT warm p99 ms", "policy_rt_warm_ms.p99"),
    ("CPU s / call-minute, alone", CPU),  # one after the other: the host's noise differs (see --paired)
    ("target CPU % of a core", "target_cpu_pct"),
    ("fake model CPU %", "fake_model_cpu_pct"),
    ("caller CPU %", "caller_cpu_pct"),
    ("moto + Lambda stand-in CPU %", "standins_cpu_pct"),
    ("failed calls", "failed"),
]


# Latency and loss from the runs at once too: the same seconds of the same host for both targets.
AT_ONCE = [
    ("ingress p99 ms", "ingress_ms.p99"),
    ("egress p99 ms", "egress_ms.p99"),
    ("egress p99, line idle", "egress_line_idle_ms.p99"),
    ("RTP jitter p99 ms", "rtp_jitter_ms.p99"),
    ("ts drift p99 ms", "ts_drift_ms.p99"),
    ("frames lost down", "frames_lost_down"),
    ("frames lost up", "frames_lost_up"),
    ("onsets lost (>1 s)", "onsets_lost"),
]


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from repeated runs of a target: the median of every number (per percentile for
    the summaries), so one noisy run on a shared machine does not decide a ratio."""

    def merge(values: list[Any]) -> Any:
        if all(isinstance(v, dict) for v in values):
            return {k: merge([v.get(k) for v in values]) for k in values[0]}
        present = [v for v in values if v is not None]  # a run with no such event has no figure
        if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            middle = statistics.median(present)  # of an even count: the mean of the middle two
            return (
                int(middle) if all(isinstance(v, int) for v in present) and middle == int(middle) else round(middle, 3)
            )
        return values[0]

    return merge(runs) if len(runs) > 1 else runs[0]


def render(level: dict[str, Any], delay: tuple[float, float]) -> str:
    null, ours = level["null"], level["ours"]
    rows = [[label, _get(ours, k), _get(null, k), _ratio(_get(ours, k), _get(null, k))] for label, k in METRICS]
    repeats = len(level.get("runs", [])) or 1
    title = (
        f"{ours['calls']} concurrent calls on {ours['event_loop']}: {ours['onsets']} caller onsets, "
        f"steady window {ours['steady_window_s']} s "
        f"(null {null['steady_window_s']} s); the model's own answer delay is {delay[0]:.0f}-{delay[1]:.0f} ms"
    )
    if repeats > 1:
        ratios = ", ".join(_ratio(_get(r["ours"], CPU), _get(r["null"], CPU)) for r in level["runs"])
        title += f"\nmedians of {repeats} runs, null and ours alternating; CPU ratio per run: {ratios}"
    paired = level.get("paired", [])
    if paired:
        ours = statistics.median(p["ours"] for p in paired if p["ours"] is not None)
        null = statistics.median(p["null"] for p in paired if p["null"] is not None)
        rows.append([f"CPU s / call-minute, both at once ({len(paired)}x)", ours, null, _ratio(ours, null)])
        title += "\nboth at once, CPU ratio per run: " + ", ".join(f"{p['ratio']:.2f}x" for p in paired if p["ratio"])
        runs = [p for p in paired if "ours_run" in p]
        if runs:
            at_once = {t: median_of([p[f"{t}_run"] for p in runs]) for t in TARGETS}
            for label, key in AT_ONCE:
                o, nl = _get(at_once["ours"], key), _get(at_once["null"], key)
                rows.append([f"{label}, both at once", o, nl, _ratio(o, nl)])
            gaps = [_gap(p["ours_run"], p["null_run"], "ingress_ms.p99") for p in runs]
            title += "\nboth at once, ingress p99 ours - null per run: " + ", ".join(
                f"{g:+.2f} ms" for g in gaps if g is not None
            )
    return title + "\n" + table(rows, ["metric", "ours", "null", "ours/null"])


def measure_level(n: int, args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for _ in range(args.repeat):  # alternating, so a slow spell of the machine falls on both
        runs.append({t: run_target(t, n, args.duration, args.seed, args.event_loop) for t in TARGETS})
    level: dict[str, Any] = {t: median_of([r[t] for r in runs]) for t in TARGETS}
    if args.repeat > 1:
        level["runs"] = runs
    if args.paired:
        level["paired"] = [run_paired(n, args.duration, args.seed, args.event_loop) for _ in range(args.paired)]
    return level


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,20,100", help="comma-separated concurrency levels (200 on request)")
    parser.add_argument("--duration", type=float, default=20.0, help="steady seconds with every call up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--event-loop", choices=LOOPS, default=LOOPS[0], help="the loop both the bridge and the null relay run on"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per level and target, alternating; the table shows medians"
    )
    parser.add_argument(
        "--paired", type=int, default=1, metavar="N",
        help="also run both targets at once N times per level: a CPU ratio the host's noise falls on equally (0: none)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "bridge_load.json")
    args = parser.parse_args()
    if args.repeat < 1 or args.paired < 0:
        print("error: --repeat must be 1 or more and --paired 0 or more", file=sys.stderr)
        return 2
    try:
        levels = [int(x) for x in args.levels.split(",") if x.strip()]
    except ValueError:
        print(f"error: --levels wants numbers like 1,20,100, got {args.levels!r}", file=sys.stderr)
        return 2
    if not levels or min(levels) < 1:
        print("error: --levels must name at least one level of 1 or more calls", file=sys.stderr)
        return 2
    pin_harness()
    payload: dict[str, Any] = {
        "machine": machine(),
        "duration_s": args.duration,
        "event_loop": args.event_loop,
        "levels": [],
    }
    if payload["machine"]["pinned"]:
        print(f"the bridge or null relay pinned to CPU {payload['machine']['pinned']['target']}, the callers and "
              f"stand-ins to {payload['machine']['pinned']['harness']}", flush=True)  # fmt: skip
    for n in levels:
        level = measure_level(n, args)
        payload["levels"].append(level)
        print(render(level, (150.0, 350.0)) + "\n", flush=True)
        write_json(args.out, payload)  # after every level: a long run that is stopped keeps what it measured
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
