"""One call's dialog state: the transition table and the record the UAS keeps per call."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from realtime_bridge.rtp.srtp import SrtpKey
from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.message import SipRequest
from realtime_bridge.sip.sdp import AudioOffer
from realtime_bridge.sip.timers import Retransmit


class CallState(StrEnum):
    OFFERED = "offered"  # INVITE in, 100/180 out, waiting for the handler
    ANSWERING = "answering"  # 200 out, retransmitted until ACK (timers G/H)
    CONFIRMED = "confirmed"  # ACK in: media flows
    ENDING = "ending"  # our BYE out, waiting for its response (timers E/F)
    ENDED = "ended"


class CallEvent(StrEnum):
    ANSWER = "answer"
    REJECT = "reject"  # handler declined, CANCEL, or hang-up before answer
    ACK = "ack"
    BYE_IN = "bye_in"
    HANG_UP = "hang_up"
    ACK_TIMEOUT = "ack_timeout"
    BYE_DONE = "bye_done"


S, E = CallState, CallEvent
TRANSITIONS: dict[tuple[CallState, CallEvent], CallState] = {
    (S.OFFERED, E.ANSWER): S.ANSWERING,
    (S.OFFERED, E.REJECT): S.ENDED,
    (S.ANSWERING, E.ACK): S.CONFIRMED,
    (S.ANSWERING, E.BYE_IN): S.ENDED,
    (S.ANSWERING, E.HANG_UP): S.ANSWERING,  # BYE must wait for the ACK (RFC 3261 15)
    (S.ANSWERING, E.ACK_TIMEOUT): S.ENDING,
    (S.CONFIRMED, E.ACK): S.CONFIRMED,  # ACK of a re-INVITE's 200
    (S.CONFIRMED, E.BYE_IN): S.ENDED,
    (S.CONFIRMED, E.HANG_UP): S.ENDING,
    (S.ENDING, E.BYE_IN): S.ENDED,  # BYE glare
    (S.ENDING, E.BYE_DONE): S.ENDED,
    (S.ENDING, E.HANG_UP): S.ENDING,
}


def next_state(state: CallState, event: CallEvent) -> CallState | None:
    """The state after ``event``, or None when the event is not allowed in ``state``."""
    return TRANSITIONS.get((state, event))


@dataclass(slots=True)
class Call:
    call_id: str
    state: CallState
    invite: SipRequest
    source: Peer
    branch: str
    local_tag: str
    offer: AudioOffer
    route_set: list[str]  # Record-Route values, in order (UAS side)
    remote_target: str  # the caller's Contact URI
    local_cseq: int
    answer_sdp: bytes = b""
    sdp_version: int = 1
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    media_port: int = 0
    srtp_key: SrtpKey | None = None  # ours, in the answer's a=crypto (SRTP calls only)
    last_invite_response: bytes = b""  # resent when the INVITE is retransmitted
    unacked_2xx: Retransmit | None = None
    bye: Retransmit | None = None
    bye_branch: str = ""
    bye_pending: bool = False  # hang_up while waiting for the ACK
    end_reported: bool = False
