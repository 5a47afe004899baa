"""What the sans-I/O SIP core hands back: bytes to transmit and call-level events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.sdp import AudioOffer


class EndReason(StrEnum):
    REMOTE_BYE = "remote_bye"  # the caller (Chime) hung up
    LOCAL_BYE = "local_bye"  # we hung up and the BYE completed (or timed out)
    CANCELLED = "cancelled"  # CANCEL before answer: 487
    REJECTED = "rejected"  # the handler declined the offer, or we hung up before answering
    ACK_TIMEOUT = "ack_timeout"  # 200 never acknowledged (timer H): we sent BYE


@dataclass(frozen=True, slots=True)
class CallInfo:
    """An offered call as the rest of the bridge sees it (no SIP objects leak out)."""

    call_id: str
    caller: str  # From URI
    callee: str  # To URI
    voice_connector_id: str | None
    source: Peer
    remote_media: AudioOffer
    request_uri: str = ""  # the INVITE's Request-URI: where the call was sent

    @property
    def caller_number(self) -> str:
        """The user part of the From URI (Chime puts the E.164 number there)."""
        return _user(self.caller)

    @property
    def callee_number(self) -> str:
        return _user(self.callee)

    @property
    def dialled_number(self) -> str:
        """The number the caller dialled: the Request-URI's user part (where the Voice Connector
        sends it), else the To URI's ('' when neither has one)."""
        return _user(self.request_uri) or self.callee_number


def _user(uri: str) -> str:
    rest = uri.partition(":")[2]
    user, at, _ = rest.partition("@")
    return user if at else ""


@dataclass(frozen=True, slots=True)
class Transmit:
    data: bytes
    dest: Peer


@dataclass(frozen=True, slots=True)
class CallOffered:
    call: CallInfo


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The 200 was acknowledged: the dialog is confirmed."""

    call_id: str


@dataclass(frozen=True, slots=True)
class MediaUpdated:
    """A re-INVITE moved the remote media (c=/m= changed)."""

    call_id: str
    remote_media: AudioOffer


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    reason: EndReason


Event = CallOffered | CallAnswered | MediaUpdated | CallEnded
Output = Transmit | Event
