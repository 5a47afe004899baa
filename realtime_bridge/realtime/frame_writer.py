"""Caller audio onto the model's socket as plain websocket frames: the uplink's hot path.

Fifty appends a second per call go up. Through the websockets library's `send` each one costs a
coroutine, an async context manager, a frame object, a `getrandom` syscall for its mask key and
a drain check: about 5 us more CPU per frame than this writer, measured on the same socket, or
2.5 % of a core at 100 calls (a tenth of what the bridge then spends). Here a text frame is the
RFC 6455 bytes themselves (FIN + text opcode, the masked length, a mask key, the payload masked
by websockets' own C routine), written to the connection's transport.

It writes only when the library would have written at once and returned: the connection open,
no fragmented message of the library's in flight, the transport neither asking to pause nor
closing. Otherwise
`text` returns False and the caller takes the library's awaited `send`, which waits for the
buffer to drain or raises as the socket closes. Frames from both paths go through the same
transport in the loop's order, so they never interleave inside a frame.
"""

from __future__ import annotations

import os
import struct

from websockets.asyncio.connection import Connection
from websockets.protocol import State

try:  # the library's own C routine, as its frames use; its pure-Python one where not built
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

_FIN_TEXT = 0x81
_MASKED = 0x80
_KEYS = 4096  # mask keys come from the kernel's CSPRNG, 1,024 at a time instead of one per frame


class FrameWriter:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._protocol = connection.protocol
        self._keys = b""
        self._at = _KEYS

    def text(self, payload: bytes) -> bool:
        """One text message (UTF-8 `payload`) written now, or False: take the awaited path."""
        c = self._connection
        # Closing: lost or aborted, and the protocol not told yet.
        if self._protocol.state is not State.OPEN or c.paused or c.fragmented_send_waiter or c.transport.is_closing():
            return False
        if self._at == _KEYS:
            self._keys, self._at = os.urandom(_KEYS), 0
        key = self._keys[self._at : self._at + 4]
        self._at += 4
        n = len(payload)
        if n < 126:
            head = bytes((_FIN_TEXT, _MASKED | n))
        elif n < 1 << 16:
            head = struct.pack("!BBH", _FIN_TEXT, _MASKED | 126, n)
        else:
            head = struct.pack("!BBQ", _FIN_TEXT, _MASKED | 127, n)
        c.transport.write(head + key + apply_mask(payload, key))
        return True
