"""The SIP server: transports + the sans-I/O ``UasCore`` + RTP ports, and the call-control seam.

The rest of the bridge implements ``CallHandler`` (offer -> accept/reject, answered, ended)
and may call ``hang_up``. It knows nothing about the model; this module knows nothing of it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Protocol, assert_never

from realtime_bridge.deadline_timer import DeadlineTimer
from realtime_bridge.rtp.ports import NoFreePort, RtpPortPool
from realtime_bridge.rtp.session import RtpSession
from realtime_bridge.rtp.srtp import SrtpContext, SrtpKey
from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.events import (
    CallAnswered,
    CallEnded,
    CallInfo,
    CallOffered,
    EndReason,
    MediaUpdated,
    Output,
    Transmit,
)
from realtime_bridge.sip.transport import TcpTransport, UdpTransport, tls_client_context, tls_server_context
from realtime_bridge.sip.uas import UasCore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accept:
    pass


@dataclass(frozen=True, slots=True)
class Reject:
    status: int = 603  # Decline; 486 Busy Here and 480 Temporarily Unavailable also fit


Decision = Accept | Reject


class CallHandler(Protocol):
    async def on_offer(self, call: CallInfo) -> Decision:
        """The caller is ringing (100/180 sent). Return Accept to answer with 200 + SDP."""
        ...

    async def on_answered(self, call: CallInfo, media: RtpSession) -> None:
        """The 200 was acknowledged: audio flows through ``media`` until ``on_ended``."""
        ...

    async def on_ended(self, call: CallInfo, reason: EndReason) -> None:
        """The call is over (either side, cancel or timeout); ``media`` is already closed."""
        ...


class SipServer:
    def __init__(self, config: SipConfig, handler: CallHandler, *, public_ip: str) -> None:
        self.config = config
        self.handler = handler
        self.public_ip = public_ip
        self._core: UasCore | None = None
        self._udp: UdpTransport | None = None
        self._tcp: TcpTransport | None = None
        self._tls: TcpTransport | None = None
        self.tls_port = config.tls_port
        self._ports = RtpPortPool(config.bind_host, config.rtp_port_min, config.rtp_port_max)
        self._calls: dict[str, CallInfo] = {}
        self._media: dict[str, RtpSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer = DeadlineTimer(self._on_deadline)
        self._idle = asyncio.Event()
        self._idle.set()
        self.sip_port = config.sip_port

    @property
    def core(self) -> UasCore:
        assert self._core is not None, "SipServer.start() first"
        return self._core

    async def start(self) -> None:
        # With port 0 the UDP socket picks the number and TCP must get the same one; another
        # socket may already hold it for TCP, so pick again (a configured port fails at once).
        attempts = 20 if self.config.sip_port == 0 else 1
        port = self.config.sip_port
        for attempt in range(attempts if {"udp", "tcp"} & set(self.config.transports) else 0):
            try:
                port = await self._listen(self.config.sip_port)
                break
            except OSError:
                if self._udp is not None:
                    self._udp.close()
                    self._udp = None
                if attempt == attempts - 1:
                    raise
        self.sip_port = port
        if "tls" in self.config.transports:
            await self._listen_tls()
            port = port if {"udp", "tcp"} & set(self.config.transports) else self.tls_port
        self._core = UasCore(
            self.config,
            contact_host=self.config.contact_host or self.public_ip,
            contact_port=self.config.contact_port or port,
            media_host=self.public_ip,
            tls_contact_port=self.config.contact_port or self.tls_port,
        )
        log.info("SIP listening on %s:%s %s", self.config.bind_host, port, self.config.transports)

    async def _listen_tls(self) -> None:
        cfg = self.config
        assert cfg.tls_cert_file and cfg.tls_key_file  # SipConfig checks it
        contexts = (tls_server_context(cfg.tls_cert_file, cfg.tls_key_file), tls_client_context(cfg.tls_ca_file))
        self._tls = TcpTransport(self._on_message, cfg.source_allowed, tls=contexts)
        self.tls_port = await self._tls.listen(cfg.bind_host, cfg.tls_port)
        log.info("SIP over TLS listening on %s:%s", cfg.bind_host, self.tls_port)

    async def _listen(self, port: int) -> int:
        loop = asyncio.get_running_loop()
        if "udp" in self.config.transports:
            _, self._udp = await loop.create_datagram_endpoint(
                lambda: UdpTransport(self._on_message), local_addr=(self.config.bind_host, port)
            )
            port = self._udp.port
        if "tcp" in self.config.transports:
            self._tcp = TcpTransport(self._on_message, self.config.source_allowed)
            port = await self._tcp.listen(self.config.bind_host, port)
        return port

    # ---- control -----------------------------------------------------------------------------
    def hang_up(self, call_id: str) -> None:
        self._apply(self.core.hang_up(call_id, _now()))

    def drain(self) -> None:
        """Stop taking calls: OPTIONS and new INVITEs get 503; active calls continue."""
        log.info("draining: %d active calls", self.core.active_calls)
        self.core.start_draining()

    def install_sigterm(self) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.drain)

    @property
    def active_calls(self) -> int:
        return self.core.active_calls

    @property
    def draining(self) -> bool:
        return self.core.draining

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def close(self) -> None:
        self._timer.cancel()
        for media in self._media.values():
            media.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        if self._tls is not None:
            self._tls.close()

    # ---- plumbing ----------------------------------------------------------------------------
    def _on_message(self, data: bytes, peer: Peer) -> None:
        self._apply(self.core.receive(data, peer, _now()))

    def _on_deadline(self, now: float) -> None:
        self._apply(self.core.on_timer(now))

    def _apply(self, outputs: list[Output]) -> None:
        for out in outputs:
            match out:
                case Transmit():
                    self._transmit(out)
                case CallOffered(call=call):
                    self._calls[call.call_id] = call
                    self._idle.clear()
                    self._spawn(self._offer(call))
                case CallAnswered(call_id=call_id):
                    if call_id in self._media:
                        self._spawn(self.handler.on_answered(self._calls[call_id], self._media[call_id]))
                case MediaUpdated(call_id=call_id, remote_media=media):
                    if call_id in self._media:
                        self._media[call_id].set_remote((media.address, media.port))
                case CallEnded(call_id=call_id, reason=reason):
                    self._ended(call_id, reason)
                case _:
                    assert_never(out)
        self._rearm()

    def _transmit(self, out: Transmit) -> None:
        transport = {"udp": self._udp, "tcp": self._tcp, "tls": self._tls}[out.dest.transport]
        if transport is None:
            log.warning("no %s transport to reach %s", out.dest.transport, out.dest)
            return
        transport.send(out.data, out.dest)

    def _rearm(self) -> None:
        self._timer.arm(self.core.next_deadline())

    def _ended(self, call_id: str, reason: EndReason) -> None:
        media = self._media.pop(call_id, None)
        if media is not None:
            media.close()
        call = self._calls.pop(call_id, None)
        if call is not None:
            self._spawn(self.handler.on_ended(call, reason))
        if not self._calls:
            self._idle.set()

    async def _offer(self, call: CallInfo) -> None:
        try:
            decision = await self.handler.on_offer(call)
        except Exception:  # one handler bug must not leave the caller ringing
            log.exception("on_offer failed for %s", call.call_id)
            decision = Reject(500)
        if self.core.state(call.call_id) is None:
            return  # cancelled while the handler was deciding
        match decision:
            case Reject(status=status):
                self._apply(self.core.reject(call.call_id, status, _now()))
            case Accept():
                await self._answer(call)
            case _:
                assert_never(decision)

    async def _answer(self, call: CallInfo) -> None:
        try:
            sock = self._ports.bind()
        except NoFreePort:
            log.error("no RTP port for %s", call.call_id)
            self._apply(self.core.reject(call.call_id, 503, _now()))
            return
        offer = call.remote_media
        theirs = offer.chosen_crypto
        ours = SrtpKey.generate() if theirs is not None else None
        srtp = SrtpContext(local=ours, remote=theirs.key) if ours and theirs else None
        media = await RtpSession.open(
            sock, (offer.address, offer.port), telephone_event_pt=offer.telephone_event_pt, srtp=srtp
        )
        outputs = self.core.answer(call.call_id, media.local_port, _now(), srtp_key=ours)
        if not outputs:
            media.close()
            return
        self._media[call.call_id] = media
        self._apply(outputs)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call handler task failed", exc_info=task.exception())


def _now() -> float:
    return asyncio.get_running_loop().time()
