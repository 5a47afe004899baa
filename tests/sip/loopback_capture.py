"""A packet capture on the loopback interface (what tcpdump -i lo would see), for tests that
must show what crosses the wire. Linux AF_PACKET; needs CAP_NET_RAW (root), else it skips."""

from __future__ import annotations

import select
import socket
import struct
import threading
from dataclasses import dataclass, field

import pytest

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # each loopback packet is seen leaving and arriving: keep the arrival
ETH_HEADER = 14


@dataclass(frozen=True)
class Captured:
    protocol: str  # "udp" | "tcp"
    src_port: int
    dst_port: int
    payload: bytes


@dataclass
class LoopbackCapture:
    packets: list[Captured] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LoopbackCapture:
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except (PermissionError, AttributeError, OSError) as exc:
            pytest.skip(f"no packet capture on loopback here (needs Linux and CAP_NET_RAW): {exc}")
        sock.bind(("lo", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self, sock: socket.socket) -> None:
        with sock:
            while not self._stop.is_set():
                ready, _, _ = select.select([sock], [], [], 0.1)
                while ready:
                    try:
                        frame, addr = sock.recvfrom(65_535, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    if addr[2] != PACKET_OUTGOING:
                        self._keep(frame)

    def _keep(self, frame: bytes) -> None:
        ip = frame[ETH_HEADER:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            return
        header = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        body = ip[header:total]
        if ip[9] == 17 and len(body) >= 8:
            src, dst = struct.unpack_from("!HH", body)
            self.packets.append(Captured("udp", src, dst, bytes(body[8:])))
        elif ip[9] == 6 and len(body) >= 20:
            src, dst = struct.unpack_from("!HH", body)
            offset = (body[12] >> 4) * 4
            if len(body) > offset:
                self.packets.append(Captured("tcp", src, dst, bytes(body[offset:])))

    def udp(self, port: int) -> list[bytes]:
        """UDP payloads to or from ``port``."""
        return [p.payload for p in self.packets if p.protocol == "udp" and port in (p.src_port, p.dst_port)]

    def tcp_stream(self, port: int) -> bytes:
        """Every TCP byte to or from ``port``, both directions, in arrival order."""
        return b"".join(p.payload for p in self.packets if p.protocol == "tcp" and port in (p.src_port, p.dst_port))


RTP_HEADER = 12
SRTP_TAG = 10  # AES_CM_128_HMAC_SHA1_80
CLEAR_SILENCE = b"\xff" * 16  # a run of mu-law silence: what every idle clear frame carries


def assert_srtp_only(packets: list[bytes], clear_audio: list[bytes]) -> None:
    """Every packet is SRTP (a 10-byte tag after a 20 ms PCMU frame) and none carries a frame
    of ``clear_audio`` or clear silence. Decrypting is not needed: the keys never crossed."""
    assert len(packets) > 50, f"only {len(packets)} RTP packets captured"
    frames = {a[i : i + 160] for a in clear_audio for i in range(0, len(a) - 159, 160)}
    frames = {f for f in frames if f.strip(b"\xff\x7f")}  # spoken frames, not silence
    assert frames, "no clear audio to look for"
    for packet in packets:
        assert packet[0] >> 6 == 2 and len(packet) == RTP_HEADER + 160 + SRTP_TAG, f"not SRTP: {len(packet)} bytes"
        payload = packet[RTP_HEADER:]
        assert CLEAR_SILENCE not in payload, "a clear silence frame crossed the wire"
        assert payload[:160] not in frames, "a clear PCMU frame of the caller's speech crossed the wire"


def assert_sip_encrypted(stream: bytes) -> None:
    """The SIP over TLS stream: records, never a readable request, response or key."""
    assert stream, "no SIP over TLS captured"
    assert stream[0] == 0x16  # a TLS handshake record opens the connection
    for clear in (b"SIP/2.0", b"INVITE ", b"a=crypto", b"inline:", b"m=audio"):
        assert clear not in stream, f"{clear!r} crossed the wire in clear"
