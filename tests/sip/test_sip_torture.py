"""The RFC 4475 and RFC 5118 torture messages against the parser and the sans-I/O UAS.

Every fixture has one row in ``torture_table.TABLE`` with the answer the RFCs call for; the
over-the-wire version (a running server with a call up) is in test_sip_torture_udp.py.
"""

from __future__ import annotations

import pytest

from realtime_bridge.sip.build import Peer, scan_request
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.events import CallOffered, Output, Transmit
from realtime_bridge.sip.fields import parse_cseq, parse_name_addr, parse_uri, parse_via
from realtime_bridge.sip.framing import StreamFramer
from realtime_bridge.sip.message import SipParseError, SipRequest, SipResponse, parse_message
from realtime_bridge.sip.uas import UasCore
from realtime_bridge.sip.validate import check_well_formed
from tests.sip.torture_table import CALL, FIXTURES, TABLE, Torture

SOURCE = Peer("198.51.100.20", 40404, "udp")
ROWS = {row.name: row for row in TABLE}


def local_core() -> UasCore:
    """The UAS as ``voice-agent serve --local`` runs it: every source, no connector-ID check."""
    return UasCore(SipConfig(), contact_host="198.51.100.7", contact_port=5060)


def replies(outputs: list[Output]) -> list[tuple[SipResponse, Peer]]:
    out = []
    for o in outputs:
        if isinstance(o, Transmit):
            message = parse_message(o.data)
            assert isinstance(message, SipResponse), "the UAS sent a request"
            out.append((message, o.dest))
    return out


def request(row: Torture) -> SipRequest:
    message = parse_message(row.data)
    assert isinstance(message, SipRequest)
    return message


def test_the_table_covers_every_fixture_once() -> None:
    on_disk = {p.name for suite in ("rfc4475", "rfc5118") for p in (FIXTURES / suite).iterdir()}
    assert sorted(on_disk) == sorted(row.name for row in TABLE)
    assert len([r for r in TABLE if r.suite == "rfc4475"]) == 49 and len(TABLE) == 61


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.name)
def test_uas_answers_each_torture_message_as_the_rfc_says(row: Torture) -> None:
    uas = local_core()
    outputs = uas.receive(row.data, SOURCE, 0.0)
    got = replies(outputs)
    offers = [o for o in outputs if isinstance(o, CallOffered)]
    if row.outcome is None:
        assert outputs == []
        return
    if row.outcome == CALL:
        assert [r.status for r, _ in got] == [100, 180] and len(offers) == 1 and uas.active_calls == 1
        return
    assert [r.status for r, _ in got] == [row.outcome], got[0][0].headers.get("warning") if got else None
    assert offers == [] and uas.active_calls == 0  # a refused request never starts a call
    response, dest = got[0]
    assert dest.host == SOURCE.host and dest.transport == "udp"  # always back where it came from
    sent = scan_request(row.data)
    assert sent is not None
    for name in ("call-id", "cseq", "from"):  # echoed as sent (RFC 3261 8.2.6.2)
        assert response.headers.get(name) == sent.headers.get(name)


def test_refusals_carry_the_headers_that_say_what_would_work() -> None:
    def answer(name: str) -> SipResponse:
        ((resp, _),) = replies(local_core().receive(ROWS[name].data, SOURCE, 0.0))
        return resp

    assert answer("bext01.dat").headers.get("unsupported") == "nothingSupportsThis, nothingSupportsThisEither"
    invut = answer("invut.dat")
    assert invut.headers.get("accept") == "application/sdp" and invut.headers.get("accept-encoding") == "identity"
    for name in ("intmeth.dat", "esc02.dat", "escnull.dat", "mpart01.dat"):  # 501 and 405
        assert answer(name).headers.get("allow") == "INVITE, ACK, BYE, CANCEL, OPTIONS"
    bad = answer("insuf.dat")
    assert bad.headers.get("warning") == '399 bridge "missing To, From, Call-ID, Max-Forwards"'
    assert bad.headers.get("cseq") == "193942 INVITE"
    assert answer("badvers.dat").reason == "Version Not Supported"


@pytest.mark.parametrize(
    ("name", "port"),
    [
        ("zeromf.dat", 5060),  # no port in sent-by: the default
        ("quotbal.dat", 5050),  # the sent-by port
        ("ipv4-mapped-ipv6", 19823),  # an IPv6 sent-by with a port
        ("mpart01.dat", SOURCE.port),  # rport: the source port (RFC 3581)
        ("badinv01.dat", SOURCE.port),  # a Via too broken to read: the source port
    ],
)
def test_udp_replies_follow_rfc_3261_18_2_2_and_rfc_3581(name: str, port: int) -> None:
    ((resp, dest),) = [r for r in replies(local_core().receive(ROWS[name].data, SOURCE, 0.0)) if r[0].status >= 200]
    assert (dest.host, dest.port) == (SOURCE.host, port)
    top = resp.headers.values("via")[0]
    if name != "badinv01.dat":  # echoed as it came when unreadable
        via = parse_via(top)
        assert via.params["received"] == SOURCE.host
        assert via.params.get("rport", str(SOURCE.port)) == str(SOURCE.port)


@pytest.mark.parametrize("row", [r for r in TABLE if r.valid], ids=lambda row: row.name)
def test_what_the_rfc_calls_valid_parses(row: Torture) -> None:
    message = parse_message(row.data)
    if isinstance(message, SipRequest):
        check_well_formed(message)


@pytest.mark.parametrize("row", [r for r in TABLE if not r.valid], ids=lambda row: row.name)
def test_what_the_rfc_calls_invalid_is_refused_with_a_reason(row: Torture) -> None:
    with pytest.raises(SipParseError) as info:
        message = parse_message(row.data)
        if isinstance(message, SipRequest):
            check_well_formed(message)
        else:
            parse_cseq(message.headers.get("cseq"))
    assert info.value.reason and "\n" not in info.value.reason


def test_wsinv_folding_lws_compact_forms_and_case() -> None:
    msg = request(ROWS["wsinv.dat"])
    h = msg.headers
    assert msg.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    to, frm = parse_name_addr(h.get("to") or ""), parse_name_addr(h.get("from") or "")
    assert (to.uri, to.tag) == ("sip:vivekg@chair-dnrc.example.com", "1918181833n")
    assert (frm.display, frm.uri, frm.tag) == ('"J Rosenberg \\\\\\""', "sip:jdrosen@example.com", "98asjd8")
    assert h.get("max-forwards") == "0068" and parse_cseq(h.get("cseq")) == parse_cseq("9 INVITE")
    vias = [parse_via(v) for v in h.values("via")]
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    contact = parse_name_addr(h.get("m") or "")
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert h.get("subject") == "" and h.get("newfangledheader") == "newfangled value continued newfangled value"
    assert h.get("unknownheaderwithunusualvalue") == ";;,,;;,;"
    assert len(msg.body) == 150 and msg.body.startswith(b"v=0\r\n")


def test_escapes_and_unusual_characters_are_kept_as_sent() -> None:
    esc01 = parse_uri(request(ROWS["esc01.dat"]).uri)
    assert (esc01.user, esc01.host) == ("sips%3Auser%40example.com", "example.net")  # never unescaped
    intmeth = request(ROWS["intmeth.dat"])
    assert intmeth.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert parse_uri(intmeth.uri).host == "example.com"
    assert parse_name_addr(intmeth.headers.get("to") or "").display.startswith('"BEL:\\\x07 NUL:\\\x00')
    semi = parse_uri(request(ROWS["semiuri.dat"]).uri)
    assert (semi.user, semi.host, semi.params) == ("user;par=u%40example.net", "example.com", {})
    dbl = request(ROWS["dblreq.dat"])
    assert dbl.method == "REGISTER" and dbl.body == b""  # the INVITE after Content-Length is not read


def test_ipv6_references() -> None:
    ambiguous = parse_uri(request(ROWS["port-ambiguous"]).uri)
    assert (ambiguous.host, ambiguous.port) == ("2001:db8::10:5070", None)
    unambiguous = parse_uri(request(ROWS["port-unambiguous"]).uri)
    assert (unambiguous.host, unambiguous.port) == ("2001:db8::10", 5070)
    for name, received in [
        ("via-received-param-no-delim", "2001:db8::9:255"),
        ("via-received-param-with-delim", "[2001:db8::9:255]"),
    ]:
        via = parse_via(request(ROWS[name]).headers.values("via")[0])
        assert (via.host, via.params["received"]) == ("2001:db8::9:1", received)
    with pytest.raises(SipParseError, match="invalid URI port"):
        parse_uri(request(ROWS["ipv6-bad"]).uri)


def test_two_content_lengths_break_stream_framing_too() -> None:
    with pytest.raises(SipParseError, match="2 Content-Length header fields"):
        StreamFramer().feed(ROWS["mcl01.dat"].data)


def test_a_call_in_progress_survives_every_torture_message() -> None:
    uas = local_core()
    chime = (FIXTURES / "chime_invite.sip").read_bytes()
    call_id = "b3f0c9b2-4c1e-4d0e-9c57-2f1d1c8a5e31"
    ringing = next(r for r, _ in replies(uas.receive(chime, SOURCE, 0.0)) if r.status == 180)
    tag = parse_name_addr(ringing.headers.get("to") or "").tag or ""
    uas.answer(call_id, 10002, 0.1)
    ack = (FIXTURES / "chime_ack.sip").read_bytes().replace(b"TOTAG", tag.encode())
    uas.receive(ack, SOURCE, 0.2)
    now = 0.3
    for row in TABLE:
        uas.receive(row.data, SOURCE, now)
        uas.on_timer(now)
        now += 0.01
    assert str(uas.state(call_id)) == "confirmed"
    bye = (FIXTURES / "chime_bye.sip").read_bytes().replace(b"TOTAG", tag.encode())
    assert [r.status for r, _ in replies(uas.receive(bye, SOURCE, now))] == [200]
