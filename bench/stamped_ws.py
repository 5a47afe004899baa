"""The fake model's front door: websocket sessions read with the kernel's arrival stamp.

The bench's ingress ends when the model receives the burst's first append. Stamped in user space,
after a websocket library has parsed it, that time also holds the fake model's own queue: at 100
calls the bridge forwards about 5,000 appends a second, the fake model shares a core with the
callers, and the append that arrived first in a busy spell was stamped milliseconds later. That
delay is the harness's, it moves with the host's load from run to run, and it fell on the bridge
and on the null relay alike, drowning the 1 ms the comparison is about. Here each read is a
`recvmsg` with SO_TIMESTAMPNS, so a message carries the time its last byte reached the socket
(CLOCK_REALTIME, the clock of the callers' send stamps), and the websocket is websockets' sans-I/O
protocol driven straight from the socket: no relay hop in between, no stream buffering.

One port serves both SDK base URLs, as the simulator's front door does: a request that asks for a
websocket upgrade becomes a session here; any other (the post-call pass's chat completions) is
handed, unread, to the simulator's HTTP API.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Awaitable, Callable

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the stdlib does not export it
_ANCILLARY = socket.CMSG_SPACE(16)
_READ = 1 << 18
_HEAD_END = b"\r\n\r\n"


def kernel_ns(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return int(sec) * 1_000_000_000 + int(nsec)
    return None


class StampedConnection:
    """One websocket session on a non-blocking socket, driven by the loop's reader and writer
    callbacks. `on_message(connection, text, arrived_ns)` runs for every text message."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        on_open: Callable[[StampedConnection], None],
        on_message: Callable[[StampedConnection, str, int], None],
        on_close: Callable[[StampedConnection], None],
    ) -> None:
        self.loop, self.sock = loop, sock
        self.protocol = ServerProtocol(max_size=None)
        self.request: Request | None = None
        self.closed = False
        self._on_open, self._on_message, self._on_close = on_open, on_message, on_close
        self._pending = bytearray()  # written when the socket takes it
        self._fragments: list[bytes] = []
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        loop.add_reader(sock.fileno(), self._readable)

    def send(self, text: str) -> None:
        if self.closed or self.protocol.state is not State.OPEN:
            return  # the session ended under a scheduled answer: nothing to say to anyone
        self.protocol.send_text(text.encode())
        self._flush()

    def _readable(self) -> None:
        try:
            data, ancillary, _flags, _addr = self.sock.recvmsg(_READ, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        arrived = kernel_ns(ancillary) or time.time_ns()
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._frame(event, arrived)
        self._flush()
        if not data or self.protocol.state is State.CLOSED:
            self.close()

    def _handshake(self, request: Request) -> None:
        response = self.protocol.accept(request)
        self.protocol.send_response(response)
        if response.status_code == 101:
            self.request = request
            self._flush()
            self._on_open(self)

    def _frame(self, frame: Frame, arrived: int) -> None:
        if frame.opcode is Opcode.TEXT or (frame.opcode is Opcode.CONT and self._fragments):
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                text = b"".join(self._fragments).decode()
                self._fragments.clear()
                self._on_message(self, text, arrived)

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if not chunk:  # the protocol's end of stream: the close handshake is done
                self.close()
                return
            if self._pending:
                self._pending += chunk
                continue
            try:
                sent = self.sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.close()
                return
            if sent < len(chunk):
                self._pending += chunk[sent:]
                self.loop.add_writer(self.sock.fileno(), self._writable)

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self._pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        del self._pending[:sent]
        if not self._pending:
            self.loop.remove_writer(self.sock.fileno())

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.sock.fileno())
        self.loop.remove_writer(self.sock.fileno())
        self.sock.close()
        self._on_close(self)


def _wants_websocket(head: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and value.strip().lower() == b"websocket":
            return True
    return False


async def _head(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """The request head, peeked: left in the socket for whoever takes the connection."""
    while True:
        readable = loop.create_future()
        loop.add_reader(sock.fileno(), readable.set_result, None)
        try:
            await readable
        finally:
            loop.remove_reader(sock.fileno())
        head = sock.recv(_READ, socket.MSG_PEEK)
        if not head or _HEAD_END in head:
            return head
        await asyncio.sleep(0.001)  # a head split across segments: the rest is on its way


async def serve_stamped(
    host: str,
    port: int,
    connection: Callable[[asyncio.AbstractEventLoop, socket.socket], object],
    http: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[socket.socket, asyncio.Task[None]]:
    """Listen on host:port; websocket upgrades go to `connection(loop, sock)`, anything else to
    `http(reader, writer)`. Returns the listening socket and the accept task."""
    loop = asyncio.get_running_loop()
    listener = socket.create_server((host, port), backlog=512)
    listener.setblocking(False)

    async def take(sock: socket.socket) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = await _head(loop, sock)
        if _wants_websocket(head):
            connection(loop, sock)
            return
        reader, writer = await asyncio.open_connection(sock=sock)
        await http(reader, writer)

    async def accept() -> None:
        tasks: set[asyncio.Task[None]] = set()
        while True:
            sock, _ = await loop.sock_accept(listener)
            task = loop.create_task(take(sock))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    return listener, loop.create_task(accept())
