"""RTP and RFC 4733 DTMF on real bytes: sipp's PCMU stream and sip-tester's DTMF capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime_bridge.rtp.dtmf import (
    DtmfDigit,
    DtmfReceiver,
    TelephoneEvent,
    build_telephone_event,
    parse_telephone_event,
)
from realtime_bridge.rtp.packet import RtpPacket, RtpParseError, build_rtp, parse_rtp, write_header

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rtp"


def hex_packets(name: str) -> list[bytes]:
    lines = (FIXTURES / name).read_text().splitlines()
    return [bytes.fromhex(line) for line in lines if line and not line.startswith("#")]


PCMU = hex_packets("sipp_pcmu_stream.hex")
DTMF = hex_packets("dtmf_2833_digit1.hex")
TONE = (FIXTURES / "caller_tone.ulaw").read_bytes()


def test_sipp_pcmu_packets_parse() -> None:
    packets = [parse_rtp(p) for p in PCMU]
    first = packets[0]
    assert (first.payload_type, first.marker, first.ssrc, first.timestamp) == (0, False, 0xCA110000, 0x380)
    assert [p.sequence for p in packets] == [0, 1, 2]
    assert [p.timestamp - first.timestamp for p in packets] == [0, 160, 320]
    assert len({p.ssrc for p in packets}) == 1
    assert b"".join(p.payload for p in packets) == TONE[:480]  # the payload is the file, unchanged


@pytest.mark.parametrize("raw", PCMU + DTMF)
def test_round_trip_is_byte_for_byte(raw: bytes) -> None:
    assert build_rtp(parse_rtp(raw)) == raw


def test_dtmf_capture_parses() -> None:
    packets = [parse_rtp(p) for p in DTMF]
    assert {p.payload_type for p in packets} == {101}
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert len({p.timestamp for p in packets}) == 1  # one event: one timestamp
    events = [parse_telephone_event(p.payload) for p in packets]
    assert {e.event for e in events} == {1}
    assert [e.end for e in events] == [False] * 7 + [True] * 3
    assert [e.duration for e in events][:3] == [0, 320, 640] and events[-1].duration == 2240
    assert events[0].volume == 10


def test_dtmf_receiver_counts_the_triple_end_once() -> None:
    rx = DtmfReceiver()
    digits = [d for p in DTMF for d in rx.feed(parse_rtp(p))]
    assert digits == [DtmfDigit("1", 280)]


def test_dtmf_receiver_reports_an_event_whose_end_was_lost() -> None:
    rx = DtmfReceiver()

    def pkt(ts: int, event: int, end: bool, duration: int) -> RtpPacket:
        payload = build_telephone_event(TelephoneEvent(event, end, 10, duration))
        return RtpPacket(101, 1, ts, 7, payload)

    assert rx.feed(pkt(1000, 5, False, 160)) == []
    assert rx.feed(pkt(1000, 5, False, 320)) == []
    assert rx.feed(pkt(5000, 11, False, 160)) == [DtmfDigit("5", 40)]  # 5's end packets all lost
    assert rx.feed(pkt(5000, 11, True, 800)) == [DtmfDigit("#", 100)]
    assert rx.feed(pkt(5000, 11, True, 800)) == []
    assert rx.feed(pkt(9000, 200, True, 800)) == []  # not a DTMF event (e.g. a tone): ignored


def test_write_header_matches_build() -> None:
    buf = bytearray(12 + 160)
    write_header(buf, payload_type=0, marker=True, sequence=65535, timestamp=2**32 - 1, ssrc=0xDEADBEEF)
    buf[12:] = TONE[:160]
    expected = build_rtp(RtpPacket(0, 65535, 2**32 - 1, 0xDEADBEEF, TONE[:160], marker=True))
    assert bytes(buf) == expected


def test_header_extensions_csrc_and_padding() -> None:
    packet = RtpPacket(0, 9, 99, 1, b"abc", csrc=(5, 6), extension=(0xBEDE, b"\x01\x02\x03\x04"), padding=3)
    raw = build_rtp(packet)
    assert parse_rtp(raw) == packet


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "RTP packet too short: 0 bytes, need at least 12"),
        (PCMU[0][:11], "RTP packet too short: 11 bytes, need at least 12"),
        (b"\x40" + PCMU[0][1:], "unsupported RTP version 1"),
        (b"\x82" + PCMU[0][1:12] + b"\x00" * 4, "RTP packet truncated in CSRC list: 2 CSRCs need 20 bytes"),
        (b"\x90" + PCMU[0][1:12], "RTP packet truncated in extension header"),
        (b"\x90" + PCMU[0][1:12] + b"\xbe\xde\x00\x02\x00", "RTP extension needs 24 bytes, packet has 17"),
        (b"\xa0" + PCMU[0][1:12] + b"\x00", "invalid RTP padding length 0"),
        (b"\xa0" + PCMU[0][1:12] + b"\x05", "invalid RTP padding length 5"),
    ],
)
def test_exact_errors(raw: bytes, reason: str) -> None:
    with pytest.raises(RtpParseError) as info:
        parse_rtp(raw)
    assert str(info.value) == reason


def test_short_telephone_event_payload() -> None:
    with pytest.raises(RtpParseError, match="telephone-event payload too short: 3 bytes, need 4"):
        parse_telephone_event(b"\x01\x8a\x08")
