"""The SIP parser and serializer on Chime-style message bytes (tests/fixtures/sip/chime_*.sip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime_bridge.sip.fields import parse_cseq, parse_name_addr, parse_uri, parse_via
from realtime_bridge.sip.framing import StreamFramer
from realtime_bridge.sip.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_message,
    serialize,
)
from realtime_bridge.sip.sdp import SdpError, build_answer, parse_offer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sip"
NAMES = ["chime_invite", "chime_ack", "chime_bye", "chime_cancel", "chime_options"]


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.sip").read_bytes()


def test_chime_invite_fields() -> None:
    msg = parse_message(fixture("chime_invite"))
    assert isinstance(msg, SipRequest)
    assert msg.method == "INVITE"
    assert msg.uri == "sip:+15557654321@203.0.113.10:5060;transport=tcp"
    assert msg.headers.get("x-voiceconnector-id") == "abcdefghijklmnop0123456789"
    assert msg.headers.get("User-Agent") == "VineProx"
    assert msg.headers.values("record-route") == ["<sip:3.80.16.26;transport=tcp;lr>"]
    via = parse_via(msg.headers.values("via")[0])
    assert (via.transport, via.host, via.port) == ("TCP", "3.80.16.26", 5060)
    assert via.branch == "z9hG4bK1a9f.5c1d0e7b2f6a0c8e1d3b4a5f6e7d8c9b.0"
    frm = parse_name_addr(msg.headers.get("from") or "")
    assert frm.uri == "sip:+15551230000@3.80.16.26:5060" and frm.tag == "as7d1e9c2f"
    assert parse_name_addr(msg.headers.get("to") or "").tag is None
    assert parse_cseq(msg.headers.get("cseq")) == (parse_cseq("102 INVITE"))
    assert len(msg.body) == int(msg.headers.get("content-length") or -1)
    offer = parse_offer(msg.body)
    assert (offer.address, offer.port) == ("52.55.62.140", 18052)
    assert offer.payload_types == (0, 101) and offer.telephone_event_pt == 101 and offer.ptime == 20


@pytest.mark.parametrize(
    ("name", "method"),
    [("chime_ack", "ACK"), ("chime_bye", "BYE"), ("chime_cancel", "CANCEL"), ("chime_options", "OPTIONS")],
)
def test_other_requests_parse(name: str, method: str) -> None:
    msg = parse_message(fixture(name))
    assert isinstance(msg, SipRequest) and msg.method == method
    assert msg.body == b"" and msg.headers.get("content-length") == "0"
    assert parse_cseq(msg.headers.get("cseq")).method == method


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_is_byte_for_byte(name: str) -> None:
    raw = fixture(name)
    assert serialize(parse_message(raw)) == raw


def test_response_round_trip_and_fields() -> None:
    raw = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport=5060\r\n"
        b"Call-ID: a@b\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    assert isinstance(msg, SipResponse) and (msg.status, msg.reason) == (200, "OK")
    assert serialize(msg) == raw


def test_compact_header_names_are_understood() -> None:
    raw = (
        b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\n"
        b"t: <sip:a@b>\r\ni: cid\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    assert msg.headers.get("Call-ID") == "cid" and msg.headers.get("via") == "SIP/2.0/UDP h;branch=z9hG4bK1"
    assert serialize(msg) == raw


def test_folded_header_is_unfolded() -> None:
    raw = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: one\r\n two\r\nContent-Length: 0\r\n\r\n"
    assert parse_message(raw).headers.get("subject") == "one two"


def test_comma_separated_via_values_split() -> None:
    raw = b'BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP "b,c";x\r\nl: 0\r\n\r\n'
    assert parse_message(raw).headers.values("via") == ["SIP/2.0/UDP a;branch=z9hG4bK1", 'SIP/2.0/TCP "b,c";x']


INVITE = (FIXTURES / "chime_invite.sip").read_bytes()
HEAD_END = INVITE.index(b"\r\n\r\n")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty message"),
        (b"\r\n\r\n", "empty message"),
        (INVITE[:HEAD_END], "truncated headers: no blank line after the header section"),
        (INVITE[:40], "truncated headers: no blank line after the header section"),
        (INVITE[: HEAD_END + 4 + 50], "truncated body: Content-Length is 256, got 50 bytes"),
        (INVITE[: HEAD_END + 4], "truncated body: Content-Length is 256, got 0 bytes"),
        (b"INVITE sip:a@b\r\n\r\n", "malformed start line: 'INVITE sip:a@b'"),
        (b"INVITE sip:a@b SIP/3.0\r\n\r\n", "unsupported SIP version: 'SIP/3.0'"),
        (b"SIP/2.0 2000 OK\r\n\r\n", "invalid status code: '2000'"),
        (b"INV(TE sip:a@b SIP/2.0\r\n\r\n", "invalid method: 'INV(TE'"),
        (b"BYE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", "malformed header at line 2: 'no colon here'"),
        (b"BYE sip:a@b SIP/2.0\r\n folded\r\n\r\n", "continuation line before any header at line 2"),
        (b"BYE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length: '-1'"),
        (b"BYE sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n", "header section is not UTF-8 at byte 24"),
    ],
)
def test_exact_errors(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.reason == reason


def test_invite_byte_count_in_error_matches_fixture() -> None:
    # guards the expected strings above: the fixture's Content-Length is what they quote
    assert parse_message(INVITE).headers.get("content-length") == "256"


def test_stream_framing_several_messages_and_partial_reads() -> None:
    stream = fixture("chime_invite") + b"\r\n" + fixture("chime_cancel") + fixture("chime_bye")
    framer = StreamFramer()
    assert framer.feed(stream) == [fixture("chime_invite"), fixture("chime_cancel"), fixture("chime_bye")]
    framer = StreamFramer()
    got: list[bytes] = []
    for i in range(0, len(stream), 7):  # every split point, 7 bytes at a time
        got += framer.feed(stream[i : i + 7])
    assert got == [fixture("chime_invite"), fixture("chime_cancel"), fixture("chime_bye")]
    assert framer.pending == 0
    partial = StreamFramer()
    assert partial.feed(INVITE[:-10]) == []
    assert partial.pending == len(INVITE) - 10
    assert partial.feed(INVITE[-10:]) == [INVITE]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", "missing Content-Length on a stream transport"),
        (b"BYE sip:a@b SIP/2.0\r\nl: ten\r\n\r\n", "invalid Content-Length: 'ten'"),
        (b"X" * 70_000, "header section exceeds 65535 bytes"),
    ],
)
def test_stream_framing_errors(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        StreamFramer().feed(data)
    assert info.value.reason == reason


def test_uri_and_via_details() -> None:
    uri = parse_uri("sip:+1555@[2001:db8::1]:5070;transport=TCP;lr")
    assert (uri.user, uri.host, uri.port, uri.transport) == ("+1555", "2001:db8::1", 5070, "TCP")
    assert parse_via("SIP/2.0/UDP 1.2.3.4;rport;branch=z9hG4bKa").params == {"rport": None, "branch": "z9hG4bKa"}
    with pytest.raises(SipParseError, match="invalid Via port"):
        parse_via("SIP/2.0/UDP 1.2.3.4:99999")


def test_sdp_answer_for_chime_offer() -> None:
    offer = parse_offer(parse_message(INVITE).body)
    answer = build_answer(address="198.51.100.7", port=10002, session_id=42, version=1, offer=offer)
    assert answer.decode().split("\r\n") == [
        "v=0",
        "o=- 42 1 IN IP4 198.51.100.7",
        "s=-",
        "c=IN IP4 198.51.100.7",
        "t=0 0",
        "m=audio 10002 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=sendrecv",
        "",
    ]


@pytest.mark.parametrize(
    ("sdp", "reason"),
    [
        (b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 8\r\n", "PCMU (payload type 0) not offered"),
        (b"v=0\r\nc=IN IP4 1.2.3.4\r\n", "no audio m= line"),
        (b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", "no c= connection address"),
        (b"v=0\r\nm=audio x RTP/AVP 0\r\n", "malformed m= line: 'audio x RTP/AVP 0'"),
    ],
)
def test_sdp_offer_errors(sdp: bytes, reason: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_offer(sdp)
    assert str(info.value) == reason


def test_media_level_connection_wins_and_hold_direction() -> None:
    sdp = b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 2.2.2.2\r\na=sendonly\r\n"
    offer = parse_offer(sdp)
    assert offer.address == "2.2.2.2" and offer.telephone_event_pt is None and offer.direction == "sendonly"
    answer = build_answer(address="9.9.9.9", port=5, session_id=1, version=2, offer=offer).decode()
    assert "m=audio 5 RTP/AVP 0\r\n" in answer and "a=recvonly" in answer and "telephone-event" not in answer
