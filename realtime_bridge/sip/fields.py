"""Structured views of the header values the UAS routes on: Via, name-addr, URIs, CSeq.

Each parser follows the RFC 3261 section 25 grammar closely enough to tell a well-formed value
from a malformed one (the RFC 4475 torture messages are the test): linear whitespace is allowed
around ``/ ; = :`` where the grammar allows it, and refused where it does not (inside ``<...>``,
inside a URI). A malformed value raises ``SipParseError`` with a one-line reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from realtime_bridge.sip.message import SipParseError

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9\-_.]*[A-Za-z0-9_])?\.?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
# A generic-param value: token, host (IPv6 references included) or quoted-string (checked apart).
_PARAM_VALUE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~:\[\]]+")
_LWS = " \t"
BRANCH_MAGIC = "z9hG4bK"  # RFC 3261 8.1.1.7: branches of RFC 3261 clients start with it
MAX_CSEQ = 2**31 - 1  # RFC 3261 8.1.1.5: less than 2**31
MAX_FORWARDS_LIMIT = 255  # RFC 3261 20.22


def is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def _quoted_end(text: str, start: int) -> int:
    """Index just past the quoted-string opening at ``start`` (quoted-pairs honoured)."""
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise SipParseError(f"unterminated quoted string in {text[:60]!r}")


def _split_semis(text: str) -> list[str]:
    """Split at ';' outside quoted strings."""
    parts: list[str] = []
    start = i = 0
    while i < len(text):
        if text[i] == '"':
            i = _quoted_end(text, i)
            continue
        if text[i] == ";":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _params(text: str, what: str) -> dict[str, str | None]:
    """``*( SEMI generic-param )``: ``text`` is empty or starts with ';'. Empty params are errors."""
    first, *raws = _split_semis(text)
    if first.strip(_LWS):
        raise SipParseError(f"expected ';' before {what} parameter: {first[:40]!r}")
    out: dict[str, str | None] = {}
    for raw in raws:
        name, eq, value = raw.partition("=")
        name, value = name.strip(_LWS), value.strip(_LWS)
        if not is_token(name):
            raise SipParseError(f"malformed {what} parameter: {raw.strip(_LWS)[:40]!r}")
        quoted = len(value) > 1 and value[0] == '"' and _quoted_end(value, 0) == len(value)
        if eq and not quoted and not _PARAM_VALUE.fullmatch(value):
            raise SipParseError(f"malformed {what} parameter value: {raw.strip(_LWS)[:40]!r}")
        out[name.lower()] = value if eq else None
    return out


def _cut(text: str, sep: str) -> tuple[str, str]:
    """``text`` split before the first ``sep``: (head, sep + tail) or (text, "")."""
    head, found, tail = text.partition(sep)
    return head, (sep + tail if found else "")


def _host_port(text: str, what: str) -> tuple[str, int | None]:
    """``host [COLON port]``; IPv6 references are returned without their brackets."""
    text = text.strip(_LWS)
    if text.startswith("["):  # IPv6 reference (RFC 5118: two or three colons are both accepted)
        end = text.find("]")
        if end < 0 or not _IPV6.fullmatch(text[1:end]):
            raise SipParseError(f"malformed {what} host: {text[:60]!r}")
        host, rest = text[1:end], text[end + 1 :].strip(_LWS)
        if rest and not rest.startswith(":"):
            raise SipParseError(f"malformed {what} host: {text[:60]!r}")
        port_text = rest[1:].strip(_LWS)
        if rest and not port_text:
            raise SipParseError(f"invalid {what} port: ''")
    else:
        host, colon, port_text = text.partition(":")
        host, port_text = host.strip(_LWS), port_text.strip(_LWS)
        if colon and not port_text:
            raise SipParseError(f"invalid {what} port: ''")
        if host and not _HOSTNAME.fullmatch(host):
            raise SipParseError(f"malformed {what} host: {host[:60]!r}")
    if not host:
        raise SipParseError(f"missing {what} host")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipParseError(f"invalid {what} port: {port_text[:10]!r}")
        return host, int(port_text)
    return host, None


def format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True, slots=True)
class Via:
    transport: str  # upper case: UDP, TCP, TLS
    host: str
    port: int | None
    params: dict[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        return format_host(self.host.lower()) + ("" if self.port is None else f":{self.port}")


def parse_via(value: str) -> Via:
    """``SIP SLASH 2.0 SLASH transport LWS sent-by *(SEMI via-params)``, LWS allowed around '/'."""
    parts = value.split("/", 2)
    if len(parts) != 3:
        raise SipParseError(f"malformed Via: {value[:60]!r}")
    name, version, rest = (p.strip(_LWS) for p in parts)
    words = rest.split(None, 1)  # transport LWS sent-by...
    if name.upper() != "SIP" or len(words) != 2 or not is_token(words[0]):
        raise SipParseError(f"malformed Via: {value[:60]!r}")
    transport, rest = words
    if version != "2.0":
        raise SipParseError(f"unsupported Via version: {version[:10]!r}")
    sent_by, params = _cut(rest.strip(_LWS), ";")
    host, port = _host_port(sent_by, "Via")
    parsed = _params(params, "Via")
    branch = parsed.get("branch", "")
    if branch is None or branch == BRANCH_MAGIC:
        raise SipParseError("Via branch is empty or only the magic cookie")
    return Via(transport=transport.upper(), host=host, port=port, params=parsed)


def format_via(via: Via) -> str:
    hostport = format_host(via.host) + ("" if via.port is None else f":{via.port}")
    params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in via.params.items())
    return f"SIP/2.0/{via.transport} {hostport}{params}"


@dataclass(frozen=True, slots=True)
class SipUri:
    scheme: str
    user: str | None
    host: str
    port: int | None
    params: dict[str, str | None]
    headers: str = ""  # the raw ``?h=v&...`` part, if any

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.upper() if value else None


def uri_scheme(text: str) -> str:
    """The scheme of an absolute URI (lower case); raises when ``text`` is not one."""
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme) or not rest:
        raise SipParseError(f"not a URI: {text[:60]!r}")
    if any(ch in text for ch in ' \t<>"'):
        raise SipParseError(f"whitespace or delimiter inside URI: {text[:60]!r}")
    return scheme.lower()


def parse_uri(text: str) -> SipUri:
    """A sip: or sips: URI. The first '@' ends the userinfo (no other part may hold one raw)."""
    scheme = uri_scheme(text)
    if scheme not in ("sip", "sips"):
        raise SipParseError(f"unsupported URI scheme: {text[:60]!r}")
    rest = text.partition(":")[2]
    userinfo, at, hostpart = rest.partition("@")
    if not at:
        userinfo, hostpart = "", rest
    hostpart, _, headers = hostpart.partition("?")
    hostport, params = _cut(hostpart, ";")
    host, port = _host_port(hostport, "URI")
    user = userinfo.partition(":")[0] if at else None
    return SipUri(scheme=scheme, user=user, host=host, port=port, params=_params(params, "URI"), headers=headers)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """From/To/Contact/Route value: display name, URI text and header parameters (tag, lr...)."""

    uri: str
    params: dict[str, str | None]
    display: str = ""

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


def _check_display(display: str) -> None:
    """``*(token LWS) / quoted-string`` (the quoted form is checked by the caller)."""
    if display.startswith('"'):
        if _quoted_end(display, 0) != len(display):
            raise SipParseError(f"text after quoted display name: {display[:60]!r}")
        return
    if not all(is_token(word) for word in display.split()):
        raise SipParseError(f"display name is not tokens or a quoted string: {display[:60]!r}")


def parse_name_addr(value: str) -> NameAddr:
    """``(name-addr / addr-spec) *(SEMI param)`` as in From, To, Contact, Route (RFC 3261 20.10)."""
    value = value.strip(_LWS + "\r\n")
    lt = _quoted_end(value, 0) if value.startswith('"') else 0
    lt = value.find("<", lt)
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            raise SipParseError(f"unterminated <uri> in {value[:60]!r}")
        display = value[:lt].strip(_LWS)
        _check_display(display)
        uri = value[lt + 1 : gt]
        if uri != uri.strip(_LWS):  # LAQUOT/RAQUOT take no LWS inside (RFC 4475 badaspec)
            raise SipParseError(f"whitespace inside <>: {value[lt : gt + 1][:60]!r}")
        uri_scheme(uri)
        return NameAddr(uri=uri, params=_params(value[gt + 1 :], "header"), display=display)
    if value.startswith('"'):
        raise SipParseError(f"quoted display name without <uri>: {value[:60]!r}")
    # addr-spec form: ';' starts header parameters; a URI holding ',', ';' or '?' needs <...>.
    end = min((i for i in (value.find(";"), value.find(" "), value.find("\t")) if i >= 0), default=len(value))
    uri = value[:end]
    if not uri:
        raise SipParseError("empty address")
    uri_scheme(uri)
    if "?" in uri or "," in uri:
        raise SipParseError(f"URI with '?' or ',' must be enclosed in <>: {uri[:60]!r}")
    return NameAddr(uri=uri, params=_params(value[end:], "header"))


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str


def parse_cseq(value: str | None) -> CSeq:
    """``1*DIGIT LWS Method``; methods are case-sensitive (RFC 3261 7.1), so kept as sent."""
    if value is None:
        raise SipParseError("missing CSeq")
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not is_token(parts[1]):
        raise SipParseError(f"malformed CSeq: {value[:40]!r}")
    if int(parts[0]) > MAX_CSEQ:
        raise SipParseError(f"CSeq number too large: {parts[0][:20]!r}")
    return CSeq(int(parts[0]), parts[1])


def parse_max_forwards(value: str) -> int:
    text = value.strip(_LWS)
    if not text.isdigit() or int(text) > MAX_FORWARDS_LIMIT:
        raise SipParseError(f"invalid Max-Forwards: {value[:20]!r}")
    return int(text)
