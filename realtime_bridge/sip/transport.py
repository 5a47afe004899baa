"""Thin asyncio transports: they move bytes between sockets and the sans-I/O core, nothing else.

UDP: one datagram is one message. TCP: ``StreamFramer`` splits the stream on Content-Length;
a connection whose framing breaks is closed (it cannot be resynchronised), other connections
and calls are untouched. Replies go back on the connection a request came in on; when it has
gone (Chime sends the ACK or BYE on a new connection), a new one is opened.
TLS (RFC 3261 26.3.1, port 5061) is the TCP transport with a server context for the
connections it accepts and a client context (peer certificate and name checked) for the ones
it opens.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Callable
from typing import cast

from realtime_bridge.sip.build import Peer, Transport
from realtime_bridge.sip.framing import StreamFramer
from realtime_bridge.sip.message import SipParseError

log = logging.getLogger(__name__)
OnMessage = Callable[[bytes, Peer], None]
READ_CHUNK = 65_536
TLS_HANDSHAKE_TIMEOUT_S = 10.0


def tls_server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """What we present to peers that connect to us (Chime's INVITE, ACK and BYE)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


def tls_client_context(ca_file: str | None) -> ssl.SSLContext:
    """For connections we open (a BYE when the caller's connection has gone): the peer's
    certificate must chain to ``ca_file`` (Chime's root) or, without it, the system store."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


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
        return int(self._transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class TcpTransport:
    def __init__(
        self,
        on_message: OnMessage,
        admit: Callable[[str], bool],
        *,
        tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,  # (server, client) contexts
    ) -> None:
        self._on_message = on_message
        self._admit = admit
        self._tls = tls
        self.name: Transport = "tcp" if tls is None else "tls"
        self._ids = itertools.count(1)
        self._conns: dict[int, tuple[asyncio.StreamWriter, tuple[str, int]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def listen(self, host: str, port: int) -> int:
        server_ssl = self._tls[0] if self._tls is not None else None
        handshake = TLS_HANDSHAKE_TIMEOUT_S if server_ssl is not None else None
        self._server = await asyncio.start_server(
            self._accepted, host, port, ssl=server_ssl, ssl_handshake_timeout=handshake
        )
        return int(self._server.sockets[0].getsockname()[1])

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
        peer = Peer(host, port, self.name, conn_id)
        try:
            while data := await reader.read(READ_CHUNK):
                for message in framer.feed(data):
                    self._on_message(message, peer)
        except SipParseError as exc:
            log.info("closing SIP %s connection from %s:%s: %s", self.name, host, port, exc)
        except (ConnectionError, ssl.SSLError) as exc:
            log.debug("SIP %s connection from %s:%s lost: %s", self.name, host, port, exc)
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
        client_ssl = self._tls[1] if self._tls is not None else None
        try:
            connecting = asyncio.open_connection(dest.host, dest.port, ssl=client_ssl)
            reader, writer = await asyncio.wait_for(connecting, 5)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError (a bad certificate) is an OSError
            log.info("cannot reach %s:%s over %s: %s", dest.host, dest.port, self.name, exc)
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
