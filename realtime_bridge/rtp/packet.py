"""RTP packets (RFC 3550 section 5.1): pure parse and build."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER_SIZE = 12
_HEADER = struct.Struct("!BBHII")


class RtpParseError(ValueError):
    """The bytes are not a valid RTP packet; the message says exactly why."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # (profile, data)
    padding: int = 0  # padding bytes stripped from the payload


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < HEADER_SIZE:
        raise RtpParseError(f"RTP packet too short: {len(data)} bytes, need at least {HEADER_SIZE}")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != RTP_VERSION:
        raise RtpParseError(f"unsupported RTP version {b0 >> 6}")
    offset = HEADER_SIZE
    cc = b0 & 0x0F
    if len(data) < offset + 4 * cc:
        raise RtpParseError(f"RTP packet truncated in CSRC list: {cc} CSRCs need {offset + 4 * cc} bytes")
    csrc = struct.unpack_from(f"!{cc}I", data, offset) if cc else ()
    offset += 4 * cc
    extension = None
    if b0 & 0x10:
        if len(data) < offset + 4:
            raise RtpParseError("RTP packet truncated in extension header")
        profile, words = struct.unpack_from("!HH", data, offset)
        end = offset + 4 + 4 * words
        if len(data) < end:
            raise RtpParseError(f"RTP extension needs {end} bytes, packet has {len(data)}")
        extension = (profile, bytes(data[offset + 4 : end]))
        offset = end
    end = len(data)
    padding = 0
    if b0 & 0x20:
        padding = data[-1]
        if padding == 0 or offset + padding > end:
            raise RtpParseError(f"invalid RTP padding length {padding}")
        end -= padding
    return RtpPacket(
        payload_type=b1 & 0x7F,
        sequence=seq,
        timestamp=ts,
        ssrc=ssrc,
        payload=bytes(data[offset:end]),
        marker=bool(b1 & 0x80),
        csrc=tuple(csrc),
        extension=extension,
        padding=padding,
    )


def build_rtp(packet: RtpPacket) -> bytes:
    cc = len(packet.csrc)
    if cc > 15:
        raise ValueError("at most 15 CSRCs")
    b0 = (RTP_VERSION << 6) | (0x20 if packet.padding else 0) | (0x10 if packet.extension else 0) | cc
    b1 = (0x80 if packet.marker else 0) | (packet.payload_type & 0x7F)
    out = bytearray(_HEADER.pack(b0, b1, packet.sequence & 0xFFFF, packet.timestamp & 0xFFFFFFFF, packet.ssrc))
    for c in packet.csrc:
        out += struct.pack("!I", c)
    if packet.extension is not None:
        profile, data = packet.extension
        if len(data) % 4:
            raise ValueError("extension data must be a multiple of 4 bytes")
        out += struct.pack("!HH", profile, len(data) // 4) + data
    out += packet.payload
    if packet.padding:
        out += bytes(packet.padding - 1) + bytes([packet.padding])
    return bytes(out)


def write_header(buf: bytearray, *, payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int) -> None:
    """Write a plain 12-byte header into a reused send buffer (the hot path: no allocation)."""
    _HEADER.pack_into(
        buf, 0, 0x80, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc
    )
