"""RFC 4733 telephone-events: parse the payload and turn a packet stream into digits, once each."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from realtime_bridge.rtp.packet import RtpPacket, RtpParseError

DIGITS = "0123456789*#ABCD"


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int  # in timestamp units (samples at 8 kHz)


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    digit: str
    duration_ms: int


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise RtpParseError(f"telephone-event payload too short: {len(payload)} bytes, need 4")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return TelephoneEvent(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)


def build_telephone_event(event: TelephoneEvent) -> bytes:
    return struct.pack("!BBH", event.event, (0x80 if event.end else 0) | (event.volume & 0x3F), event.duration)


class DtmfReceiver:
    """One digit per event. An event is identified by its RTP timestamp (RFC 4733 2.5.1.1); the
    end packet is sent three times, so only the first end for a timestamp yields the digit. A new
    event whose predecessor's end packets were all lost still reports the predecessor."""

    def __init__(self) -> None:
        self._current: int | None = None  # timestamp of the event in progress
        self._current_event: TelephoneEvent | None = None
        self._done: int | None = None  # timestamp of the last event reported

    def feed(self, packet: RtpPacket) -> list[DtmfDigit]:
        ev = parse_telephone_event(packet.payload)
        if ev.event >= len(DIGITS) or packet.timestamp == self._done:
            return []
        out: list[DtmfDigit] = []
        if self._current is not None and packet.timestamp != self._current and self._current_event:
            out.append(self._digit(self._current_event))  # previous event never saw its end
            self._done = self._current
        self._current, self._current_event = packet.timestamp, ev
        if ev.end:
            out.append(self._digit(ev))
            self._done, self._current, self._current_event = packet.timestamp, None, None
        return out

    @staticmethod
    def _digit(ev: TelephoneEvent) -> DtmfDigit:
        return DtmfDigit(DIGITS[ev.event], ev.duration // 8)
