"""Helpers for tests that call the bridge with sipp, a real SIP peer, over loopback only."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from realtime_bridge.rtp.dtmf import DtmfDigit
from realtime_bridge.rtp.packet import RtpPacket, parse_rtp
from realtime_bridge.rtp.session import AudioFrame, RtpSession
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.events import CallInfo, EndReason
from realtime_bridge.sip.server import Accept, Decision, SipServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIP_FIXTURES = FIXTURES / "sip"
RTP_FIXTURES = FIXTURES / "rtp"
SIPP = shutil.which("sipp")
VC_ID = "vc-test-0123456789"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        port = random.randint(20000, 60000) & ~1
        try:
            for k in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, k) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def bridge_config(**overrides: object) -> SipConfig:
    base = random.randint(20000, 59000) & ~1
    values: dict[str, object] = {
        "bind_host": "127.0.0.1",
        "sip_port": free_port(),
        "public_ip": IPv4Address("127.0.0.1"),
        "rtp_port_min": base,
        "rtp_port_max": base + 200,
        "allowed_sources": (IPv4Network("127.0.0.0/8"),),
        "voice_connector_id": VC_ID,
        "production": True,
        "t1": 0.1,
    }
    values.update(overrides)
    return SipConfig.model_validate(values)


@dataclass
class RecordingHandler:
    """A CallHandler that records everything and optionally plays audio or hangs up."""

    offer_delay: float = 0.0
    play: bytes = b""  # queued as item "greeting" once answered
    hang_up_after: float | None = None
    server: SipServer | None = None
    offers: list[CallInfo] = field(default_factory=list)
    answered: list[tuple[CallInfo, RtpSession]] = field(default_factory=list)
    ended: list[tuple[str, EndReason]] = field(default_factory=list)
    frames: list[AudioFrame] = field(default_factory=list)
    digits: list[DtmfDigit] = field(default_factory=list)
    answered_event: asyncio.Event = field(default_factory=asyncio.Event)
    ended_event: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def on_offer(self, call: CallInfo) -> Decision:
        self.offers.append(call)
        await asyncio.sleep(self.offer_delay)
        return Accept()

    async def on_answered(self, call: CallInfo, media: RtpSession) -> None:
        self.answered.append((call, media))
        self.answered_event.set()
        self.tasks.append(asyncio.create_task(self._read(media)))
        if self.play:
            await asyncio.sleep(0.107)  # mid-interval: the talkspurt must start at once anyway
            media.send_audio("greeting", self.play)
        if self.hang_up_after is not None and self.server is not None:
            await asyncio.sleep(self.hang_up_after)
            self.server.hang_up(call.call_id)

    async def _read(self, media: RtpSession) -> None:
        async for event in media.inbound():
            if isinstance(event, AudioFrame):
                self.frames.append(event)
            else:
                self.digits.append(event)

    async def on_ended(self, call: CallInfo, reason: EndReason) -> None:
        self.ended.append((call.call_id, reason))
        self.ended_event.set()


class RtpSink(asyncio.DatagramProtocol):
    """Stands in for the caller's media port named in the offer: records what the bridge sends."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, RtpPacket, tuple[str, int]]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append((asyncio.get_running_loop().time(), parse_rtp(data), addr))


async def open_sink(port: int) -> tuple[asyncio.DatagramTransport, RtpSink]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(RtpSink, local_addr=("127.0.0.1", port))


@dataclass
class SippResult:
    returncode: int
    output: str
    messages: str


async def run_sipp(
    scenario: str,
    server_port: int,
    transport: str,
    tmp: Path,
    *,
    keys: dict[str, str] | None = None,
    timeout: float = 20,
) -> SippResult:
    assert SIPP is not None
    log = tmp / f"{scenario}.{transport}.messages.log"
    args = [
        SIPP,
        f"127.0.0.1:{server_port}",
        "-sf",
        str(SIP_FIXTURES / scenario),
        "-m",
        "1",
        "-t",
        "u1" if transport == "udp" else "t1",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-mp",
        str(free_port()),
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-trace_msg",
        "-message_file",
        str(log),
    ]
    for k, v in {"vcid": VC_ID, "sinkport": "9", **(keys or {})}.items():
        args += ["-key", k, v]
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=RTP_FIXTURES,  # rtp_stream files are named relative to the working directory
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "TERM": "dumb"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout + 10)
    messages = log.read_text(errors="replace") if log.exists() else ""
    return SippResult(proc.returncode or 0, out.decode(errors="replace")[-3000:], messages)
