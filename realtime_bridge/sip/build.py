"""Builders for the responses and requests the UAS sends (RFC 3261 8.2.6, 12.2.1), plus routing.

Pure functions over parsed messages. Where a reply goes is decided here too: responses follow
the top Via (``received``/``rport``, RFC 3581), in-dialog requests follow the route set.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Literal

from realtime_bridge.sip.fields import format_via, parse_name_addr, parse_uri, parse_via
from realtime_bridge.sip.message import Headers, SipParseError, SipRequest, SipResponse, with_body

Transport = Literal["udp", "tcp", "tls"]
DEFAULT_PORTS: dict[str, int] = {"udp": 5060, "tcp": 5060, "tls": 5061}

REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    503: "Service Unavailable",
}
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"
BRANCH_MAGIC = "z9hG4bK"


@dataclass(frozen=True, slots=True)
class Peer:
    """A signalling endpoint. ``conn_id`` names the TCP connection a message came in on, so
    replies reuse it; the transport opens a new connection when it has gone."""

    host: str
    port: int
    transport: Transport
    conn_id: int | None = None


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return BRANCH_MAGIC + secrets.token_hex(8)


def stamp_via(value: str, source: Peer) -> str:
    """Top Via as the response must carry it: ``received`` and ``rport`` filled in."""
    via = parse_via(value)
    params = dict(via.params)
    if via.host != source.host:
        params["received"] = source.host
    if "rport" in params and not params["rport"]:
        params["rport"] = str(source.port)
    return format_via(replace(via, params=params))


def response_destination(request: SipRequest, source: Peer) -> Peer:
    """RFC 3261 18.2.2 with RFC 3581: reliable -> same connection; UDP -> received + port."""
    if source.transport != "udp":  # TCP and TLS: the connection it came on
        return source
    vias = request.headers.values("via")
    if not vias:
        raise SipParseError("missing Via")
    via = parse_via(vias[0])
    port = source.port if "rport" in via.params else (via.port or 5060)
    return Peer(source.host, port, "udp")


def build_response(
    request: SipRequest,
    status: int,
    source: Peer,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    reason: str | None = None,
) -> SipResponse:
    h = request.headers
    vias = h.values("via")
    if not vias:
        raise SipParseError("missing Via")
    headers = Headers()
    headers.add("Via", stamp_via(vias[0], source))
    for via in vias[1:]:
        headers.add("Via", via)
    for name in ("from", "to", "call-id", "cseq"):
        value = h.get(name)
        if value is None:
            raise SipParseError(f"missing {name}")
        if name == "to" and to_tag and parse_name_addr(value).tag is None:
            value = f"{value};tag={to_tag}"
        headers.add({"from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}[name], value)
    for name, value in extra or []:
        headers.add(name, value)
    with_body(headers, body, content_type)
    return SipResponse(status, reason or REASONS.get(status, "Unknown"), headers, body)


def lenient_bad_request(data: bytes, source: Peer, why: str) -> SipResponse | None:
    """A 400 for a request too broken to parse fully, if it names enough to reply to; else None."""
    try:
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or parts[0] in ("ACK", "SIP/2.0"):
        return None
    found = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            found.add(name.strip(), value.strip())
    try:
        request = SipRequest(parts[0], parts[1], found)
        return build_response(request, 400, source, extra=[("Warning", f'399 bridge "{why[:120]}"')], to_tag=new_tag())
    except SipParseError:
        return None


def uri_destination(uri_text: str, default_transport: Transport, conn_id: int | None) -> Peer:
    uri = parse_uri(uri_text)
    named: dict[str | None, Transport] = {"UDP": "udp", "TCP": "tcp", "TLS": "tls"}
    transport: Transport = "tls" if uri.scheme == "sips" else named.get(uri.transport, default_transport)
    return Peer(uri.host, uri.port or DEFAULT_PORTS[transport], transport, conn_id if transport != "udp" else None)


def build_in_dialog_request(
    method: str,
    *,
    remote_target: str,
    route_set: list[str],
    local: str,
    remote: str,
    call_id: str,
    cseq: int,
    via_host: str,
    via_port: int,
    transport: Transport,
    user_agent: str,
    branch: str,
) -> SipRequest:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/{transport.upper()} {via_host}:{via_port};branch={branch};rport")
    for route in route_set:
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    headers.add("From", local)
    headers.add("To", remote)
    headers.add("Call-ID", call_id)
    headers.add("CSeq", f"{cseq} {method}")
    headers.add("User-Agent", user_agent)
    with_body(headers, b"", None)
    return SipRequest(method, remote_target, headers)


def request_destination(request: SipRequest, transport: Transport, conn_id: int | None) -> Peer:
    """Loose routing: the first Route if any, else the Request-URI (RFC 3261 8.1.2)."""
    routes = request.headers.values("route")
    target = parse_name_addr(routes[0]).uri if routes else request.uri
    return uri_destination(target, transport, conn_id)
