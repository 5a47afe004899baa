"""Content-Length framing of SIP over a byte stream (RFC 3261 18.3). Pure: feed bytes, get messages.

Handles several messages per segment and messages split across reads. A stream whose framing
is broken (missing or invalid Content-Length, oversized header) cannot be resynchronised:
``feed`` raises ``SipParseError`` and the transport closes the connection.
"""

from __future__ import annotations

from realtime_bridge.sip.message import (
    END_OF_HEADERS,
    MAX_MESSAGE_BYTES,
    SipParseError,
    content_length,
    parse_headers,
)

_KEEPALIVE = b"\r\n"


class StreamFramer:
    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_message

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; return every complete message now available, in order."""
        self._buf += data
        out: list[bytes] = []
        while True:
            # RFC 5626 CRLF keep-alives between messages are skipped.
            while self._buf[:2] == _KEEPALIVE:
                del self._buf[:2]
            head_end = self._buf.find(END_OF_HEADERS)
            if head_end < 0:
                if len(self._buf) > self._max:
                    raise SipParseError(f"header section exceeds {self._max} bytes")
                return out
            try:
                head = bytes(self._buf[:head_end]).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SipParseError(f"header section is not UTF-8 at byte {exc.start}") from None
            _, _, rest = head.partition("\r\n")
            length = content_length(parse_headers(rest)) if rest else None
            if length is None:
                raise SipParseError("missing Content-Length on a stream transport")
            total = head_end + 4 + length
            if total > self._max:
                raise SipParseError(f"message exceeds {self._max} bytes")
            if len(self._buf) < total:
                return out
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]

    @property
    def pending(self) -> int:
        """Bytes buffered towards an incomplete message."""
        return len(self._buf)
