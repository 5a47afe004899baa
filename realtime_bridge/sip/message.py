"""SIP message model, parser and serializer (RFC 3261 section 7). Pure: bytes in, bytes out.

Headers keep their wire name and order, so a canonically formatted message (``Name: value``
lines, CRLF endings) serializes back byte for byte. Folded header lines are unfolded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

CRLF = b"\r\n"
END_OF_HEADERS = b"\r\n\r\n"
SIP_VERSION = "SIP/2.0"
MAX_MESSAGE_BYTES = 65_535

# RFC 3261 7.3.3 compact forms, mapped to their long names (lower case).
_COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
}
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_WSP = " \t"
_VERSION = re.compile(r"^SIP/[0-9]+\.[0-9]+$", re.IGNORECASE)


class SipParseError(ValueError):
    """The bytes are not a well-formed SIP message; ``reason`` says exactly why.

    ``status`` is the response a request with this fault earns: 400, or 505 for a well-formed
    but unsupported SIP version (RFC 4475 3.1.2.16)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def canonical(name: str) -> str:
    """Lower-case long form of a header name, for comparisons."""
    low = name.strip().lower()
    return _COMPACT.get(low, low)


@dataclass(slots=True)
class Headers:
    """Ordered multi-map of (wire name, value); lookups are case-insensitive and compact-aware."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        key = canonical(name)
        for wire, value in self.items:
            if canonical(wire) == key:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        key = canonical(name)
        return [value for wire, value in self.items if canonical(wire) == key]

    def values(self, name: str) -> list[str]:
        """All values of a header, with comma-separated lists split (for Via, Route, Record-Route)."""
        return [part for value in self.get_all(name) for part in split_list(value)]

    def add(self, name: str, value: str) -> None:
        self.items.append((name, value))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.items.append((name, value))

    def remove(self, name: str) -> None:
        key = canonical(name)
        self.items = [(w, v) for w, v in self.items if canonical(w) != key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def copy(self) -> Headers:
        return Headers(list(self.items))


@dataclass(slots=True)
class SipRequest:
    method: str
    uri: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"


@dataclass(slots=True)
class SipResponse:
    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"


SipMessage = SipRequest | SipResponse


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside quotes or <...>."""
    parts: list[str] = []
    depth_angle = False
    quoted = False
    start = 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth_angle = True
        elif not quoted and ch == ">":
            depth_angle = False
        elif ch == "," and not quoted and not depth_angle:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def _parse_start_line(line: str) -> tuple[str, str, str]:
    """Request-Line ``Method SP Request-URI SP SIP-Version`` (single spaces, nothing else) or
    Status-Line ``SIP-Version SP Status-Code SP Reason-Phrase`` (the phrase may be empty)."""
    if line.upper().startswith("SIP/"):
        parts = line.split(" ", 2)
        if len(parts) == 2:
            parts.append("")
    else:
        parts = line.split(" ")
    if len(parts) != 3 or not all(parts[:2]) or (not parts[2] and not line.upper().startswith("SIP/")):
        raise SipParseError(f"malformed start line: {line[:80]!r}")
    return parts[0], parts[1], parts[2]


def parse_headers(block: str) -> Headers:
    headers = Headers()
    for number, line in enumerate(block.split("\r\n"), start=2):
        if line[:1] in (" ", "\t"):
            if not headers.items:
                raise SipParseError(f"continuation line before any header at line {number}")
            name, value = headers.items[-1]
            headers.items[-1] = (name, " ".join(part for part in (value, line.strip(_WSP)) if part))
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(_WSP)
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"malformed header at line {number}: {line[:80]!r}")
        headers.items.append((name, value.strip(_WSP)))
    return headers


def content_length(headers: Headers) -> int | None:
    """The one Content-Length value, or None; several values leave the body unknowable."""
    raws = headers.get_all("content-length")
    if not raws:
        return None
    if len(raws) > 1:
        raise SipParseError(f"{len(raws)} Content-Length header fields")
    raw = raws[0]
    if not raw.isdigit():
        raise SipParseError(f"invalid Content-Length: {raw[:20]!r}")
    return int(raw)


def parse_message(data: bytes) -> SipMessage:
    """Parse one complete SIP message (a UDP datagram or a framed TCP message)."""
    if not data.strip():
        raise SipParseError("empty message")
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message too large: {len(data)} bytes")
    head_end = data.find(END_OF_HEADERS)
    if head_end < 0:
        raise SipParseError("truncated headers: no blank line after the header section")
    try:
        head = data[:head_end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(f"header section is not UTF-8 at byte {exc.start}") from None
    first, _, rest = head.partition("\r\n")
    a, b, c = _parse_start_line(first)
    headers = parse_headers(rest) if rest else Headers()
    body = data[head_end + 4 :]
    length = content_length(headers)
    if length is not None:
        if len(body) < length:
            raise SipParseError(f"truncated body: Content-Length is {length}, got {len(body)} bytes")
        body = body[:length]
    if _VERSION.match(a):
        if a.upper() != SIP_VERSION:
            raise SipParseError(f"unsupported SIP version: {a[:20]!r}")
        if len(b) != 3 or not b.isdigit() or not 100 <= int(b) <= 699:
            raise SipParseError(f"invalid status code: {b[:10]!r}")
        return SipResponse(status=int(b), reason=c, headers=headers, body=body, version=SIP_VERSION)
    if not _TOKEN.match(a):
        raise SipParseError(f"invalid method: {a[:20]!r}")
    if not _VERSION.match(c):
        raise SipParseError(f"malformed SIP version: {c[:20]!r}")
    if c.upper() != SIP_VERSION:
        raise SipParseError(f"unsupported SIP version: {c[:20]!r}", status=505)
    return SipRequest(method=a, uri=b, headers=headers, body=body, version=SIP_VERSION)


def serialize(message: SipMessage) -> bytes:
    """Wire bytes for a message; Content-Length is written as given (builders set it)."""
    lines = [message.start_line()]
    lines.extend(f"{name}: {value}" for name, value in message.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + message.body


def with_body(headers: Headers, body: bytes, content_type: str | None) -> Headers:
    """Set Content-Type/Content-Length for ``body`` (Content-Length last, as most stacks do)."""
    headers.remove("content-type")
    headers.remove("content-length")
    if body and content_type:
        headers.add("Content-Type", content_type)
    headers.add("Content-Length", str(len(body)))
    return headers
