"""The sans-I/O UAS core, driven by Chime-style bytes and a fake clock (no sockets)."""

from __future__ import annotations

import itertools
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.call_state import CallEvent, CallState, next_state
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.events import (
    CallAnswered,
    CallEnded,
    CallOffered,
    EndReason,
    MediaUpdated,
    Output,
    Transmit,
)
from realtime_bridge.sip.fields import parse_name_addr, parse_via
from realtime_bridge.sip.message import SipRequest, SipResponse, parse_message
from realtime_bridge.sip.sdp import parse_offer
from realtime_bridge.sip.uas import UasCore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sip"
VC = "abcdefghijklmnop0123456789"
CALL_ID = "b3f0c9b2-4c1e-4d0e-9c57-2f1d1c8a5e31"
CHIME_TCP = Peer("3.80.16.26", 41234, "tcp", conn_id=7)
CHIME_UDP = Peer("3.80.16.26", 5060, "udp")


def raw(name: str, *, udp: bool = False, tag: str = "") -> bytes:
    data = (FIXTURES / f"{name}.sip").read_bytes().replace(b"TOTAG", tag.encode())
    if udp:
        data = data.replace(b"SIP/2.0/TCP", b"SIP/2.0/UDP").replace(b";transport=tcp", b"")
    return data


def core(**overrides: object) -> UasCore:
    cfg = {"voice_connector_id": VC, "production": True, "t1": 0.5, "t2": 4.0}
    cfg.update(overrides)
    return UasCore(SipConfig.model_validate(cfg), contact_host="198.51.100.7", contact_port=5060)


def sent(outputs: list[Output]) -> list[tuple[SipRequest | SipResponse, Peer]]:
    out = []
    for o in outputs:
        if isinstance(o, Transmit):
            out.append((parse_message(o.data), o.dest))
    return out


def statuses(outputs: list[Output]) -> list[int | str]:
    return [m.status if isinstance(m, SipResponse) else m.method for m, _ in sent(outputs)]


def events(outputs: list[Output]) -> list[Output]:
    return [o for o in outputs if not isinstance(o, Transmit)]


def offered(uas: UasCore, *, udp: bool = False, now: float = 0.0) -> tuple[list[Output], str]:
    out = uas.receive(raw("chime_invite", udp=udp), CHIME_UDP if udp else CHIME_TCP, now)
    ringing = next(m for m, _ in sent(out) if isinstance(m, SipResponse) and m.status == 180)
    return out, parse_name_addr(ringing.headers.get("to") or "").tag or ""


def answered(uas: UasCore, *, udp: bool = False) -> tuple[list[Output], str]:
    _, tag = offered(uas, udp=udp)
    return uas.answer(CALL_ID, 10002, 0.1), tag


def test_invite_gets_100_180_and_an_offer_event() -> None:
    uas = core()
    out, tag = offered(uas)
    (trying, d1), (ringing, d2) = sent(out)
    assert isinstance(trying, SipResponse) and trying.status == 100
    assert parse_name_addr(trying.headers.get("to") or "").tag is None
    assert isinstance(ringing, SipResponse) and ringing.status == 180 and tag
    assert ringing.headers.get_all("record-route") == ["<sip:3.80.16.26;transport=tcp;lr>"]
    assert ringing.headers.get("contact") == "<sip:+15557654321@198.51.100.7:5060;transport=tcp>"
    assert d1 == d2 == CHIME_TCP  # replies ride the connection the INVITE came in on
    (event,) = events(out)
    assert isinstance(event, CallOffered)
    call = event.call
    assert (call.call_id, call.voice_connector_id) == (CALL_ID, VC)
    assert call.caller == "sip:+15551230000@3.80.16.26:5060"
    assert (call.caller_number, call.callee_number) == ("+15551230000", "+15557654321")
    assert (call.remote_media.address, call.remote_media.port) == ("52.55.62.140", 18052)
    assert uas.state(CALL_ID) is CallState.OFFERED and uas.active_calls == 1


@pytest.mark.parametrize(
    ("request_line", "dialled"),
    [
        (b"INVITE sip:+12065550101@203.0.113.10:5060;transport=tcp SIP/2.0", "+12065550101"),  # Request-URI wins
        (b"INVITE sip:203.0.113.10:5060;transport=tcp SIP/2.0", "+15557654321"),  # no user part: To's
    ],
)
def test_the_dialled_number_is_the_request_uri_user_falling_back_to_to(request_line: bytes, dialled: str) -> None:
    """Routing reads the number from where the Voice Connector sends the call, not from To alone."""
    data = raw("chime_invite").replace(b"INVITE sip:+15557654321@203.0.113.10:5060;transport=tcp SIP/2.0", request_line)
    (event,) = events(core().receive(data, CHIME_TCP, 0.0))
    assert isinstance(event, CallOffered) and event.call.dialled_number == dialled


def test_answer_sends_200_with_sdp_and_dialog_headers() -> None:
    uas = core()
    out, tag = answered(uas)
    ((ok, dest),) = sent(out)
    assert isinstance(ok, SipResponse) and ok.status == 200 and dest == CHIME_TCP
    assert ok.headers.get("content-type") == "application/sdp"
    assert ok.headers.get_all("record-route") == ["<sip:3.80.16.26;transport=tcp;lr>"]
    assert parse_name_addr(ok.headers.get("to") or "").tag == tag
    answer = parse_offer(ok.body)
    assert (answer.address, answer.port, answer.payload_types, answer.ptime) == (
        "198.51.100.7",
        10002,
        (0, 101),
        20,
    )
    assert uas.state(CALL_ID) is CallState.ANSWERING


def test_200_retransmitted_with_timer_g_until_ack() -> None:
    uas = core()
    answered(uas, udp=True)
    resent = []
    now = 0.1
    while now < 6.0:
        now = uas.next_deadline() or 99
        if statuses(uas.on_timer(now)) == [200]:
            resent.append(round(now - 0.1, 3))
    assert resent == [0.5, 1.5, 3.5, 7.5]  # T1, then doubling up to T2
    ack = raw("chime_ack", udp=True, tag=uas._calls[CALL_ID].local_tag)
    out = uas.receive(ack, CHIME_UDP, now)
    assert events(out) == [CallAnswered(CALL_ID)]
    assert uas.state(CALL_ID) is CallState.CONFIRMED
    assert uas.on_timer(now + 10) == []  # no more retransmissions
    assert uas.receive(ack, CHIME_UDP, now + 11) == []  # a retransmitted ACK is absorbed


def test_intervals_cap_at_t2_and_timer_h_ends_the_call_with_bye() -> None:
    uas = core()
    answered(uas)  # TCP: the 2xx is still retransmitted by the UA core
    times, out = [], []
    while True:
        deadline = uas.next_deadline()
        assert deadline is not None
        out = uas.on_timer(deadline)
        if events(out):
            break
        times.append(deadline)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert gaps[:3] == [1.0, 2.0, 4.0] and set(gaps[3:]) == {4.0}
    assert events(out) == [CallEnded(CALL_ID, EndReason.ACK_TIMEOUT)]
    ((bye, dest),) = sent(out)
    assert isinstance(bye, SipRequest) and bye.method == "BYE"
    assert dest == Peer("3.80.16.26", 5060, "tcp", 7)


def test_retransmitted_invite_gets_the_latest_response_again() -> None:
    uas = core()
    offered(uas, udp=True)
    assert statuses(uas.receive(raw("chime_invite", udp=True), CHIME_UDP, 0.05)) == [180]
    uas.answer(CALL_ID, 10002, 0.1)
    assert statuses(uas.receive(raw("chime_invite", udp=True), CHIME_UDP, 0.2)) == [200]
    assert uas.active_calls == 1


def test_cancel_before_answer_gets_200_and_487_and_ack_stops_it() -> None:
    uas = core()
    offered(uas, udp=True)
    out = uas.receive(raw("chime_cancel", udp=True), CHIME_UDP, 0.2)
    assert statuses(out) == [200, 487]
    assert events(out) == [CallEnded(CALL_ID, EndReason.CANCELLED)]
    assert uas.active_calls == 0
    assert statuses(uas.on_timer(0.7)) == [487]  # unacknowledged 487 is retransmitted (UDP)
    ack = raw("chime_invite", udp=True).split(b"\r\n\r\n")[0].replace(b"INVITE sip", b"ACK sip")
    ack = ack.replace(b"CSeq: 102 INVITE", b"CSeq: 102 ACK").replace(b"Content-Type: application/sdp\r\n", b"")
    ack = ack.split(b"Content-Length")[0] + b"Content-Length: 0\r\n\r\n"
    assert uas.receive(ack, CHIME_UDP, 0.8) == []
    assert uas.next_deadline() is None or statuses(uas.on_timer(uas.next_deadline() or 0)) == []
    assert uas.answer(CALL_ID, 10002, 1.0) == []  # the handler answering late changes nothing


def test_cancel_after_answer_leaves_the_call_up() -> None:
    uas = core()
    answered(uas)
    assert statuses(uas.receive(raw("chime_cancel"), CHIME_TCP, 0.2)) == [200]
    assert uas.state(CALL_ID) is CallState.ANSWERING


def test_cancel_for_unknown_transaction_gets_481() -> None:
    assert statuses(core().receive(raw("chime_cancel"), CHIME_TCP, 0)) == [481]


def test_bye_from_caller_ends_the_call_once() -> None:
    uas = core()
    _, tag = answered(uas, udp=True)
    uas.receive(raw("chime_ack", udp=True, tag=tag), CHIME_UDP, 0.2)
    out = uas.receive(raw("chime_bye", udp=True, tag=tag), CHIME_UDP, 1.0)
    assert statuses(out) == [200]
    assert events(out) == [CallEnded(CALL_ID, EndReason.REMOTE_BYE)]
    again = uas.receive(raw("chime_bye", udp=True, tag=tag), CHIME_UDP, 1.5)
    assert statuses(again) == [200] and events(again) == []  # retransmission: same answer, no event
    assert uas.active_calls == 0


def test_bye_for_unknown_dialog_gets_481() -> None:
    assert statuses(core().receive(raw("chime_bye", tag="nope"), CHIME_TCP, 0)) == [481]


def test_hang_up_sends_bye_through_the_record_route() -> None:
    uas = core()
    _, tag = answered(uas)
    uas.receive(raw("chime_ack", tag=tag), CHIME_TCP, 0.2)
    out = uas.hang_up(CALL_ID, 1.0)
    ((bye, dest),) = sent(out)
    assert isinstance(bye, SipRequest) and bye.method == "BYE"
    assert bye.uri == "sip:+15551230000@3.80.16.26:5060;transport=tcp"  # remote target: Contact
    assert bye.headers.get_all("route") == ["<sip:3.80.16.26;transport=tcp;lr>"]
    assert parse_name_addr(bye.headers.get("from") or "").tag == tag
    assert parse_name_addr(bye.headers.get("to") or "").tag == "as7d1e9c2f"
    assert dest == Peer("3.80.16.26", 5060, "tcp", 7)
    assert uas.state(CALL_ID) is CallState.ENDING
    branch = parse_via(bye.headers.get("via") or "").branch
    ok = (
        f"SIP/2.0 200 OK\r\nVia: {bye.headers.get('via')}\r\nFrom: {bye.headers.get('from')}\r\n"
        f"To: {bye.headers.get('to')}\r\nCall-ID: {CALL_ID}\r\nCSeq: {bye.headers.get('cseq')}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    assert branch and events(uas.receive(ok, CHIME_TCP, 1.1)) == [CallEnded(CALL_ID, EndReason.LOCAL_BYE)]
    assert uas.state(CALL_ID) is None


def test_bye_over_udp_is_retransmitted_then_given_up() -> None:
    uas = core()
    _, tag = answered(uas, udp=True)
    uas.receive(raw("chime_ack", udp=True, tag=tag), CHIME_UDP, 0.2)
    uas.hang_up(CALL_ID, 1.0)
    kinds: list[int | str] = []
    ended: list[Output] = []
    while not ended:
        out = uas.on_timer(uas.next_deadline() or 0)
        kinds += statuses(out)
        ended = events(out)
    assert set(kinds) == {"BYE"} and len(kinds) >= 5
    assert ended == [CallEnded(CALL_ID, EndReason.LOCAL_BYE)]


def test_hang_up_before_ack_waits_for_the_ack() -> None:
    uas = core()
    _, tag = answered(uas)
    assert uas.hang_up(CALL_ID, 0.15) == []
    out = uas.receive(raw("chime_ack", tag=tag), CHIME_TCP, 0.2)
    assert statuses(out) == ["BYE"] and events(out) == [CallAnswered(CALL_ID)]


def test_reject_and_hang_up_before_answer() -> None:
    uas = core()
    offered(uas)
    out = uas.reject(CALL_ID, 603, 0.1)
    assert statuses(out) == [603] and events(out) == [CallEnded(CALL_ID, EndReason.REJECTED)]
    uas2 = core()
    offered(uas2)
    assert statuses(uas2.hang_up(CALL_ID, 0.1)) == [480]


def test_options_200_when_healthy_503_when_draining_and_invites_refused() -> None:
    uas = core()
    out = uas.receive(raw("chime_options", udp=True), CHIME_UDP, 0)
    ((ok, dest),) = sent(out)
    assert isinstance(ok, SipResponse) and ok.status == 200 and "INVITE" in (ok.headers.get("allow") or "")
    via = parse_via(ok.headers.get("via") or "")
    assert via.params["rport"] == "5060" and dest == CHIME_UDP
    uas.start_draining()
    options = raw("chime_options", udp=True).replace(b"z9hG4bK4c2e", b"z9hG4bK4c2f")
    assert statuses(uas.receive(options, CHIME_UDP, 1)) == [503]
    assert statuses(uas.receive(raw("chime_invite"), CHIME_TCP, 1)) == [503]


def test_draining_keeps_the_active_call() -> None:
    uas = core()
    _, tag = answered(uas)
    uas.start_draining()
    assert events(uas.receive(raw("chime_ack", tag=tag), CHIME_TCP, 0.2)) == [CallAnswered(CALL_ID)]
    assert statuses(uas.receive(raw("chime_bye", tag=tag), CHIME_TCP, 1)) == [200]


def test_udp_response_goes_to_received_address_and_via_port_without_rport() -> None:
    uas = core()
    src = Peer("3.80.16.99", 40000, "udp")  # e.g. behind NAT: source differs from Via sent-by
    options = raw("chime_options", udp=True).replace(b";rport", b"")
    ((ok, dest),) = sent(uas.receive(options, src, 0))
    assert parse_via(ok.headers.get("via") or "").params["received"] == "3.80.16.99"
    assert dest == Peer("3.80.16.99", 5060, "udp")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda b: b.replace(VC.encode(), b"some-other-connector-id00"), 403),
        (lambda b: b.replace(b"X-VoiceConnector-ID: ", b"X-Other: "), 403),
        (lambda b: b.replace(b"RTP/AVP 0 101", b"RTP/AVP 8 101").replace(b"0 PCMU", b"8 PCMA"), 488),
        # RFC 3261 8.1.1.8: one SIP Contact; our BYE follows it and the Record-Route, so both must be SIP
        (lambda b: b.replace(b"Contact: <sip:+15551230000@3.80.16.26:5060;transport=tcp>\r\n", b""), 400),
        (lambda b: b.replace(b"Record-Route: <sip:3.80.16.26;transport=tcp;lr>", b"Record-Route: <tel:+1555>"), 400),
        (lambda b: b.replace(b"Content-Type: application/sdp", b"Content-Type: application/x-unknown"), 415),
        (lambda b: b.replace(b"User-Agent: VineProx", b"Require: 100rel"), 420),
    ],
)
def test_invite_refusals(change, status: int) -> None:  # type: ignore[no-untyped-def]
    uas = core()
    out = uas.receive(change(raw("chime_invite")), CHIME_TCP, 0)
    assert statuses(out) == [status] and events(out) == [] and uas.active_calls == 0


def test_voice_connector_check_can_be_turned_off() -> None:
    uas = core(check_voice_connector_id=False, voice_connector_id=None)
    assert statuses(offered(uas)[0]) == [100, 180]


def test_max_calls_gets_486() -> None:
    uas = core(max_calls=1)
    offered(uas)
    second = raw("chime_invite").replace(CALL_ID.encode(), b"another-call-id").replace(b"bK1a9f.5c", b"bK1a9f.6c")
    assert statuses(uas.receive(second, CHIME_TCP, 0.1)) == [486]
    assert uas.active_calls == 1


def test_unlisted_source_is_dropped_silently() -> None:
    uas = core(allowed_sources=[IPv4Network("99.77.254.0/24")])
    assert uas.receive(raw("chime_invite"), CHIME_TCP, 0) == []
    assert uas.dropped_unlisted == 1
    default = core()  # production default: Chime's published ranges (3.80.16.0/23 is one)
    assert statuses(default.receive(raw("chime_invite"), CHIME_TCP, 0)) == [100, 180]
    assert default.receive(raw("chime_options"), Peer("203.0.113.66", 5060, "udp"), 0) == []


def test_malformed_messages_get_400_or_are_dropped_and_calls_carry_on() -> None:
    uas = core()
    _, tag = answered(uas)
    no_cseq = raw("chime_options").replace(b"CSeq: 1 OPTIONS\r\n", b"CSeq: one OPTIONS\r\n")
    ((bad, _),) = sent(uas.receive(no_cseq, CHIME_TCP, 0.2))
    assert isinstance(bad, SipResponse) and bad.status == 400
    assert bad.headers.get("warning") == "399 bridge \"malformed CSeq: 'one OPTIONS'\""
    truncated = raw("chime_invite")[:-30].replace(b"Call-ID: b3f", b"Call-ID: zzz")
    assert statuses(uas.receive(truncated, CHIME_TCP, 0.3)) == [400]
    assert uas.receive(b"\x00\xff garbage", CHIME_TCP, 0.3) == []
    assert uas.receive(b"SIP/2.0 200 OK\r\n\r\n", CHIME_TCP, 0.3) == []  # no reply to a response
    assert uas.malformed == 4
    assert events(uas.receive(raw("chime_ack", tag=tag), CHIME_TCP, 0.4)) == [CallAnswered(CALL_ID)]
    assert events(uas.receive(raw("chime_bye", tag=tag), CHIME_TCP, 0.5)) == [CallEnded(CALL_ID, EndReason.REMOTE_BYE)]


def _reinvite(tag: str, body: bytes, branch: bytes = b"re1") -> bytes:
    invite = raw("chime_invite").replace(
        b"To: <sip:+15557654321@203.0.113.10:5060>", b"To: <sip:+15557654321@203.0.113.10:5060>;tag=" + tag.encode()
    )
    invite = invite.replace(b"CSeq: 102 INVITE", b"CSeq: 104 INVITE").replace(b"bK1a9f.5c", b"bK" + branch)
    head = invite.split(b"\r\n\r\n")[0].split(b"Content-Length")[0]
    if not body:
        head = head.replace(b"Content-Type: application/sdp\r\n", b"")
    return head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_reinvite_moves_media_and_is_answered_sanely() -> None:
    uas = core()
    _, tag = answered(uas)
    uas.receive(raw("chime_ack", tag=tag), CHIME_TCP, 0.2)
    sdp = parse_message(raw("chime_invite")).body
    moved = sdp.replace(b"52.55.62.140", b"52.55.63.10").replace(b"18052", b"18060").replace(b"sendrecv", b"sendonly")
    out = uas.receive(_reinvite(tag, moved), CHIME_TCP, 1.0)
    ((ok, _),) = sent(out)
    assert isinstance(ok, SipResponse) and ok.status == 200
    answer = parse_offer(ok.body)
    assert answer.port == 10002 and answer.direction == "recvonly"
    assert b"o=- " in ok.body and b" 2 IN IP4" in ok.body  # version bumped: the answer changed
    (moved_event,) = events(out)
    assert isinstance(moved_event, MediaUpdated) and moved_event.remote_media.port == 18060
    ack = raw("chime_ack", tag=tag).replace(b"CSeq: 102 ACK", b"CSeq: 104 ACK")
    assert uas.receive(ack, CHIME_TCP, 1.1) == []
    out = uas.receive(_reinvite(tag, b"", b"re2"), CHIME_TCP, 2.0)  # no SDP: our offer in the 200
    assert statuses(out) == [200] and parse_offer(sent(out)[0][0].body).port == 10002
    assert uas.state(CALL_ID) is CallState.CONFIRMED


def test_unknown_method_gets_405() -> None:
    info = raw("chime_options").replace(b"OPTIONS sip", b"INFO sip").replace(b"1 OPTIONS", b"1 INFO")
    ((resp, _),) = sent(core().receive(info, CHIME_TCP, 0))
    assert isinstance(resp, SipResponse) and resp.status == 405 and resp.headers.get("allow")


def test_ack_on_a_new_tcp_connection_confirms_the_call() -> None:
    # Chime sends the ACK on a fresh TCP connection: dialogs match on Call-ID and tags, not sockets
    uas = core()
    _, tag = answered(uas)
    fresh = Peer("3.80.16.26", 50111, "tcp", conn_id=8)
    assert events(uas.receive(raw("chime_ack", tag=tag), fresh, 0.3)) == [CallAnswered(CALL_ID)]


def test_state_table_refuses_what_it_does_not_list() -> None:
    assert next_state(CallState.OFFERED, CallEvent.ANSWER) is CallState.ANSWERING
    assert next_state(CallState.CONFIRMED, CallEvent.ANSWER) is None
    assert next_state(CallState.ENDED, CallEvent.BYE_IN) is None
    uas = core()
    _, tag = answered(uas)
    uas.receive(raw("chime_ack", tag=tag), CHIME_TCP, 0.2)
    assert uas.answer(CALL_ID, 10004, 0.3) == []  # answering twice is ignored, not a crash


def test_contact_can_name_the_load_balancer_while_sdp_names_the_task() -> None:
    uas = UasCore(
        SipConfig(voice_connector_id=VC),
        contact_host="sip-nlb.example.com",
        contact_port=5060,
        media_host="198.51.100.7",
    )
    uas.receive(raw("chime_invite"), CHIME_TCP, 0)
    ((ok, _),) = sent(uas.answer(CALL_ID, 10002, 0.1))
    assert ok.headers.get("contact") == "<sip:+15557654321@sip-nlb.example.com:5060;transport=tcp>"
    assert parse_offer(ok.body).address == "198.51.100.7"


def test_a_reused_branch_is_a_new_transaction_only_when_the_request_differs() -> None:
    uas = core()
    options = raw("chime_options")
    first = sent(uas.receive(options, CHIME_UDP, 0))[0][0]
    again = sent(uas.receive(options, CHIME_UDP, 0.1))[0][0]  # a retransmission: the same answer
    assert again.headers.get("to") == first.headers.get("to")
    other = options.replace(b"CSeq: 1 OPTIONS", b"CSeq: 2 OPTIONS")  # same branch, new request
    fresh = sent(uas.receive(other, CHIME_UDP, 0.2))[0][0]
    assert fresh.headers.get("cseq") == "2 OPTIONS" and fresh.headers.get("to") != first.headers.get("to")
