"""One call's RTP: an asyncio datagram endpoint around the pure packet, DTMF and sender cores,
paced with every other stream of the process by the loop's one `Pacer`.

Outbound packets always go to the SDP ``c=``/``m=`` address (``remote``), never to the source
of inbound packets. Inbound PCMU frames and DTMF digits come out of ``inbound()``; a frame the
``audio_sink`` takes at once (the call's fast path to the model's socket) does not.
With an ``SrtpContext`` the edge protects every packet going out and unprotects every packet
coming in before anything parses it; a packet that fails authentication or replays is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import cast

from realtime_bridge.rtp.dtmf import DtmfDigit, DtmfReceiver
from realtime_bridge.rtp.pacer import SLACK, Pacer
from realtime_bridge.rtp.packet import RtpParseError, parse_rtp
from realtime_bridge.rtp.playout import PlayoutBuffer
from realtime_bridge.rtp.sender import RtpSender
from realtime_bridge.rtp.srtp import SrtpContext, SrtpError

log = logging.getLogger(__name__)
PCMU = 0


@dataclass(frozen=True, slots=True)
class AudioFrame:
    payload: bytes  # PCMU, normally 160 bytes (20 ms)
    sequence: int
    timestamp: int


InboundEvent = AudioFrame | DtmfDigit


class RtpSession(asyncio.DatagramProtocol):
    def __init__(
        self,
        remote: tuple[str, int],
        *,
        telephone_event_pt: int | None,
        queue_frames: int,
        srtp: SrtpContext | None = None,
    ) -> None:
        self.remote = remote
        self.srtp = srtp
        self.telephone_event_pt = telephone_event_pt
        self.playout = PlayoutBuffer()
        self.sender = RtpSender(
            self.playout,
            ssrc=secrets.randbits(32),
            sequence=secrets.randbits(16),
            timestamp=secrets.randbits(32),
        )
        self._dtmf = DtmfReceiver()
        self._queue: asyncio.Queue[InboundEvent | None] = asyncio.Queue(queue_frames)
        # Takes a caller frame at once, in the datagram callback (True), or leaves it to `inbound()`
        # (False). Asked only while nothing waits in the queue, so frames stay in arrival order.
        self.audio_sink: Callable[[bytes], bool] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._pacer: Pacer | None = None
        self._closed = False
        self.packets_in = 0
        self.malformed_in = 0
        self.dropped_in = 0
        self.rejected_in = 0  # SRTP: failed authentication or replayed
        self.local_port = 0

    @classmethod
    async def open(
        cls,
        sock: socket.socket,
        remote: tuple[str, int],
        *,
        telephone_event_pt: int | None = 101,
        queue_frames: int = 250,
        srtp: SrtpContext | None = None,
    ) -> RtpSession:
        """Start on an already bound socket (from ``RtpPortPool``); sending begins at once."""
        loop = asyncio.get_running_loop()
        _, session = await loop.create_datagram_endpoint(
            lambda: cls(remote, telephone_event_pt=telephone_event_pt, queue_frames=queue_frames, srtp=srtp),
            sock=sock,
        )
        session.local_port = sock.getsockname()[1]
        session.sender.start(loop.time())
        session._pacer = Pacer.of(loop)
        session._pacer.file(session)
        return session

    # ---- outbound ----------------------------------------------------------------------------
    def send_audio(self, item_id: str, ulaw: bytes) -> None:
        """Queue mu-law audio for ``item_id``; an idle stream starts its talkspurt immediately."""
        self.playout.push(item_id, ulaw)
        if self._pacer is not None and self.sender.should_start_talkspurt():
            self._send(self.sender.frame(self._pacer.now(), talkspurt_now=True))
            self._pacer.file(self)  # the grid moved to this instant

    def clear(self) -> dict[str, int]:
        """Barge-in: drop queued audio; {item_id: ms actually sent} for each item cut short."""
        return self.playout.clear()

    def played_ms(self, item_id: str) -> int:
        return self.playout.played_ms(item_id)

    def set_remote(self, remote: tuple[str, int]) -> None:
        self.remote = remote

    def due(self) -> float | None:
        return self.sender.due()

    def pace(self, now: float) -> None:
        """The pacer's tick: every frame due by now (more than one only after a late tick)."""
        sender = self.sender
        due = sender.due()
        while due is not None and due <= now + SLACK:
            self._send(sender.frame(now))
            due = sender.due()

    def _send(self, packet: memoryview) -> None:
        if self._transport is None or self._closed:
            return
        if self.srtp is None:
            self._transport.sendto(packet, self.remote)
            return
        try:
            self._transport.sendto(self.srtp.protect(packet.tobytes()), self.remote)
        except SrtpError as exc:  # cannot happen for our own well-formed frames; never send clear
            log.warning("RTP frame not sent: %s", exc)

    # ---- inbound -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect(data)
            except SrtpError as exc:
                self.rejected_in += 1
                log.debug("SRTP from %s dropped: %s", addr, exc)
                return
        try:
            packet = parse_rtp(data)
            if packet.payload_type == PCMU:
                sink = self.audio_sink
                if sink is None or self._queue.qsize() or not sink(packet.payload):
                    self._put(AudioFrame(packet.payload, packet.sequence, packet.timestamp))
            elif packet.payload_type == self.telephone_event_pt:
                for digit in self._dtmf.feed(packet):
                    self._put(digit)
            else:
                return
        except RtpParseError as exc:
            self.malformed_in += 1
            log.debug("malformed RTP from %s: %s", addr, exc)
            return
        self.packets_in += 1

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)  # ICMP unreachable while the far end is not up yet

    def _put(self, event: InboundEvent) -> None:
        if self._queue.full():  # nobody is reading fast enough: keep the newest audio
            self._queue.get_nowait()
            self.dropped_in += 1
        self._queue.put_nowait(event)

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        """Caller audio frames and DTMF digits, in arrival order, until the session closes."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pacer is not None:
            self._pacer.remove(self)
            self._pacer = None
        if self._transport is not None:
            self._transport.close()
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
