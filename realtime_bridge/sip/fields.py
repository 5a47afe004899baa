"""Structured views of the header values the UAS routes on: Via, name-addr, SIP URI, CSeq."""

from __future__ import annotations

from dataclasses import dataclass

from realtime_bridge.sip.message import SipParseError


def _params(text: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for raw in text.split(";"):
        raw = raw.strip()
        if not raw:
            continue
        name, eq, value = raw.partition("=")
        out[name.strip().lower()] = value.strip() if eq else None
    return out


def _host_port(text: str, what: str) -> tuple[str, int | None]:
    text = text.strip()
    if text.startswith("["):  # IPv6 reference
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"malformed {what} host: {text[:40]!r}")
        host, rest = text[1:end], text[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise SipParseError(f"missing {what} host")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipParseError(f"invalid {what} port: {port_text[:10]!r}")
        return host, int(port_text)
    return host, None


@dataclass(frozen=True, slots=True)
class Via:
    transport: str  # upper case: UDP, TCP, TLS
    host: str
    port: int | None
    params: dict[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")


def parse_via(value: str) -> Via:
    proto, _, rest = value.strip().partition(" ")
    parts = proto.split("/")
    if len(parts) != 3 or parts[0].upper() != "SIP":
        raise SipParseError(f"malformed Via: {value[:60]!r}")
    sent_by, _, params = rest.strip().partition(";")
    host, port = _host_port(sent_by, "Via")
    return Via(transport=parts[2].strip().upper(), host=host, port=port, params=_params(params))


def format_via(via: Via) -> str:
    hostport = via.host if via.port is None else f"{via.host}:{via.port}"
    params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in via.params.items())
    return f"SIP/2.0/{via.transport} {hostport}{params}"


@dataclass(frozen=True, slots=True)
class SipUri:
    scheme: str
    user: str | None
    host: str
    port: int | None
    params: dict[str, str | None]

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.upper() if value else None


def parse_uri(text: str) -> SipUri:
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        raise SipParseError(f"unsupported URI: {text[:60]!r}")
    rest, _, _headers = rest.partition("?")
    userhost, _, params = rest.partition(";")
    user, at, hostport = userhost.rpartition("@")
    host, port = _host_port(hostport, "URI")
    return SipUri(scheme=scheme.lower(), user=user if at else None, host=host, port=port, params=_params(params))


@dataclass(frozen=True, slots=True)
class NameAddr:
    """From/To/Contact/Route value: display name, URI text and header parameters (tag, lr...)."""

    uri: str
    params: dict[str, str | None]

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


def parse_name_addr(value: str) -> NameAddr:
    value = value.strip()
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            raise SipParseError(f"unterminated <uri> in {value[:60]!r}")
        return NameAddr(uri=value[lt + 1 : gt], params=_params(value[gt + 1 :]))
    # addr-spec form: parameters after ';' belong to the header, not the URI (RFC 3261 20.10)
    uri, _, params = value.partition(";")
    if not uri:
        raise SipParseError("empty address")
    return NameAddr(uri=uri.strip(), params=_params(params))


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str


def parse_cseq(value: str | None) -> CSeq:
    if value is None:
        raise SipParseError("missing CSeq")
    number, _, method = value.strip().partition(" ")
    if not number.isdigit() or len(number) > 10 or not method.strip():
        raise SipParseError(f"malformed CSeq: {value[:40]!r}")
    return CSeq(int(number), method.strip().upper())
