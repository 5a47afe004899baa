"""What the load benches share: the processes under test, a SIP/RTP load caller, and the numbers.

- `Tag`: the caller's loud audio and the fake model's answers carry (kind, call, sequence) in
  their first bytes, so each end can pair a burst with its timestamps without any other channel.
- `RtpEndpoint`: one call's RTP socket; every arrival is stamped by the kernel (SO_TIMESTAMPNS),
  and its payload tag, sequence number and RTP timestamp are kept for the statistics.
- `LoadCaller`: N calls over UDP or TCP SIP (the simulator's `CallerSipLeg`, the bridge's own
  UAC core), 20 ms PCMU paced by one shared timer, loud bursts after silence, DTMF on request.
- `Processes`: moto, the fake model, the bridge (`voice-agent serve --local`) or the null relay,
  each its own process, started and stopped in order; the target's CPU from /proc.
- statistics (percentiles, RFC 3550 jitter, timestamp-vs-arrival drift, losses) and the tables.

Times that cross processes are CLOCK_REALTIME nanoseconds (`time.time_ns()` and the kernel's
SO_TIMESTAMPNS use the same clock on one machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from realtime_bridge.rtp.dtmf import DIGITS, TelephoneEvent, build_telephone_event
from realtime_bridge.rtp.packet import RtpPacket, build_rtp
from realtime_bridge.sip.build import Peer, Transport
from realtime_bridge.sip.message import SipResponse, parse_message
from realtime_bridge.sip.sdp import AudioOffer
from simulator.caller_sip import CallerSipLeg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
FRAME_NS = 20_000_000
FRAME_BYTES = 160
SILENCE = b"\xff" * FRAME_BYTES
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the stdlib does not export it
_RTP_HEAD = struct.Struct("!BBHII")
_TIMESPEC = struct.Struct("@qq")
KIND_BURST, KIND_ANSWER, KIND_TOOL_ANSWER, KIND_OTHER = 1, 2, 3, 4
DTMF_PT = 101


# ---- tags -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Tag:
    """(kind, call, sequence) written as loud mu-law bytes: MAGIC then nine nibbles as 0x10|n."""

    kind: int
    call_no: int
    seq: int

    MAGIC = b"\x1a\x1b"

    def frame(self) -> bytes:
        nibbles = [self.kind] + [(v >> s) & 0xF for v in (self.call_no, self.seq) for s in (12, 8, 4, 0)]
        head = self.MAGIC + bytes(0x10 | n for n in nibbles)
        return head + b"\x00" * (FRAME_BYTES - len(head))  # 0x00: the loudest mu-law code

    @classmethod
    def find(cls, payload: bytes) -> Tag | None:
        i = payload.find(cls.MAGIC)
        if i < 0 or len(payload) < i + 11:
            return None
        n = [b & 0x0F for b in payload[i + 2 : i + 11]]
        return cls(n[0], n[1] << 12 | n[2] << 8 | n[3] << 4 | n[4], n[5] << 12 | n[6] << 8 | n[7] << 4 | n[8])


class FakeModelStats(BaseModel):
    """What the fake model saw, written when it stops (keys are "call:seq")."""

    ingress_ns: dict[str, int] = {}  # first tagged append of each burst
    egress_sent_ns: dict[str, int] = {}  # first loud delta of each burst's answer
    tool_cold_ms: list[float] = []  # first tool round trip of each session
    tool_warm_ms: list[float] = []  # the others
    appends: dict[str, int] = {}  # input_audio_buffer.append per call
    sessions: int = 0


# ---- RTP ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Arrival:
    kernel_ns: int
    seq: int
    ts: int
    tag: Tag | None


class RtpEndpoint:
    """One call's media socket. Sends are plain `sendto`; receives are read with `recvmsg` for
    the kernel timestamp, straight from the loop's reader callback (no protocol objects)."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.remote: tuple[str, int] | None = None
        self.arrivals: list[Arrival] = []
        self.ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self.frames_sent = 0
        self._cmsg = socket.CMSG_LEN(_TIMESPEC.size)
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        while True:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(2048, self._cmsg)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            kernel_ns = time.time_ns()
            for level, kind, raw in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack(raw[: _TIMESPEC.size])
                    kernel_ns = sec * 1_000_000_000 + nsec
            if len(data) < 12:
                continue
            _b0, b1, seq, ts, _ssrc = _RTP_HEAD.unpack_from(data)
            if b1 & 0x7F != 0:
                continue
            self.arrivals.append(Arrival(kernel_ns, seq, ts, Tag.find(data[12:])))

    def send(self, payload: bytes, *, marker: bool = False, pt: int = 0, advance: bool = True) -> None:
        if self.remote is None:
            return
        packet = RtpPacket(pt, self._seq, self._ts, self.ssrc, payload, marker=marker)
        with contextlib.suppress(OSError):
            self.sock.sendto(build_rtp(packet), self.remote)
        self._seq = (self._seq + 1) & 0xFFFF
        if advance:
            self._ts = (self._ts + FRAME_BYTES) & 0xFFFFFFFF
        self.frames_sent += pt == 0

    def send_dtmf(self, digit: str, frames: int = 5) -> None:
        """RFC 4733: one event over `frames` packets (same timestamp), the end packet thrice."""
        event = DIGITS.index(digit)
        for i in range(frames):
            end = i == frames - 1
            payload = build_telephone_event(TelephoneEvent(event, end, 10, (i + 1) * FRAME_BYTES))
            for _ in range(3 if end else 1):
                self.send(payload, marker=i == 0, pt=DTMF_PT, advance=False)
        self._ts = (self._ts + frames * FRAME_BYTES) & 0xFFFFFFFF

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


# ---- one call -------------------------------------------------------------------------------
class _Leg(CallerSipLeg):
    """The simulator's SIP leg, plus the status of the BYE's final response (a bench checks it)."""

    bye_status: int | None = None

    def _on_message(self, data: bytes, source: Peer) -> None:
        with contextlib.suppress(Exception):
            msg = parse_message(data)
            cseq = (msg.headers.get("cseq") or "").split()
            if isinstance(msg, SipResponse) and cseq[-1:] == ["BYE"] and msg.status >= 200:
                self.bye_status = msg.status
        super()._on_message(data, source)


@dataclass
class CallPlan:
    """What one call sends: silence, then bursts; DTMF digits at `dtmf_frame` (by default once
    the first burst has been answered, as a caller keys digits when asked)."""

    call_no: int
    burst_frames: int = 30  # 600 ms of loud speech
    gap_frames: int = 80  # 1.6 s of silence: the model's answer plays in it
    lead_frames: int = 100  # silence before the first burst (the greeting plays)
    dtmf: str = ""
    dtmf_frame: int | None = None


@dataclass
class CallRecord:
    call_no: int
    transport: Transport
    invite_ns: int = 0
    ringing_ns: int | None = None
    answered_ns: int | None = None
    failed_status: int | None = None
    bye_status: int | None = None
    hung_up_by_remote: bool | None = None
    burst_sent_ns: dict[int, int] = field(default_factory=dict)
    frames_sent: int = 0
    arrivals: list[Arrival] = field(default_factory=list)

    @property
    def setup_ms(self) -> float | None:
        return (self.answered_ns - self.invite_ns) / 1e6 if self.answered_ns else None

    @property
    def ringing_to_answer_ms(self) -> float | None:
        """180 -> 200: the bridge's CallStarted policy round trip plus the RTP port and SDP."""
        if self.answered_ns is None or self.ringing_ns is None:
            return None
        return (self.answered_ns - self.ringing_ns) / 1e6


class _ActiveCall:
    def __init__(self, plan: CallPlan, rtp: RtpEndpoint, record: CallRecord) -> None:
        self.plan, self.rtp, self.record = plan, rtp, record
        self.frame_no = 0
        self.burst_no = 0
        self.sending = True
        self.dtmf = list(plan.dtmf)

    def tick(self) -> None:
        if not self.sending:
            return
        p = self.plan
        at = p.dtmf_frame if p.dtmf_frame is not None else p.lead_frames + p.burst_frames + 25
        if self.dtmf and self.frame_no >= at:
            self.rtp.send_dtmf(self.dtmf.pop(0))
            self.frame_no += 5
            return
        k = self.frame_no - p.lead_frames
        cycle = p.burst_frames + p.gap_frames
        if k >= 0 and k % cycle < p.burst_frames:
            if k % cycle == 0:
                self.record.burst_sent_ns[self.burst_no] = time.time_ns()
            self.rtp.send(Tag(KIND_BURST, p.call_no, self.burst_no).frame(), marker=k % cycle == 0)
            if k % cycle == p.burst_frames - 1:
                self.burst_no += 1
        else:
            self.rtp.send(SILENCE)
        self.frame_no += 1


class Pacer:
    """One loop timer for every call's 20 ms frame (the caller must stay cheap at 200 calls)."""

    def __init__(self) -> None:
        self.calls: set[_ActiveCall] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._next = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._next = loop.time()
        self._handle = loop.call_at(self._next, self._tick)

    def _tick(self) -> None:
        for call in list(self.calls):
            call.tick()
        loop = asyncio.get_running_loop()
        self._next += FRAME_NS / 1e9
        if loop.time() - self._next > 0.1:  # a stalled loop re-anchors rather than bursting
            self._next = loop.time()
        self._handle = loop.call_at(self._next, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


class LoadCaller:
    def __init__(self, sip_port: int, transport: Transport, host: str = "127.0.0.1") -> None:
        self.target = Peer(host, sip_port, transport)
        self.host = host
        self.pacer = Pacer()

    async def run(
        self,
        plans: Sequence[CallPlan],
        *,
        ramp_s: float,
        hold_s: float,
        deadline_s: float,
        on_all_answered: Callable[[], None] | None = None,
        on_hold_over: Callable[[], None] | None = None,
    ) -> list[CallRecord]:
        """Place every call (starts spread over `ramp_s`), hold all for `hold_s` once the last is
        answered, then hang up. Bounded: whatever is not done by `deadline_s` counts as failed.
        The two hooks bound the steady window: every call up, none hung up yet."""
        self.pacer.start()
        answered = asyncio.Event()
        hang_up = asyncio.Event()
        records = [CallRecord(p.call_no, self.target.transport) for p in plans]
        pending = {"n": len(plans)}

        def settled() -> None:
            pending["n"] -= 1
            if pending["n"] == 0:
                answered.set()

        async def one(i: int, plan: CallPlan) -> None:
            await asyncio.sleep(ramp_s * i / max(1, len(plans)))
            await self._call(plan, records[i], settled, hang_up)

        tasks = [asyncio.create_task(one(i, p)) for i, p in enumerate(plans)]
        try:
            async with asyncio.timeout(deadline_s):
                await answered.wait()
                if on_all_answered is not None:
                    on_all_answered()
                await asyncio.sleep(hold_s)
                if on_hold_over is not None:
                    on_hold_over()
                hang_up.set()
                await asyncio.gather(*tasks, return_exceptions=True)
        except TimeoutError:
            hang_up.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.pacer.stop()
        return records

    async def _call(
        self, plan: CallPlan, record: CallRecord, settled: Callable[[], None], hang_up: asyncio.Event
    ) -> None:
        rtp = RtpEndpoint(self.host)
        leg = _Leg(
            target=self.target,
            local_host=self.host,
            callee="+15550100",
            caller=f"+1555{plan.call_no:07d}",
            media_port=rtp.port,
            extra_headers=[],
            t1=0.5,
            on_change=lambda: None,
        )
        active: _ActiveCall | None = None
        counted = False
        try:
            await leg.open()
            record.invite_ns = time.time_ns()
            leg.invite()
            outcome = await leg.outcome
            record.ringing_ns = _ns_from_loop(leg.ringing_at)
            if not isinstance(outcome, AudioOffer):
                record.failed_status = outcome
                settled()
                counted = True
                return
            record.answered_ns = time.time_ns()
            settled()
            counted = True
            rtp.remote = (outcome.address, outcome.port)
            active = _ActiveCall(plan, rtp, record)
            self.pacer.calls.add(active)
            hang = asyncio.ensure_future(hang_up.wait())
            waiters: list[asyncio.Future[Any]] = [hang, leg.hungup]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            hang.cancel()
            active.sending = False
            if not leg.hungup.done():
                await asyncio.sleep(0.2)  # let the last frames land before the BYE
                leg.hang_up()
            record.hung_up_by_remote = await asyncio.wait_for(leg.hungup, 35)
            record.bye_status = leg.bye_status
        except (TimeoutError, OSError, asyncio.CancelledError):
            if not counted:
                settled()
            if record.failed_status is None and record.answered_ns is None:
                record.failed_status = 408
        finally:
            if active is not None:
                self.pacer.calls.discard(active)
                record.frames_sent = rtp.frames_sent
            record.arrivals = rtp.arrivals
            rtp.close()
            leg.close()


def _ns_from_loop(loop_time: float | None) -> int | None:
    if loop_time is None:
        return None
    return time.time_ns() - int((asyncio.get_running_loop().time() - loop_time) * 1e9)


# ---- processes ------------------------------------------------------------------------------
def free_port() -> int:
    """A port free for both UDP and TCP right now (SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on loopback")


def bench_env() -> dict[str, str]:
    """The environment for the processes under test: never a real key or real AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AWS_"))}
    return env | {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BACKGROUND = ("moto", "local_lambda")  # the stand-ins of AWS services
BACKGROUND_NICE = 10


def to_background(pid: int) -> None:
    """Only the CPU the harness leaves idle. A stand-in is remote in production, but here it shares
    the harness's core with the fake model and the callers, whose clocks are the measurement: at
    100 calls the stand-ins used about 45 % of that core, and at an ordinary (or niced) priority
    they delayed the fake model's timestamps enough to add milliseconds to the bridge's ingress
    p99 (a null relay run beside a busy loop at 50 % of the harness core measured 9.4 ms instead
    of 5.6; beside the same loop under SCHED_IDLE, 6.4). Its threads inherit the policy."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed: the next best thing
        os.setpriority(os.PRIO_PROCESS, pid, BACKGROUND_NICE)


class Processes:
    """Child processes of one bench run, stopped in reverse order (SIGTERM, then SIGKILL)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._procs: list[tuple[str, subprocess.Popen[str]]] = []
        self._logs: list[IO[str]] = []

    def spawn(self, name: str, argv: list[str], *, stdout: int | IO[str] = subprocess.DEVNULL) -> subprocess.Popen[str]:
        log = (self.workdir / f"{name}.log").open("w")
        self._logs.append(log)
        proc = subprocess.Popen(argv, cwd=ROOT, env=bench_env(), stdout=stdout, stderr=log, text=True)
        if name in BACKGROUND:  # remote in production: they yield the CPU to the clocks of the measurement
            to_background(proc.pid)
        self._procs.append((name, proc))
        return proc

    def pids(self, *names: str) -> list[int]:
        return [proc.pid for name, proc in self._procs if name in names]

    def log_tail(self, name: str, lines: int = 5) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text().strip().splitlines()[-lines:]) if path.exists() else ""

    def ready_line(self, name: str, argv: list[str], timeout_s: float = 60) -> tuple[subprocess.Popen[str], str]:
        """Start a process that prints `READY <value>` on stdout when it is up."""
        proc = self.spawn(name, argv, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            line = proc.stdout.readline()
            if line.startswith("READY "):
                return proc, line.split(None, 1)[1].strip()
            if not line and proc.poll() is not None:
                break
        raise SystemExit(f"error: {name} did not start: {self.log_tail(name) or 'no output'}")

    def fake_model(self, stats_path: Path, seed: int, tool_every: int = 3) -> tuple[subprocess.Popen[str], str]:
        argv = [sys.executable, str(BENCH / "fake_model.py"), "--out", str(stats_path), "--seed", str(seed)]
        proc, port = self.ready_line("fake_model", [*argv, "--tool-every", str(tool_every)])
        return proc, f"http://127.0.0.1:{port}/v1"

    def moto(self) -> str:
        port = free_port()
        moto = str(Path(sys.executable).with_name("moto_server"))
        self.spawn("moto", [moto, "-H", "127.0.0.1", "-p", str(port)])
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/moto-api/", 30, "moto")
        return url

    def local_lambda(self, aws: str, model_url: str) -> str:
        """The Lambda stand-in (simulator/local_lambda.py): tools, policy and the post-call pass in
        a process of their own, as in AWS; its CPU is not the bridge's."""
        argv = [sys.executable, "-m", "simulator.local_lambda", "--aws-endpoint", aws, "--openai-base-url", model_url]
        _, url = self.ready_line("local_lambda", argv)
        return url

    def bridge(
        self, model_url: str, aws: str, max_calls: int, lambda_url: str, event_loop: str = "uvloop"
    ) -> tuple[subprocess.Popen[str], int]:
        """`voice-agent serve --local` on the fake model, the moto process and the Lambda stand-in
        (its decisions on stdout go nowhere: writing them stays in the measured CPU, as in production)."""
        sip, health = free_port(), free_port()
        exe = str(Path(sys.executable).with_name("voice-agent"))
        argv = [exe, "serve", "--local", "--openai-base-url", model_url, "--aws-endpoint", aws]
        argv += ["--lambda-endpoint", lambda_url, "--json"]  # decisions as JSON lines, as production logs them
        argv += ["--sip-port", str(sip), "--health-port", str(health), "--max-calls", str(max_calls)]
        proc = self.spawn("bridge", [*argv, "--drain-deadline", "5", "--event-loop", event_loop])
        wait_http(f"http://127.0.0.1:{health}/health", 90, "the bridge", proc, self)
        return proc, sip

    def null_relay(self, model_url: str, event_loop: str = "uvloop") -> tuple[subprocess.Popen[str], int]:
        argv = [sys.executable, str(BENCH / "null_relay.py"), "--model-url", model_url, "--event-loop", event_loop]
        proc, port = self.ready_line("null_relay", argv)
        return proc, int(port)

    def stop(self, proc: subprocess.Popen[str], timeout_s: float = 30) -> int | None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode

    def close(self) -> None:
        for _name, proc in reversed(self._procs):
            self.stop(proc, 10)
        for log in self._logs:
            log.close()


def wait_http(
    url: str, timeout_s: float, what: str, proc: subprocess.Popen[str] | None = None, procs: Processes | None = None
) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            tail = procs.log_tail("bridge") if procs else ""
            raise SystemExit(f"error: {what} exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"error: {what} did not come up within {timeout_s:.0f} s")


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# ---- statistics -----------------------------------------------------------------------------
def pct(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    r = {f"p{q}": _r(pct(values, q)) for q in (50, 90, 99)}
    return r | {"max": _r(max(values)) if values else None, "n": len(values)}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


@dataclass
class StreamStats:
    jitter_ms: list[float]
    drift_ms: list[float]
    received: int
    lost: int


def stream_stats(arrivals: Sequence[Arrival]) -> StreamStats:
    """RFC 3550 6.4.1 jitter (every running value) and timestamp-vs-arrival drift: transit time
    (arrival minus RTP time) above its minimum, which grows when timestamps stop following the
    clock across talkspurts. Losses from the extended sequence numbers."""
    if not arrivals:
        return StreamStats([], [], 0, 0)
    jitter: list[float] = []
    transits: list[float] = []
    j = 0.0
    ts_ext = arrivals[0].ts
    seq_ext = arrivals[0].seq
    first_seq, max_seq, seen = seq_ext, seq_ext, set()
    prev_ts, prev_seq = arrivals[0].ts, arrivals[0].seq
    prev_transit: float | None = None
    for a in arrivals:
        ts_ext += ((a.ts - prev_ts + 2**31) % 2**32) - 2**31
        seq_ext += ((a.seq - prev_seq + 2**15) % 2**16) - 2**15
        prev_ts, prev_seq = a.ts, a.seq
        seen.add(seq_ext)
        max_seq = max(max_seq, seq_ext)
        transit = a.kernel_ns / 1e6 - ts_ext / 8.0  # ms
        if prev_transit is not None:
            j += (abs(transit - prev_transit) - j) / 16
            jitter.append(j)
        prev_transit = transit
        transits.append(transit)
    low = min(transits)
    expected = max_seq - first_seq + 1
    return StreamStats(jitter, [t - low for t in transits], len(seen), max(0, expected - len(seen)))


# ---- output ---------------------------------------------------------------------------------
def table(rows: Sequence[Sequence[object]], head: Sequence[str]) -> str:
    cells = [[str(h) for h in head], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]  # fmt: skip
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def machine() -> dict[str, object]:
    load = os.getloadavg()
    pinned = {"target": sorted(CPU_SPLIT[0]), "harness": sorted(CPU_SPLIT[1])} if CPU_SPLIT else None
    return {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "pinned": pinned,
    }


def _cpu_split() -> tuple[set[int], set[int]] | None:
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[0]}, set(cpus[1:])) if len(cpus) >= 2 else None


# (the measured process's CPUs, everyone else's) on a machine of two CPUs or more: the bridge or
# the null relay gets a core of its own, as a Fargate task's vCPU is its own, so the stand-ins of
# what is remote in production (moto, the Lambda stand-in, the fake model) and the callers never
# compete with what is measured. None on one CPU: nothing to split.
CPU_SPLIT = _cpu_split()


def pin_harness() -> None:
    """This process, and every process it starts from now on, run on the harness CPUs."""
    if CPU_SPLIT is not None:
        os.sched_setaffinity(0, CPU_SPLIT[1])


def pin_target(pid: int) -> None:
    if CPU_SPLIT is not None:
        os.sched_setaffinity(pid, CPU_SPLIT[0])
