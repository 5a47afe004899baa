"""One call's RTP session over real loopback sockets."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import pytest

from realtime_bridge.rtp.dtmf import DtmfDigit
from realtime_bridge.rtp.packet import RtpPacket, build_rtp, parse_rtp
from realtime_bridge.rtp.ports import NoFreePort, RtpPortPool
from realtime_bridge.rtp.session import AudioFrame, RtpSession

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rtp"
TONE = (FIXTURES / "caller_tone.ulaw").read_bytes()
DTMF = [
    bytes.fromhex(line)
    for line in (FIXTURES / "dtmf_2833_digit1.hex").read_text().splitlines()
    if line and not line.startswith("#")
]


def pool() -> RtpPortPool:
    base = random.randint(20000, 59000) & ~1
    return RtpPortPool("127.0.0.1", base, base + 100)


class Recorder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[tuple[float, RtpPacket]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((asyncio.get_running_loop().time(), parse_rtp(data)))


async def endpoint() -> tuple[asyncio.DatagramTransport, Recorder, int]:
    transport, rec = await asyncio.get_running_loop().create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
    return transport, rec, transport.get_extra_info("sockname")[1]


def test_port_pool_hands_out_even_ports_skipping_busy_ones() -> None:
    p = RtpPortPool("127.0.0.1", 41001, 41006)  # even ports 41002, 41004, 41006
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        busy.bind(("127.0.0.1", 41002))
        socks = [p.bind(), p.bind()]
        assert sorted(s.getsockname()[1] for s in socks) == [41004, 41006]
        with pytest.raises(NoFreePort, match="no free RTP port in 41002-41006"):
            p.bind()
        freed = socks[0].getsockname()[1]
        socks[0].close()
        again = p.bind()
        assert again.getsockname()[1] == freed  # the only free port left
        again.close()
        socks[1].close()
    finally:
        busy.close()


def test_inbound_audio_and_dtmf_and_outbound_to_the_sdp_address_only() -> None:
    async def main() -> None:
        sdp_t, sdp_rx, sdp_port = await endpoint()  # the address the offer's c=/m= named
        src_t, src_rx, _ = await endpoint()  # where the caller's packets come from
        session = await RtpSession.open(pool().bind(), ("127.0.0.1", sdp_port), telephone_event_pt=101)
        try:
            for i in range(10):
                pkt = RtpPacket(0, 500 + i, 8000 + 160 * i, 42, TONE[160 * i : 160 * (i + 1)])
                src_t.sendto(build_rtp(pkt), ("127.0.0.1", session.local_port))
            for raw in DTMF:
                src_t.sendto(raw, ("127.0.0.1", session.local_port))
            src_t.sendto(b"\x00junk", ("127.0.0.1", session.local_port))
            events: list[AudioFrame | DtmfDigit] = []

            async def read() -> None:
                async for event in session.inbound():
                    events.append(event)
                    if isinstance(event, DtmfDigit):
                        return

            await asyncio.wait_for(read(), 2)
            await asyncio.sleep(0.2)
        finally:
            session.close()
            sdp_t.close()
            src_t.close()
        frames = [e for e in events if isinstance(e, AudioFrame)]
        assert b"".join(f.payload for f in frames) == TONE[:1600]
        assert [f.sequence for f in frames] == list(range(500, 510))
        assert events[-1] == DtmfDigit("1", 280)
        assert session.malformed_in == 1
        assert len(sdp_rx.got) >= 8 and src_rx.got == []  # never back to the packet source

    asyncio.run(main())


def test_first_audio_leaves_at_once_and_clear_reports_what_was_heard() -> None:
    async def main() -> None:
        t, rx, port = await endpoint()
        session = await RtpSession.open(pool().bind(), ("127.0.0.1", port))
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0.109)  # idle: silence, and we are mid-interval
            pushed_at = loop.time()
            session.send_audio("resp-1", TONE[:4000])  # 500 ms
            await asyncio.sleep(0.2)
            cut = session.clear()
            await asyncio.sleep(0.1)
            session.set_remote(("127.0.0.1", 9))  # a re-INVITE moved the media elsewhere
            await asyncio.sleep(0.005)  # let a datagram already in flight land
            count = len(rx.got)
            await asyncio.sleep(0.1)
        finally:
            session.close()
            t.close()
        first_audio = next(i for i, (_, p) in enumerate(rx.got) if p.marker)
        at, pkt = rx.got[first_audio]
        assert pkt.payload == TONE[:160]
        assert at - pushed_at < 0.005, "the talkspurt must not wait for the next 20 ms tick"
        heard = cut["resp-1"]
        assert 180 <= heard <= 240  # 200 ms of wall time, at most one frame either way
        audio = [p for _, p in rx.got[first_audio:] if p.payload != b"\xff" * 160]
        assert len(audio) * 20 == heard == session.played_ms("resp-1")
        assert all(p.payload == b"\xff" * 160 for _, p in rx.got[first_audio + len(audio) :])
        assert len(rx.got) == count  # nothing more reached the old address

    asyncio.run(main())


def test_close_ends_inbound_iteration() -> None:
    async def main() -> None:
        session = await RtpSession.open(pool().bind(), ("127.0.0.1", 9))
        asyncio.get_running_loop().call_later(0.05, session.close)
        assert [e async for e in session.inbound()] == []

    asyncio.run(asyncio.wait_for(main(), 2))


def test_an_audio_sink_takes_frames_at_once_and_a_declined_frame_keeps_its_place() -> None:
    async def main() -> tuple[list[int], list[int]]:
        session = RtpSession(("127.0.0.1", 9), telephone_event_pt=101, queue_frames=50)
        taken: list[int] = []
        declining = {3}  # the socket asks to wait for frame 3: frames 4 and 5 arrive behind it

        def sink(payload: bytes) -> bool:
            if payload[0] in declining:
                return False
            taken.append(payload[0])
            return True

        session.audio_sink = sink

        def arrive(n: int) -> None:
            packet = RtpPacket(payload_type=0, sequence=n, timestamp=160 * n, ssrc=7, payload=bytes([n]) * 160)
            session.datagram_received(build_rtp(packet), ("127.0.0.1", 9))

        for n in range(6):
            arrive(n)
        queued: list[int] = []
        inbound = session.inbound()
        for _ in range(3):  # what the call's uplink task takes, in order
            event = await anext(inbound)
            assert isinstance(event, AudioFrame)
            queued.append(event.payload[0])
        arrive(6)  # the queue is empty again: the sink takes frames at once
        return taken, queued

    taken, queued = asyncio.run(main())
    assert taken == [0, 1, 2, 6]
    assert queued == [3, 4, 5]  # 4 and 5 were not offered ahead of 3
