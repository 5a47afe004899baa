"""Builders for the responses and requests the UAS sends (RFC 3261 8.2.6, 12.2.1), plus routing.

Pure functions over parsed messages. Where a reply goes is decided here too: responses follow
the top Via (``received``/``rport``, RFC 3581), in-dialog requests follow the route set.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Literal

from realtime_bridge.sip.fields import BRANCH_MAGIC, format_via, parse_name_addr, parse_uri, parse_via
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
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    603: "Decline",
}


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
    """Top Via as the response must carry it: ``received`` and ``rport`` filled in (RFC 3261
    18.2.1, RFC 3581 4). A top Via too broken to parse is echoed unchanged."""
    try:
        via = parse_via(value)
    except SipParseError:
        return value
    params = dict(via.params)
    if via.host.lower() != source.host.lower():
        params["received"] = source.host
    if "rport" in params and not params["rport"]:
        params["rport"] = str(source.port)
    return format_via(replace(via, params=params))


def response_destination(request: SipRequest, source: Peer) -> Peer:
    """RFC 3261 18.2.2 with RFC 3581: reliable -> same connection; UDP -> the source address
    (the ``received`` value) and the ``rport`` or sent-by port. ``maddr`` is not honoured: a
    reply never goes anywhere but the address the request came from. A top Via too broken to
    read sends the reply to the source port."""
    if source.transport != "udp":  # TCP and TLS: the connection it came on
        return source
    vias = request.headers.values("via")
    if not vias:
        raise SipParseError("missing Via")
    try:
        via = parse_via(vias[0])
    except SipParseError:
        return Peer(source.host, source.port, "udp")
    port = source.port if "rport" in via.params else (via.port or 5060)
    return Peer(source.host, port, "udp")


_ECHOED = {"from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}


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
    strict: bool = True,
) -> SipResponse:
    """A response per RFC 3261 8.2.6: Via, From, To (+ tag), Call-ID and CSeq copied.

    ``strict=False`` is for refusing malformed requests: whatever of those headers exists is
    copied as it came, and a To that cannot be parsed gets no tag."""
    h = request.headers
    vias = h.values("via")
    if not vias:
        raise SipParseError("missing Via")
    headers = Headers()
    headers.add("Via", stamp_via(vias[0], source))
    for via in vias[1:]:
        headers.add("Via", via)
    for name, wire in _ECHOED.items():
        value = h.get(name)
        if value is None:
            if strict:
                raise SipParseError(f"missing {wire}")
            continue
        if name == "to" and to_tag and _needs_tag(value, strict):
            value = f"{value};tag={to_tag}"
        headers.add(wire, value)
    for name, value in extra or []:
        headers.add(name, value)
    with_body(headers, body, content_type)
    return SipResponse(status, reason or REASONS.get(status, "Unknown"), headers, body)


def _needs_tag(to_value: str, strict: bool) -> bool:
    try:
        return parse_name_addr(to_value).tag is None
    except SipParseError:
        if strict:
            raise
        return False


def warning(why: str) -> tuple[str, str]:
    """A Warning header (RFC 3261 20.43) saying why, as a printable quoted-string."""
    text = "".join(ch if ch.isprintable() else "?" for ch in why[:120]).replace("\\", "/").replace('"', "'")
    return ("Warning", f'399 bridge "{text}"')


def refusal_for_malformed(request: SipRequest, status: int, source: Peer, why: str) -> tuple[SipResponse, Peer] | None:
    """The stateless 400 (or 505) for a malformed request, and where it goes; None when the
    request is an ACK (never answered) or names no Via to answer along."""
    if request.method == "ACK" or not request.headers.values("via"):
        return None
    response = build_response(request, status, source, to_tag=new_tag(), extra=[warning(why)], strict=False)
    return response, response_destination(request, source)


def scan_request(data: bytes) -> SipRequest | None:
    """What can be read of a request too broken to parse: start line words and the header
    lines that have a colon (folded lines joined). None for responses and non-text."""
    try:
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    first, *lines = head.split("\r\n")
    words = first.split()
    if len(words) < 2 or words[0].upper().startswith("SIP/"):
        return None
    found = Headers()
    for line in lines:
        if line[:1] in (" ", "\t") and found.items:
            name, value = found.items[-1]
            found.items[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon and name.strip():
            found.add(name.strip(), value.strip())
    return SipRequest(words[0], words[1], found)


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
