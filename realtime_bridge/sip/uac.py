"""A minimal sans-I/O caller (UAC): INVITE with a PCMU offer, ACK, CANCEL, BYE either way.

For the simulated caller and tests: it shares the parser, builders and SDP code with the UAS,
so the two ends are checked against each other. One call per instance.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from realtime_bridge.rtp.srtp import SrtpKey
from realtime_bridge.sip.build import (
    Peer,
    Transport,
    build_in_dialog_request,
    build_response,
    new_branch,
    new_tag,
    request_destination,
)
from realtime_bridge.sip.events import Transmit
from realtime_bridge.sip.fields import parse_cseq, parse_name_addr, parse_via
from realtime_bridge.sip.message import Headers, SipRequest, SipResponse, parse_message, serialize, with_body
from realtime_bridge.sip.sdp import AudioOffer, CryptoOffer, build_answer, parse_offer
from realtime_bridge.sip.timers import Retransmit


class UacState(StrEnum):
    IDLE = "idle"
    CALLING = "calling"  # INVITE sent
    RINGING = "ringing"  # 180 received
    CONFIRMED = "confirmed"  # 200 received, ACK sent
    ENDING = "ending"  # our BYE or CANCEL sent
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Ringing:
    pass


@dataclass(frozen=True, slots=True)
class Answered:
    remote_media: AudioOffer


@dataclass(frozen=True, slots=True)
class Failed:
    status: int  # final non-2xx to our INVITE (487 after our CANCEL, 486, 503, ...)


@dataclass(frozen=True, slots=True)
class Hungup:
    by_remote: bool


UacEvent = Ringing | Answered | Failed | Hungup
UacOutput = Transmit | UacEvent


class UacCall:
    def __init__(
        self,
        *,
        target: Peer,
        callee: str,
        caller: str,
        local_host: str,
        local_port: int,
        media_host: str,
        media_port: int,
        extra_headers: list[tuple[str, str]] | None = None,
        t1: float = 0.5,
        srtp_key: SrtpKey | None = None,  # offer RTP/SAVP with this key (ours, for what we send)
    ) -> None:
        self.target = target
        self.transport: Transport = target.transport
        self.state = UacState.IDLE
        self.call_id = f"{secrets.token_hex(8)}@{local_host}"
        self._t1 = t1
        self._local = f"<sip:{caller}@{local_host}:{local_port}>;tag={new_tag()}"
        self._remote = f"<sip:{callee}@{target.host}:{target.port}>"
        self._uri = f"sip:{callee}@{target.host}:{target.port}"
        self._via = (local_host, local_port)
        self._contact = f"<sip:{caller}@{local_host}:{local_port};transport={self.transport}>"
        self._extra = extra_headers or []
        self._sdp = build_answer(
            address=media_host,
            port=media_port,
            session_id=secrets.randbelow(2**31),
            version=1,
            offer=None,
            crypto=CryptoOffer(1, srtp_key) if srtp_key is not None else None,
        )
        self._invite: SipRequest | None = None
        self._invite_tx: Retransmit | None = None
        self._bye_tx: Retransmit | None = None
        self._ack: Transmit | None = None
        self._remote_target = self._uri
        self._route_set: list[str] = []
        self._cseq = 1

    # ---- commands ------------------------------------------------------------------------------
    def invite(self, now: float) -> list[UacOutput]:
        headers = Headers()
        headers.add(
            "Via", f"SIP/2.0/{self.transport.upper()} {self._via[0]}:{self._via[1]};branch={new_branch()};rport"
        )
        headers.add("Max-Forwards", "70")
        headers.add("From", self._local)
        headers.add("To", self._remote)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", self._contact)
        for name, value in self._extra:
            headers.add(name, value)
        with_body(headers, self._sdp, "application/sdp")
        self._invite = SipRequest("INVITE", self._uri, headers, self._sdp)
        data = serialize(self._invite)
        self._invite_tx = Retransmit.start(data, self.target, now, t1=self._t1, resend=self.transport == "udp")
        self.state = UacState.CALLING
        return [Transmit(data, self.target)]

    def cancel(self, now: float) -> list[UacOutput]:
        if self._invite is None or self.state not in (UacState.CALLING, UacState.RINGING):
            return []
        headers = Headers()
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
            headers.add(name, self._invite.headers.get(name) or "")
        headers.add("CSeq", "1 CANCEL")
        with_body(headers, b"", None)
        self.state = UacState.ENDING
        return [Transmit(serialize(SipRequest("CANCEL", self._uri, headers)), self.target)]

    def hang_up(self, now: float) -> list[UacOutput]:
        if self.state is not UacState.CONFIRMED:
            return self.cancel(now)
        bye = self._request("BYE")
        dest = request_destination(bye, self.transport, self.target.conn_id)
        data = serialize(bye)
        self._bye_tx = Retransmit.start(data, dest, now, t1=self._t1, resend=self.transport == "udp")
        self.state = UacState.ENDING
        return [Transmit(data, dest)]

    # ---- input ---------------------------------------------------------------------------------
    def receive(self, data: bytes, source: Peer, now: float) -> list[UacOutput]:
        msg = parse_message(data)
        if msg.headers.get("call-id") != self.call_id:
            return []
        if isinstance(msg, SipRequest):
            return self._on_request(msg, source)
        cseq = parse_cseq(msg.headers.get("cseq"))
        if cseq.method == "INVITE":
            return self._on_invite_response(msg, now)
        if cseq.method == "BYE" and msg.status >= 200 and self._bye_tx is not None:
            self._bye_tx = None
            self.state = UacState.ENDED
            return [Hungup(by_remote=False)]
        return []

    def _on_invite_response(self, resp: SipResponse, now: float) -> list[UacOutput]:
        self._invite_tx = None  # any response ends INVITE retransmission and timer B
        if resp.status < 200:
            if resp.status == 180 and self.state is UacState.CALLING:
                self.state = UacState.RINGING
                return [Ringing()]
            return []
        if resp.status >= 300:
            ack = self._ack_for_failure(resp)
            first = self.state is not UacState.ENDED
            self.state = UacState.ENDED
            return [ack, Failed(resp.status)] if first else [ack]
        if self._ack is not None:  # retransmitted 200: ACK again
            return [self._ack]
        self._remote = resp.headers.get("to") or self._remote
        contact = resp.headers.get("contact")
        if contact:
            self._remote_target = parse_name_addr(contact).uri
        self._route_set = list(reversed(resp.headers.values("record-route")))
        request = self._request("ACK", cseq=1)
        self._ack = Transmit(serialize(request), request_destination(request, self.transport, self.target.conn_id))
        was_ending = self.state is UacState.ENDING
        self.state = UacState.CONFIRMED
        out: list[UacOutput] = [self._ack, Answered(parse_offer(resp.body))]
        return [*out, *self.hang_up(now)] if was_ending else out  # 200 crossed our CANCEL

    def _on_request(self, req: SipRequest, source: Peer) -> list[UacOutput]:
        if req.method == "ACK":
            return []
        status = 200 if req.method in ("BYE", "OPTIONS") else 405
        out: list[UacOutput] = [Transmit(serialize(build_response(req, status, source)), self._reply_to(req, source))]
        if req.method == "BYE" and self.state in (UacState.CONFIRMED, UacState.ENDING):
            self.state = UacState.ENDED
            self._bye_tx = None
            out.append(Hungup(by_remote=True))
        return out

    def on_timer(self, now: float) -> list[UacOutput]:
        out: list[UacOutput] = []
        if self._invite_tx is not None:
            if self._invite_tx.give_up <= now:  # timer B: nobody answered at all
                self._invite_tx = None
                self.state = UacState.ENDED
                out.append(Failed(408))
            elif self._invite_tx.due(now, t2=float("inf")):  # timer A doubles without a cap
                out.append(Transmit(self._invite_tx.data, self._invite_tx.dest))
        if self._bye_tx is not None:
            if self._bye_tx.give_up <= now:  # timer F: the far end is gone; so is the call
                self._bye_tx = None
                self.state = UacState.ENDED
                out.append(Hungup(by_remote=False))
            elif self._bye_tx.due(now, t2=8 * self._t1):
                out.append(Transmit(self._bye_tx.data, self._bye_tx.dest))
        return out

    def next_deadline(self) -> float | None:
        times = [t for tx in (self._invite_tx, self._bye_tx) if tx is not None for t in tx.deadlines()]
        return min(times, default=None)

    # ---- helpers -------------------------------------------------------------------------------
    def _request(self, method: str, cseq: int | None = None) -> SipRequest:
        if cseq is None:
            self._cseq += 1
            cseq = self._cseq
        return build_in_dialog_request(
            method,
            remote_target=self._remote_target,
            route_set=self._route_set,
            local=self._local,
            remote=self._remote,
            call_id=self.call_id,
            cseq=cseq,
            via_host=self._via[0],
            via_port=self._via[1],
            transport=self.transport,
            user_agent="voice-agent-sim-caller",
            branch=new_branch(),
        )

    def _ack_for_failure(self, resp: SipResponse) -> Transmit:
        assert self._invite is not None
        headers = Headers()
        headers.add("Via", self._invite.headers.get("via") or "")
        headers.add("Max-Forwards", "70")
        headers.add("From", self._local)
        headers.add("To", resp.headers.get("to") or self._remote)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", "1 ACK")
        with_body(headers, b"", None)
        return Transmit(serialize(SipRequest("ACK", self._uri, headers)), self.target)

    def _reply_to(self, req: SipRequest, source: Peer) -> Peer:
        if source.transport != "udp":
            return source
        via = parse_via(req.headers.values("via")[0])
        return Peer(source.host, source.port if "rport" in via.params else (via.port or 5060), "udp")
