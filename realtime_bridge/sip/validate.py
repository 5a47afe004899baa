"""What the UAS refuses before any transaction or dialog logic runs, and with which response.

Two stages, in RFC 3261 order. ``check_well_formed`` (8.1.1, 20, 25) raises ``SipParseError``
for a request that is not well formed: it earns a stateless 400 and nothing else happens.
``refusal`` (8.2.1 method, 8.2.2 URI scheme and Require, 8.2.3 content) answers a well-formed
request the bridge will not serve. Only a request passing both reaches the dialog code, so a
malformed one can never start a call or disturb one in progress. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from realtime_bridge.sip.fields import (
    parse_cseq,
    parse_max_forwards,
    parse_name_addr,
    parse_uri,
    parse_via,
    uri_scheme,
)
from realtime_bridge.sip.message import SipParseError, SipRequest

IMPLEMENTED = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS")
ALLOW = ", ".join(IMPLEMENTED)
# Methods other standards-track RFCs define: "recognised but not supported" gets 405, anything
# else 501 (RFC 3261 8.2.1, 21.5.2).
KNOWN = (*IMPLEMENTED, "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE")
SCHEMES = ("sip", "sips")
SUPPORTED_OPTIONS: frozenset[str] = frozenset()  # option tags we implement for Require (none)
BODY_TYPE = "application/sdp"
_MANDATORY = {
    "to": "To",
    "from": "From",
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "via": "Via",
    "max-forwards": "Max-Forwards",
}
_SINGLE = {**{k: v for k, v in _MANDATORY.items() if k != "via"}, "content-type": "Content-Type"}
_ACCEPTS_SDP = ("application/sdp", "application/*", "*/*")
_ADDRESS_LISTS = ("contact", "route", "record-route")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    why: str
    extra: tuple[tuple[str, str], ...] = ()


def check_well_formed(req: SipRequest) -> None:
    """Raise ``SipParseError`` naming the first thing RFC 3261 forbids in this request."""
    h = req.headers
    missing = [wire for name, wire in _MANDATORY.items() if not h.get_all(name)]
    if missing:
        raise SipParseError(f"missing {', '.join(missing)}")
    for name, wire in _SINGLE.items():
        if len(h.get_all(name)) > 1:
            raise SipParseError(f"{len(h.get_all(name))} {wire} header fields")
    _check_request_uri(req.uri)
    cseq = parse_cseq(h.get("cseq"))
    if cseq.method != req.method:
        raise SipParseError(f"CSeq method {cseq.method[:20]} does not match {req.method[:20]}")
    parse_max_forwards(h.get("max-forwards") or "")
    call_id = h.get("call-id") or ""
    if not call_id or len(call_id.split()) != 1:
        raise SipParseError("malformed Call-ID")
    for via in h.values("via"):
        parse_via(via)
    for name in ("from", "to"):
        parse_name_addr(h.get(name) or "")
    for name in _ADDRESS_LISTS:
        for value in h.values(name):
            if not (name == "contact" and value == "*"):
                parse_name_addr(value)
    if req.method == "INVITE":
        _check_dialog_targets(req)
    date = h.get("date")
    if date is not None:
        _check_date(date)
    if req.body and h.get("content-type") is None:
        raise SipParseError("body without Content-Type")


def _check_request_uri(uri: str) -> None:
    """An absolute URI with no LWS or <> (RFC 4475 ltgtruri); a SIP URI must be valid and carry
    no headers, which a Request-URI may not have (RFC 3261 19.1.5, RFC 4475 escruri)."""
    if uri_scheme(uri) in SCHEMES and parse_uri(uri).headers:
        raise SipParseError("Request-URI carries headers")


def _check_dialog_targets(req: SipRequest) -> None:
    """A dialog-creating request names one SIP Contact (RFC 3261 8.1.1.8), and its Record-Route
    entries are SIP URIs: in-dialog requests (our BYE) are sent to them."""
    contacts = req.headers.values("contact")
    if len(contacts) != 1 or contacts[0] == "*":
        raise SipParseError(f"INVITE needs exactly one Contact, got {len(contacts)}")
    for value in (*contacts, *req.headers.values("record-route")):
        parse_uri(parse_name_addr(value).uri)


def _check_date(value: str) -> None:
    """``rfc1123-date``, and GMT only (RFC 3261 20.17)."""
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise SipParseError(f"malformed Date: {value[:40]!r}") from None
    if not value.rstrip().endswith(" GMT"):
        raise SipParseError("Date is not in GMT")


def refusal(req: SipRequest) -> Refusal | None:
    """The final response for a well-formed request we will not serve, in RFC 3261 8.2 order."""
    h = req.headers
    if req.method not in IMPLEMENTED:
        status = 405 if req.method in KNOWN else 501
        return Refusal(status, f"method {req.method[:20]}", (("Allow", ALLOW),))
    if req.method == "ACK":
        return None
    scheme = uri_scheme(req.uri)
    if scheme not in SCHEMES:
        return Refusal(416, f"URI scheme {scheme[:20]}")
    if req.method != "CANCEL":
        unknown = [tag for tag in h.values("require") if tag not in SUPPORTED_OPTIONS]
        if unknown:
            return Refusal(420, "unsupported Require", (("Unsupported", ", ".join(unknown)),))
    if req.body and req.method != "CANCEL":
        media_type = (h.get("content-type") or "").split(";")[0].strip().lower()
        encoding = (h.get("content-encoding") or "identity").strip().lower()
        if media_type != BODY_TYPE or encoding != "identity":
            accept = (("Accept", BODY_TYPE), ("Accept-Encoding", "identity"))
            return Refusal(415, f"body {media_type[:40]} ({encoding[:20]})", accept)
    if req.method == "INVITE" and not _accepts_sdp(h.get_all("accept"), h.values("accept")):
        return Refusal(406, "Accept excludes application/sdp", (("Accept", BODY_TYPE),))
    return None


def _accepts_sdp(fields: list[str], ranges: list[str]) -> bool:
    """No Accept header means application/sdp; an empty one means nothing (RFC 3261 20.1)."""
    return not fields or any(r.split(";")[0].strip().lower() in _ACCEPTS_SDP for r in ranges)
