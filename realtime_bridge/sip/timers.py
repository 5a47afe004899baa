"""RFC 3261 retransmission timers as data: a resend schedule and a response cache. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from realtime_bridge.sip.build import Peer


@dataclass(slots=True)
class Retransmit:
    """A message resent at T1, 2*T1 ... capped at T2 until stopped, abandoned at ``give_up``.

    Timer G/H for INVITE finals, E/F for our BYE. ``next_at`` None: no resends (reliable
    transport), only the give-up deadline."""

    data: bytes
    dest: Peer
    interval: float
    next_at: float | None
    give_up: float

    @classmethod
    def start(cls, data: bytes, dest: Peer, now: float, *, t1: float, resend: bool) -> Retransmit:
        return cls(data, dest, t1, now + t1 if resend else None, now + 64 * t1)

    def due(self, now: float, t2: float) -> bool:
        """True (and the next resend scheduled) when a resend is due at ``now``."""
        if self.next_at is None or self.next_at > now:
            return False
        self.interval = min(self.interval * 2, t2)
        self.next_at = now + self.interval
        return True

    def deadlines(self) -> list[float]:
        return [self.give_up] if self.next_at is None else [self.next_at, self.give_up]


@dataclass(slots=True)
class CachedResponse:
    """A non-INVITE final response kept for retransmitted requests (timer J)."""

    data: bytes
    dest: Peer
    expires: float
