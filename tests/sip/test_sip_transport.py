"""The asyncio transports around the core, over loopback TCP and UDP."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Network
from pathlib import Path

from realtime_bridge.sip.framing import StreamFramer
from realtime_bridge.sip.message import SipResponse, parse_message
from realtime_bridge.sip.server import SipServer
from tests.sip.sipp_harness import RecordingHandler, bridge_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sip"


def options(n: int, transport: str = "TCP") -> bytes:
    raw = (FIXTURES / "chime_options.sip").read_bytes().replace(b"SIP/2.0/UDP", f"SIP/2.0/{transport}".encode())
    return raw.replace(b"CSeq: 1 OPTIONS", f"CSeq: {n} OPTIONS".encode()).replace(b".0;rport", f".{n};rport".encode())


async def read_responses(reader: asyncio.StreamReader, count: int) -> list[SipResponse]:
    framer, out = StreamFramer(), []
    while len(out) < count:
        data = await asyncio.wait_for(reader.read(4096), 2)
        assert data, "connection closed early"
        out += [parse_message(m) for m in framer.feed(data)]
    return [m for m in out if isinstance(m, SipResponse)]


async def started(**overrides: object) -> SipServer:
    server = SipServer(bridge_config(**overrides), RecordingHandler(), public_ip="127.0.0.1")
    await server.start()
    return server


def test_tcp_several_messages_per_segment_and_split_reads() -> None:
    async def main() -> None:
        server = await started()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.sip_port)
            writer.write(options(1) + options(2) + options(3)[:50])  # two and a bit in one segment
            await writer.drain()
            await asyncio.sleep(0.05)
            for i in range(50, len(options(3)), 9):  # the rest dribbles in
                writer.write(options(3)[i : i + 9])
                await writer.drain()
            got = await read_responses(reader, 3)
            writer.close()
        finally:
            await server.close()
        assert [(r.status, r.headers.get("cseq")) for r in got] == [(200, f"{n} OPTIONS") for n in (1, 2, 3)]

    asyncio.run(main())


def test_broken_tcp_framing_closes_only_that_connection() -> None:
    async def main() -> None:
        server = await started()
        try:
            good_r, good_w = await asyncio.open_connection("127.0.0.1", server.sip_port)
            bad_r, bad_w = await asyncio.open_connection("127.0.0.1", server.sip_port)
            bad_w.write(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: lots\r\n\r\n")
            await bad_w.drain()
            assert await asyncio.wait_for(bad_r.read(), 2) == b""  # closed, nothing sent
            good_w.write(options(7))
            await good_w.drain()
            (resp,) = await read_responses(good_r, 1)
            good_w.close()
            bad_w.close()
        finally:
            await server.close()
        assert resp.status == 200

    asyncio.run(main())


def test_tcp_from_an_unlisted_source_is_closed_without_a_word() -> None:
    async def main() -> None:
        server = await started(allowed_sources=(IPv4Network("192.0.2.0/24"),))
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.sip_port)
            writer.write(options(1))
            try:
                answer = await asyncio.wait_for(reader.read(), 2)
            except ConnectionResetError:  # closed while our bytes were unread: also a refusal
                answer = b""
            writer.close()
            assert answer == b""
            assert server.core.dropped_unlisted == 0  # refused before any parsing
        finally:
            await server.close()

    asyncio.run(main())


def test_udp_malformed_request_gets_400_and_garbage_is_dropped() -> None:
    async def main() -> None:
        server = await started()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2)
        try:
            port = sock.getsockname()[1]
            bad = options(1, "UDP").replace(b"CSeq: 1 OPTIONS", b"CSeq: x")
            bad = bad.replace(b"3.80.16.26:5060;branch", f"127.0.0.1:{port};branch".encode())
            sock.sendto(b"\x16\x03\x01 not sip at all", ("127.0.0.1", server.sip_port))
            sock.sendto(bad, ("127.0.0.1", server.sip_port))
            data = await asyncio.to_thread(sock.recv, 65535)
        finally:
            sock.close()
            await server.close()
        resp = parse_message(data)
        assert isinstance(resp, SipResponse) and resp.status == 400
        assert server.core.malformed == 2

    asyncio.run(main())
