"""The simulated caller's signalling: the sans-I/O ``UacCall`` on the bridge's own asyncio
transports, with its retransmission timer. One call per leg.

Over TCP (and TLS) the leg also listens on its Contact port, because a far end may send its
BYE on a new connection (Chime does); over UDP one socket sends and receives everything.
Over TLS the bridge's certificate must chain to the configured CA, as a phone would check it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import TypeVar, assert_never

from realtime_bridge.deadline_timer import DeadlineTimer
from realtime_bridge.rtp.srtp import SrtpKey
from realtime_bridge.sip.build import Peer, Transport
from realtime_bridge.sip.events import Transmit
from realtime_bridge.sip.message import SipParseError
from realtime_bridge.sip.sdp import AudioOffer
from realtime_bridge.sip.transport import TcpTransport, UdpTransport, tls_client_context, tls_server_context
from realtime_bridge.sip.uac import Answered, Failed, Hungup, Ringing, UacCall, UacOutput
from simulator.caller_result import CallerOptions

log = logging.getLogger(__name__)
T = TypeVar("T")
TlsContexts = tuple[ssl.SSLContext, ssl.SSLContext]  # (for our Contact listener, for connecting out)


def caller_tls(options: CallerOptions) -> TlsContexts | None:
    """The caller's TLS contexts, or None when it does not call over TLS."""
    if options.transport != "tls":
        return None
    if not (options.tls_cert_file and options.tls_key_file):
        raise ValueError("a TLS caller needs tls_cert_file and tls_key_file for its Contact listener")
    return tls_server_context(options.tls_cert_file, options.tls_key_file), tls_client_context(options.tls_ca_file)


class CallerSipLeg:
    def __init__(
        self,
        *,
        target: Peer,
        local_host: str,
        callee: str,
        caller: str,
        media_port: int,
        extra_headers: list[tuple[str, str]],
        t1: float,
        on_change: Callable[[], None],
        tls: TlsContexts | None = None,
        srtp_key: SrtpKey | None = None,
    ) -> None:
        self.target = target
        self._local_host = local_host
        self._callee = callee
        self._caller = caller
        self._media_port = media_port
        self._extra = extra_headers
        self._t1 = t1
        self._on_change = on_change  # wakes whoever waits on the call's state
        self._tls = tls
        self._srtp_key = srtp_key
        self._udp: UdpTransport | None = None
        self._tcp: TcpTransport | None = None
        self._uac: UacCall | None = None
        self._timer = DeadlineTimer(self._on_deadline)
        self.ringing_at: float | None = None
        # AudioOffer once answered; the status of a final failure otherwise.
        self.outcome: asyncio.Future[AudioOffer | int] = asyncio.get_running_loop().create_future()
        # True when the far end hung up (its BYE), False when ours completed or gave up.
        self.hungup: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @property
    def call_id(self) -> str:
        return self._uac.call_id if self._uac is not None else ""

    @property
    def uac(self) -> UacCall:
        assert self._uac is not None, "open() first"
        return self._uac

    async def open(self) -> None:
        """Bind the signalling socket (its port goes into Via and Contact) and build the call."""
        transport: Transport = self.target.transport
        if transport == "udp":
            _, self._udp = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: UdpTransport(self._on_message), local_addr=(self._local_host, 0)
            )
            port = self._udp.port
        else:
            if transport == "tls" and self._tls is None:
                raise ValueError("SIP over TLS needs TLS contexts")
            tls = self._tls if transport == "tls" else None
            self._tcp = TcpTransport(self._on_message, admit=lambda _host: True, tls=tls)
            port = await self._tcp.listen(self._local_host, 0)
        self._uac = UacCall(
            target=self.target,
            callee=self._callee,
            caller=self._caller,
            local_host=self._local_host,
            local_port=port,
            media_host=self._local_host,
            media_port=self._media_port,
            extra_headers=self._extra,
            t1=self._t1,
            srtp_key=self._srtp_key,
        )

    def invite(self) -> None:
        self._apply(self.uac.invite(_now()))

    def hang_up(self) -> None:
        """BYE once answered, CANCEL while ringing."""
        self._apply(self.uac.hang_up(_now()))

    def close(self) -> None:
        self._timer.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()

    # ---- plumbing --------------------------------------------------------------------------------
    def _on_message(self, data: bytes, source: Peer) -> None:
        try:
            outputs = self.uac.receive(data, source, _now())
        except SipParseError as exc:  # a transport callback must not raise; the call goes on
            log.warning("simulated caller: unparseable SIP from %s: %s", source, exc)
            return
        self._apply(outputs)

    def _on_deadline(self, now: float) -> None:
        self._apply(self.uac.on_timer(now))

    def _apply(self, outputs: list[UacOutput]) -> None:
        for out in outputs:
            match out:
                case Transmit(data=data, dest=dest):
                    sender = self._udp if dest.transport == "udp" else self._tcp
                    if sender is not None:
                        sender.send(data, dest)
                case Ringing():
                    self.ringing_at = _now()
                case Answered(remote_media=media):
                    _resolve(self.outcome, media)
                case Failed(status=status):
                    _resolve(self.outcome, status)
                    _resolve(self.hungup, False)
                case Hungup(by_remote=by_remote):
                    _resolve(self.hungup, by_remote)
                case _:
                    assert_never(out)
        self._rearm()
        self._on_change()

    def _rearm(self) -> None:
        self._timer.arm(self.uac.next_deadline())


def _resolve(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


def _now() -> float:
    return asyncio.get_running_loop().time()
