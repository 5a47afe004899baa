"""Thin asyncio transports: they move bytes between sockets and the sans-I/O core, nothing else.

UDP: one datagram is one message. TCP: ``StreamFramer`` splits the stream on Content-Length;
a connection whose framing breaks is closed (it cannot be resynchronised), other connections
and calls are untouched. Replies go back on the connection a request came in on; when it has
gone (Chime sends the ACK or BYE on a new connection), a new one is opened.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import cast

from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.framing import StreamFramer
from realtime_bridge.sip.message import SipParseError

log = logging.getLogger(__name__)
OnMessage = Callable[[bytes, Peer], None]
READ_CHUNK = 65_536


class UdpTransport(asyncio.DatagramProtocol):
    def __init__(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._on_message(data, Peer(addr[0], addr[1], "udp"))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP socket error: %s", exc)

    def send(self, data: bytes, dest: Peer) -> None:
        if self._transport is not None:
            self._transport.sendto(data, (dest.host, dest.port))

    @property
    def port(self) -> int:
        assert self._transport is not None
        return self._transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class TcpTransport:
    def __init__(self, on_message: OnMessage, admit: Callable[[str], bool]) -> None:
        self._on_message = on_message
        self._admit = admit
        self._ids = itertools.count(1)
        self._conns: dict[int, tuple[asyncio.StreamWriter, tuple[str, int]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def listen(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._accepted, host, port)
        return self._server.sockets[0].getsockname()[1]

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _port = writer.get_extra_info("peername")[:2]
        if not self._admit(host):  # SIP scanners: close without a word
            writer.close()
            return
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        conn_id = next(self._ids)
        self._conns[conn_id] = (writer, (host, port))
        framer = StreamFramer()
        peer = Peer(host, port, "tcp", conn_id)
        try:
            while data := await reader.read(READ_CHUNK):
                for message in framer.feed(data):
                    self._on_message(message, peer)
        except SipParseError as exc:
            log.info("closing SIP TCP connection from %s:%s: %s", host, port, exc)
        except ConnectionError as exc:
            log.debug("SIP TCP connection from %s:%s lost: %s", host, port, exc)
        finally:
            del self._conns[conn_id]
            writer.close()

    def send(self, data: bytes, dest: Peer) -> None:
        writer = self._find(dest)
        if writer is not None:
            writer.write(data)
            return
        task = asyncio.get_running_loop().create_task(self._connect_and_send(data, dest))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _find(self, dest: Peer) -> asyncio.StreamWriter | None:
        """An open connection to the exact address, else the one the dialog came in on."""
        live = {cid: (w, addr) for cid, (w, addr) in self._conns.items() if not w.is_closing()}
        for writer, addr in live.values():
            if addr == (dest.host, dest.port):
                return writer
        if dest.conn_id in live:
            return live[dest.conn_id][0]
        return None

    async def _connect_and_send(self, data: bytes, dest: Peer) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(dest.host, dest.port), 5)
        except (OSError, TimeoutError) as exc:
            log.info("cannot reach %s:%s over TCP: %s", dest.host, dest.port, exc)
            return
        writer.write(data)
        await self._serve(reader, writer)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer, _ in list(self._conns.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
