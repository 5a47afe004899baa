"""The sans-I/O user agent server: the RFC 3261 subset Amazon Chime Voice Connector uses.

``receive(bytes, source, now)``, ``answer``/``reject``/``hang_up`` and ``on_timer(now)`` return
``Output``s (bytes to transmit, call events). No sockets, no clock: the caller passes ``now``.
Call state moves only through ``_TRANSITIONS`` via ``_move``, which logs every step.
"""

from __future__ import annotations

import logging
import secrets

from realtime_bridge.rtp.srtp import SrtpKey
from realtime_bridge.sip.build import (
    Peer,
    build_in_dialog_request,
    build_response,
    new_branch,
    new_tag,
    refusal_for_malformed,
    request_destination,
    response_destination,
    scan_request,
)
from realtime_bridge.sip.call_state import Call, CallEvent, CallState, next_state
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
from realtime_bridge.sip.fields import BRANCH_MAGIC, parse_cseq, parse_name_addr, parse_via
from realtime_bridge.sip.message import SipParseError, SipRequest, SipResponse, parse_message, serialize
from realtime_bridge.sip.sdp import AudioOffer, CryptoOffer, SdpError, build_answer, parse_offer
from realtime_bridge.sip.timers import CachedResponse, Retransmit
from realtime_bridge.sip.validate import ALLOW, BODY_TYPE, check_well_formed, refusal

log = logging.getLogger(__name__)
_CLEAR_REFUSED = ("Warning", '399 bridge "encryption required: offer RTP/SAVP with a=crypto"')


class UasCore:
    def __init__(
        self,
        config: SipConfig,
        *,
        contact_host: str,
        contact_port: int,
        media_host: str | None = None,
        tls_contact_port: int | None = None,
    ) -> None:
        self.config = config
        self.contact_host = contact_host
        self.contact_port = contact_port
        self.tls_contact_port = tls_contact_port or contact_port  # Contact for calls over TLS
        self.media_host = media_host or contact_host  # SDP c=: the task's public IP
        self.draining = False
        self.dropped_unlisted = 0
        self.malformed = 0
        self._calls: dict[str, Call] = {}
        # INVITE server transactions that ended in a non-2xx final, waiting for their ACK,
        # by transaction key.
        self._rejects: dict[str, Retransmit] = {}
        # Final responses of non-INVITE server transactions, for retransmitted requests.
        self._cache: dict[tuple[str, str], CachedResponse] = {}  # (transaction key, method)

    # ---- queries -------------------------------------------------------------------------
    @property
    def active_calls(self) -> int:
        return sum(1 for c in self._calls.values() if c.state is not CallState.ENDED)

    def state(self, call_id: str) -> CallState | None:
        call = self._calls.get(call_id)
        return call.state if call else None

    def next_deadline(self) -> float | None:
        times = [t for r in self._retransmits() for t in r.deadlines()]
        times += [c.expires for c in self._cache.values()]
        return min(times, default=None)

    def _retransmits(self) -> list[Retransmit]:
        out = list(self._rejects.values())
        for call in self._calls.values():
            out += [r for r in (call.unacked_2xx, call.bye) if r is not None]
        return out

    # ---- input ---------------------------------------------------------------------------
    def receive(self, data: bytes, source: Peer, now: float) -> list[Output]:
        if not self.config.source_allowed(source.host):
            self.dropped_unlisted += 1
            return []
        try:
            message = parse_message(data)
        except SipParseError as exc:
            request = scan_request(data)
            return self._malformed(request, source, exc)
        if isinstance(message, SipResponse):
            try:
                return self._on_response(message, now)
            except SipParseError as exc:
                return self._malformed(None, source, exc)
        try:
            check_well_formed(message)
        except SipParseError as exc:
            return self._malformed(message, source, exc)
        return self._on_request(message, source, now)

    def _malformed(self, request: SipRequest | None, source: Peer, exc: SipParseError) -> list[Output]:
        """A stateless 400/505 when the request names a Via to answer along; nothing else moves."""
        self.malformed += 1
        # The reason's head says which rule broke; its tail may quote a caller's number (PII).
        log.info("malformed SIP from %s:%s: %s", source.host, source.port, exc.reason.partition(":")[0])
        if request is None:
            return []
        reply = refusal_for_malformed(request, exc.status, source, exc.reason)
        return [] if reply is None else [Transmit(serialize(reply[0]), reply[1])]

    def _on_request(self, req: SipRequest, source: Peer, now: float) -> list[Output]:
        """A well-formed request: its transaction first (retransmissions), then RFC 3261 8.2."""
        key = transaction_key(req)
        call_id = req.headers.get("call-id") or ""
        if req.method == "ACK":
            return self._on_ack(req, key, call_id, now)
        cached = self._cache.get((key, req.method))
        if cached is not None:
            return [Transmit(cached.data, cached.dest)]
        if req.method == "INVITE" and key in self._rejects:  # retransmission of a refused INVITE
            return [Transmit(self._rejects[key].data, self._rejects[key].dest)]
        refused = refusal(req)
        if refused is not None:
            log.info("refused %s with %s: %s", req.method[:20], refused.status, refused.why)
            if req.method == "INVITE":
                return self._reject_invite(req, source, key, now, refused.status, extra=list(refused.extra))
            return self._reply_once(req, source, key, now, refused.status, extra=list(refused.extra))
        match req.method:
            case "INVITE":
                return self._on_invite(req, source, key, call_id, now)
            case "BYE":
                return self._on_bye(req, source, key, call_id, now)
            case "CANCEL":
                return self._on_cancel(req, source, key, call_id, now)
            case "OPTIONS":
                status = 503 if self.draining else 200
                extra = [("Allow", ALLOW), ("Accept", BODY_TYPE)]
                return self._reply_once(req, source, key, now, status, extra=extra)
            case _:
                raise AssertionError(f"refusal() let {req.method} through")

    def _on_invite(self, req: SipRequest, source: Peer, branch: str, call_id: str, now: float) -> list[Output]:
        """``branch`` is the transaction key (``transaction_key``) throughout."""
        call = self._calls.get(call_id)
        if call is not None:
            if branch == call.branch:  # retransmitted initial INVITE
                return [Transmit(call.last_invite_response, response_destination(req, source))]
            if parse_name_addr(req.headers.get("to") or "").tag == call.local_tag:
                return self._on_reinvite(call, req, source, branch, now)
            return self._reject_invite(req, source, branch, now, 481)
        if parse_name_addr(req.headers.get("to") or "").tag is not None:
            return self._reject_invite(req, source, branch, now, 481)
        if self.draining:
            return self._reject_invite(req, source, branch, now, 503, extra=[("Retry-After", "30")])
        wanted = self.config.required_voice_connector_id()
        if wanted is not None and req.headers.get("x-voiceconnector-id") != wanted:
            return self._reject_invite(req, source, branch, now, 403)
        if self.active_calls >= self.config.max_calls:
            return self._reject_invite(req, source, branch, now, 486)
        try:
            offer = parse_offer(req.body)
        except SdpError as exc:
            log.info("unanswerable offer on %s: %s", call_id, exc)
            return self._reject_invite(req, source, branch, now, 488)
        if not self._acceptable(offer, call_id):
            return self._reject_invite(req, source, branch, now, 488, extra=[_CLEAR_REFUSED])
        if not self._acceptable(offer, call_id):
            return self._reject_invite(req, source, branch, now, 488, extra=[_CLEAR_REFUSED])
        contact = req.headers.get("contact")
        call = Call(
            call_id=call_id,
            state=CallState.OFFERED,
            invite=req,
            source=source,
            branch=branch,
            local_tag=new_tag(),
            offer=offer,
            route_set=req.headers.values("record-route"),
            remote_target=parse_name_addr(contact).uri if contact else req.uri.split(";")[0],
            local_cseq=secrets.randbelow(2**16) + 1,
        )
        self._calls[call_id] = call
        dest = response_destination(req, source)
        trying = serialize(build_response(req, 100, source))
        ringing = serialize(self._dialog_response(call, req, 180))
        call.last_invite_response = ringing
        info = CallInfo(
            call_id=call_id,
            caller=parse_name_addr(req.headers.get("from") or "").uri,
            callee=parse_name_addr(req.headers.get("to") or "").uri,
            voice_connector_id=req.headers.get("x-voiceconnector-id"),
            source=source,
            remote_media=offer,
            request_uri=req.uri.split(";")[0],
        )
        log.info("call %s offered", call_id)
        return [Transmit(trying, dest), Transmit(ringing, dest), CallOffered(info)]

    def _on_reinvite(self, call: Call, req: SipRequest, source: Peer, branch: str, now: float) -> list[Output]:
        if call.state is not CallState.CONFIRMED or call.unacked_2xx is not None:
            return self._reject_invite(req, source, branch, now, 500, extra=[("Retry-After", "1")])
        out: list[Output] = []
        if req.body:
            try:
                offer = parse_offer(req.body)
            except SdpError:
                return self._reject_invite(req, source, branch, now, 488)
            if not self._acceptable(offer, call.call_id) or offer.encrypted != call.offer.encrypted:
                return self._reject_invite(req, source, branch, now, 488, extra=[_CLEAR_REFUSED])
            if not self._acceptable(offer, call.call_id) or offer.encrypted != call.offer.encrypted:
                return self._reject_invite(req, source, branch, now, 488, extra=[_CLEAR_REFUSED])
            if (offer.address, offer.port) != (call.offer.address, call.offer.port):
                out.append(MediaUpdated(call.call_id, offer))
            call.offer = offer
        sdp = self._sdp(call)
        if sdp != call.answer_sdp:
            call.sdp_version += 1
            sdp = self._sdp(call)
        call.answer_sdp = sdp
        ok = serialize(self._dialog_response(call, req, 200, body=sdp))
        call.unacked_2xx = self._retransmit(ok, response_destination(req, source), now, always=True)
        return [Transmit(ok, call.unacked_2xx.dest), *out]

    def _on_ack(self, req: SipRequest, branch: str, call_id: str, now: float) -> list[Output]:
        if self._rejects.pop(branch, None) is not None:  # ACK for a non-2xx final
            return []
        call = self._calls.get(call_id)
        if call is None or call.unacked_2xx is None:
            return []  # stray or retransmitted ACK
        if parse_name_addr(req.headers.get("to") or "").tag != call.local_tag:
            return []
        call.unacked_2xx = None
        if call.state is CallState.CONFIRMED:
            return []
        out: list[Output] = [CallAnswered(call_id)]
        self._move(call, CallEvent.ACK)
        if call.bye_pending:
            out += self.hang_up(call_id, now)
        return out

    def _on_bye(self, req: SipRequest, source: Peer, branch: str, call_id: str, now: float) -> list[Output]:
        call = self._calls.get(call_id)
        to_tag = parse_name_addr(req.headers.get("to") or "").tag
        if call is None or to_tag != call.local_tag or next_state(call.state, CallEvent.BYE_IN) is None:
            return self._reply_once(req, source, branch, now, 481)
        out = self._reply_once(req, source, branch, now, 200, to_tag=call.local_tag)
        self._move(call, CallEvent.BYE_IN)
        del self._calls[call_id]
        return out if call.end_reported else [*out, CallEnded(call_id, EndReason.REMOTE_BYE)]

    def _on_cancel(self, req: SipRequest, source: Peer, branch: str, call_id: str, now: float) -> list[Output]:
        call = self._calls.get(call_id)
        if call is None or call.branch != branch:
            return self._reply_once(req, source, branch, now, 481)
        out = self._reply_once(req, source, branch, now, 200, to_tag=call.local_tag)
        if call.state is CallState.OFFERED:  # too late once answered: the 200 stands
            out += self._end_unanswered(call, 487, EndReason.CANCELLED, now)
        return out

    def _on_response(self, resp: SipResponse, now: float) -> list[Output]:
        vias = resp.headers.values("via")
        branch = parse_via(vias[0]).branch if vias else None
        cseq = parse_cseq(resp.headers.get("cseq"))
        call = self._calls.get(resp.headers.get("call-id") or "")
        if call is None or call.bye is None or branch != call.bye_branch or cseq.method != "BYE":
            return []
        if resp.status < 200:
            call.bye.next_at = None  # provisional: stop resending, keep waiting (timer F)
            return []
        return self._finish_bye(call)

    # ---- application commands --------------------------------------------------------------
    def answer(self, call_id: str, media_port: int, now: float, *, srtp_key: SrtpKey | None = None) -> list[Output]:
        """Accept an offered call; RTP for it is received on ``media_port``. An SRTP offer needs
        ``srtp_key``: ours, which goes into the answer and protects what we send."""
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED:
            return []
        if call.offer.encrypted != (srtp_key is not None):
            raise ValueError("an SRTP offer is answered with our SRTP key, a clear one without")
        call.media_port = media_port
        call.srtp_key = srtp_key
        call.answer_sdp = self._sdp(call)
        ok = serialize(self._dialog_response(call, call.invite, 200, body=call.answer_sdp))
        call.last_invite_response = ok
        call.unacked_2xx = self._retransmit(ok, response_destination(call.invite, call.source), now, always=True)
        self._move(call, CallEvent.ANSWER)
        return [Transmit(ok, call.unacked_2xx.dest)]

    def reject(self, call_id: str, status: int, now: float) -> list[Output]:
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED:
            return []
        return self._end_unanswered(call, status, EndReason.REJECTED, now)

    def hang_up(self, call_id: str, now: float) -> list[Output]:
        call = self._calls.get(call_id)
        if call is None:
            return []
        match call.state:
            case CallState.OFFERED:
                return self._end_unanswered(call, 480, EndReason.REJECTED, now)
            case CallState.ANSWERING:
                call.bye_pending = True
                return []
            case CallState.CONFIRMED:
                out = self._send_bye(call, now)
                self._move(call, CallEvent.HANG_UP)
                return out
            case CallState.ENDING | CallState.ENDED:
                return []

    def start_draining(self) -> None:
        self.draining = True

    # ---- timers ------------------------------------------------------------------------------
    def on_timer(self, now: float) -> list[Output]:
        out: list[Output] = []
        for key in [k for k, c in self._cache.items() if c.expires <= now]:
            del self._cache[key]
        for branch, txn in list(self._rejects.items()):
            if txn.give_up <= now:  # timer H: no ACK for our non-2xx, forget it
                del self._rejects[branch]
            elif self._due(txn, now):
                out.append(Transmit(txn.data, txn.dest))
        for call in list(self._calls.values()):
            if call.unacked_2xx is not None:
                if call.unacked_2xx.give_up <= now:
                    out += self._ack_timeout(call, now)
                elif self._due(call.unacked_2xx, now):
                    out.append(Transmit(call.unacked_2xx.data, call.unacked_2xx.dest))
            if call.bye is not None:
                if call.bye.give_up <= now:  # timer F: the far end is gone; the call is over anyway
                    out += self._finish_bye(call)
                elif self._due(call.bye, now):
                    out.append(Transmit(call.bye.data, call.bye.dest))
        return out

    def _due(self, r: Retransmit, now: float) -> bool:
        return r.due(now, self.config.t2)

    def _retransmit(self, data: bytes, dest: Peer, now: float, *, always: bool) -> Retransmit:
        # 2xx to INVITE is resent on every transport (RFC 3261 13.3.1.4); others only on UDP.
        resend = always or dest.transport == "udp"
        return Retransmit.start(data, dest, now, t1=self.config.t1, resend=resend)

    def _ack_timeout(self, call: Call, now: float) -> list[Output]:
        call.unacked_2xx = None
        if call.state is CallState.CONFIRMED:  # a re-INVITE's 200 went unacknowledged: keep the call
            return []
        # The dialog counts as confirmed; end the session with a BYE (RFC 3261 13.3.1.4).
        out = self._send_bye(call, now)
        self._move(call, CallEvent.ACK_TIMEOUT)
        call.end_reported = True
        return [*out, CallEnded(call.call_id, EndReason.ACK_TIMEOUT)]

    # ---- helpers -----------------------------------------------------------------------------
    def _move(self, call: Call, event: CallEvent) -> None:
        new = next_state(call.state, event)
        if new is None:
            raise AssertionError(f"no transition from {call.state} on {event}")
        log.info("call %s: %s --%s--> %s", call.call_id, call.state, event, new)
        call.state = new

    def _acceptable(self, offer: AudioOffer, call_id: str) -> bool:
        if self.config.encryption == "required" and not offer.encrypted:
            log.info("clear RTP offer on %s refused: encryption is required", call_id)
            return False
        return True

    def _sdp(self, call: Call) -> bytes:
        chosen = call.offer.chosen_crypto
        return build_answer(
            address=self.media_host,
            port=call.media_port,
            session_id=call.session_id,
            version=call.sdp_version,
            offer=call.offer,
            crypto=CryptoOffer(chosen.tag, call.srtp_key) if chosen and call.srtp_key else None,
        )

    def _contact(self, call: Call) -> str:
        user = call.invite.uri.partition(":")[2].partition("@")
        at = f"{user[0]}@" if user[1] else ""
        port = self.tls_contact_port if call.source.transport == "tls" else self.contact_port
        return f"<sip:{at}{self.contact_host}:{port};transport={call.source.transport}>"

    def _dialog_response(self, call: Call, req: SipRequest, status: int, body: bytes = b"") -> SipResponse:
        extra = [("Record-Route", rr) for rr in req.headers.get_all("record-route")]
        extra += [("Contact", self._contact(call)), ("Allow", ALLOW), ("Server", self.config.user_agent)]
        return build_response(
            req,
            status,
            call.source,
            to_tag=call.local_tag,
            extra=extra,
            body=body,
            content_type="application/sdp" if body else None,
        )

    @staticmethod
    def _final(
        req: SipRequest, source: Peer, status: int, to_tag: str | None, extra: list[tuple[str, str]] | None
    ) -> tuple[bytes, Peer]:
        """A final response's bytes and where they go (Via routing: received/rport)."""
        resp = build_response(req, status, source, to_tag=to_tag or new_tag(), extra=extra)
        return serialize(resp), response_destination(req, source)

    def _reply_once(
        self,
        req: SipRequest,
        source: Peer,
        branch: str,
        now: float,
        status: int,
        *,
        to_tag: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> list[Output]:
        """Final response to a non-INVITE request, remembered for its retransmissions (timer J)."""
        data, dest = self._final(req, source, status, to_tag, extra)
        linger = 0.0 if source.transport == "tcp" else 64 * self.config.t1
        if branch and linger:
            self._cache[(branch, req.method)] = CachedResponse(data, dest, now + linger)
        return [Transmit(data, dest)]

    def _reject_invite(
        self,
        req: SipRequest,
        source: Peer,
        branch: str,
        now: float,
        status: int,
        *,
        to_tag: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> list[Output]:
        data, dest = self._final(req, source, status, to_tag, extra)
        self._rejects[branch] = self._retransmit(data, dest, now, always=False)
        return [Transmit(data, dest)]

    def _end_unanswered(self, call: Call, status: int, reason: EndReason, now: float) -> list[Output]:
        out = self._reject_invite(call.invite, call.source, call.branch, now, status, to_tag=call.local_tag)
        self._move(call, CallEvent.REJECT)
        del self._calls[call.call_id]
        return [*out, CallEnded(call.call_id, reason)]

    def _send_bye(self, call: Call, now: float) -> list[Output]:
        invite = call.invite
        call.local_cseq += 1
        call.bye_branch = new_branch()
        to_value = invite.headers.get("to") or ""
        local = to_value if parse_name_addr(to_value).tag else f"{to_value};tag={call.local_tag}"
        bye = build_in_dialog_request(
            "BYE",
            remote_target=call.remote_target,
            route_set=call.route_set,
            local=local,
            remote=invite.headers.get("from") or "",
            call_id=call.call_id,
            cseq=call.local_cseq,
            via_host=self.contact_host,
            via_port=self.contact_port,
            transport=call.source.transport,
            user_agent=self.config.user_agent,
            branch=call.bye_branch,
        )
        dest = request_destination(bye, call.source.transport, call.source.conn_id)
        call.bye = self._retransmit(serialize(bye), dest, now, always=False)
        return [Transmit(call.bye.data, dest)]

    def _finish_bye(self, call: Call) -> list[Output]:
        call.bye = None
        self._move(call, CallEvent.BYE_DONE)
        del self._calls[call.call_id]
        return [] if call.end_reported else [CallEnded(call.call_id, EndReason.LOCAL_BYE)]


def transaction_key(req: SipRequest) -> str:
    """Which server transaction a well-formed request belongs to (RFC 3261 17.2.3): the top Via
    branch and sent-by, and for an RFC 2543 branch (no magic cookie) the From tag too. Call-ID
    and CSeq number are part of it as well, so a client reusing a branch for a new request gets
    a new answer, not the cached one of another call. An ACK or CANCEL gets its INVITE's key."""
    via = parse_via(req.headers.values("via")[0])
    branch = via.branch or ""
    number = parse_cseq(req.headers.get("cseq")).number
    key = f"{branch}|{via.sent_by}|{req.headers.get('call-id')}|{number}"
    if branch.startswith(BRANCH_MAGIC):
        return key
    return f"2543|{key}|{parse_name_addr(req.headers.get('from') or '').tag or ''}"
