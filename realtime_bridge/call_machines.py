"""The four state machines of one call, as enums and transition tables (docs/call-control.md
draws them). A pair that is not in a table is a bug: `Machine.fire` raises rather than guess.
Every transition goes through one logged setter, so a call's life is greppable."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

log = logging.getLogger("realtime_bridge.call_control")


# ---- the model link: is there a configured session to talk to? --------------------------------
class Link(StrEnum):
    CONNECTING = "connecting"  # the first session is being opened
    CONFIGURING = "configuring"  # open; session.update sent, session.updated not yet seen
    LIVE = "live"
    RECONNECTING = "reconnecting"  # the session dropped; a new one is being opened
    FAILED = "failed"  # no session can be had: the call ends through the gate
    CLOSED = "closed"


class LinkEvent(StrEnum):
    CONNECTED = "connected"
    READY = "ready"
    REJECTED = "rejected"  # session.update refused, formats not accepted, or no answer in time
    DROPPED = "dropped"  # the socket closed and a new session may be tried
    LOST = "lost"  # the socket closed in a way a retry cannot fix, or retries ran out
    REFUSED = "refused"  # a connect was refused; another attempt follows
    STOP = "stop"


LINK: dict[tuple[Link, LinkEvent], Link] = {
    (Link.CONNECTING, LinkEvent.CONNECTED): Link.CONFIGURING,
    (Link.CONNECTING, LinkEvent.LOST): Link.FAILED,
    (Link.CONFIGURING, LinkEvent.READY): Link.LIVE,
    (Link.CONFIGURING, LinkEvent.REJECTED): Link.FAILED,
    (Link.CONFIGURING, LinkEvent.DROPPED): Link.RECONNECTING,
    (Link.CONFIGURING, LinkEvent.LOST): Link.FAILED,
    (Link.LIVE, LinkEvent.DROPPED): Link.RECONNECTING,
    (Link.LIVE, LinkEvent.LOST): Link.FAILED,
    (Link.RECONNECTING, LinkEvent.CONNECTED): Link.CONFIGURING,
    (Link.RECONNECTING, LinkEvent.REFUSED): Link.RECONNECTING,
    (Link.RECONNECTING, LinkEvent.LOST): Link.FAILED,
    **{(state, LinkEvent.STOP): Link.CLOSED for state in Link},
}


# ---- speech: at most one response of ours requested or in flight --------------------------
class Speech(StrEnum):
    IDLE = "idle"  # nothing requested, nothing in flight
    REQUESTED = "requested"  # our response.create is out, its response.created not yet seen
    RESPONDING = "responding"  # a response (ours or the service's VAD one) is in flight
    CONTENDED = "contended"  # the service's response started while ours was out: ours will be refused


class SpeechEvent(StrEnum):
    SEND = "send"
    OURS_STARTED = "ours_started"
    OTHER_STARTED = "other_started"
    REFUSED = "refused"  # an error named our outstanding request
    FINISHED = "finished"  # response.done of the response in flight
    RESET = "reset"  # the session is gone: nothing is in flight any more


SPEECH: dict[tuple[Speech, SpeechEvent], Speech] = {
    (Speech.IDLE, SpeechEvent.SEND): Speech.REQUESTED,
    (Speech.IDLE, SpeechEvent.OTHER_STARTED): Speech.RESPONDING,
    (Speech.REQUESTED, SpeechEvent.OURS_STARTED): Speech.RESPONDING,
    (Speech.REQUESTED, SpeechEvent.OTHER_STARTED): Speech.CONTENDED,
    (Speech.REQUESTED, SpeechEvent.REFUSED): Speech.IDLE,
    (Speech.RESPONDING, SpeechEvent.OTHER_STARTED): Speech.RESPONDING,
    (Speech.RESPONDING, SpeechEvent.FINISHED): Speech.IDLE,
    (Speech.CONTENDED, SpeechEvent.OTHER_STARTED): Speech.CONTENDED,
    (Speech.CONTENDED, SpeechEvent.REFUSED): Speech.RESPONDING,
    (Speech.CONTENDED, SpeechEvent.OURS_STARTED): Speech.RESPONDING,
    (Speech.CONTENDED, SpeechEvent.FINISHED): Speech.REQUESTED,
    **{(state, SpeechEvent.RESET): Speech.IDLE for state in Speech},
}


# ---- the closing and its teardown: a BYE always follows --------------------------------------
class Closing(StrEnum):
    NONE = "none"
    QUEUED = "queued"  # the gate said CLOSING; the closing line is asked for
    PLAYING = "playing"  # its response started; nothing else is heard from now on
    PLAYED = "played"  # played out; a short grace before reporting
    REPORTING = "reporting"  # ClosingPlayed sent to the gate (retried a bounded number of times)
    HUNG_UP = "hung_up"


class ClosingEvent(StrEnum):
    GATE_CLOSING = "gate_closing"
    STARTED = "started"
    PLAYED_OUT = "played_out"
    GRACE_OVER = "grace_over"
    DEADLINE = "deadline"  # the teardown budget ran out, whatever state the closing is in
    REPORT_FAILED = "report_failed"
    REPORTED = "reported"
    HANG_UP = "hang_up"  # the call is over for another reason (caller gone, no model)


_CLOSING_LIVE = (Closing.QUEUED, Closing.PLAYING, Closing.PLAYED, Closing.REPORTING)
CLOSING: dict[tuple[Closing, ClosingEvent], Closing] = {
    (Closing.NONE, ClosingEvent.GATE_CLOSING): Closing.QUEUED,
    **{(state, ClosingEvent.GATE_CLOSING): state for state in (*_CLOSING_LIVE, Closing.HUNG_UP)},
    (Closing.QUEUED, ClosingEvent.STARTED): Closing.PLAYING,
    (Closing.QUEUED, ClosingEvent.DEADLINE): Closing.REPORTING,
    (Closing.PLAYING, ClosingEvent.PLAYED_OUT): Closing.PLAYED,
    (Closing.PLAYING, ClosingEvent.DEADLINE): Closing.REPORTING,
    (Closing.PLAYED, ClosingEvent.GRACE_OVER): Closing.REPORTING,
    (Closing.PLAYED, ClosingEvent.DEADLINE): Closing.REPORTING,
    (Closing.REPORTING, ClosingEvent.REPORT_FAILED): Closing.REPORTING,
    (Closing.REPORTING, ClosingEvent.REPORTED): Closing.HUNG_UP,
    **{(state, ClosingEvent.HANG_UP): Closing.HUNG_UP for state in Closing},
}


# ---- attention: an idle caller and the call's length -----------------------------------------
class Attention(StrEnum):
    LISTENING = "listening"
    HEARING = "hearing"  # the caller is mid-utterance (speech started, not yet stopped): never idle
    PROMPTED = "prompted"  # idle prompts played, the caller has not answered yet
    IDLE_REPORTED = "idle_reported"  # prompts exhausted: the idle escape is with the gate
    OVERTIME = "overtime"  # the maximum duration is with the gate
    OFF = "off"  # closing or over: nobody is prompted any more


class AttentionEvent(StrEnum):
    CALLER_SPEAKING = "caller_speaking"  # speech_started with sound on the caller's line
    CALLER_ACTIVE = "caller_active"  # the utterance ended (or its session did)
    IDLE_PROMPT = "idle_prompt"  # silent for idle_seconds, prompts left
    IDLE_EXHAUSTED = "idle_exhausted"  # silent for idle_seconds, no prompts left
    MAX_DURATION = "max_duration"
    CLOSING = "closing"


ATTENTION: dict[tuple[Attention, AttentionEvent], Attention] = {
    (Attention.LISTENING, AttentionEvent.CALLER_ACTIVE): Attention.LISTENING,
    # A caller may talk for longer than idle_seconds: while they do, nobody is prompted.
    **{
        (s, AttentionEvent.CALLER_SPEAKING): Attention.HEARING
        for s in (Attention.LISTENING, Attention.HEARING, Attention.PROMPTED, Attention.IDLE_REPORTED)
    },
    (Attention.HEARING, AttentionEvent.CALLER_ACTIVE): Attention.LISTENING,
    (Attention.OVERTIME, AttentionEvent.CALLER_SPEAKING): Attention.OVERTIME,
    (Attention.OFF, AttentionEvent.CALLER_SPEAKING): Attention.OFF,
    (Attention.LISTENING, AttentionEvent.IDLE_PROMPT): Attention.PROMPTED,
    (Attention.LISTENING, AttentionEvent.IDLE_EXHAUSTED): Attention.IDLE_REPORTED,
    (Attention.PROMPTED, AttentionEvent.CALLER_ACTIVE): Attention.LISTENING,
    (Attention.PROMPTED, AttentionEvent.IDLE_PROMPT): Attention.PROMPTED,
    (Attention.PROMPTED, AttentionEvent.IDLE_EXHAUSTED): Attention.IDLE_REPORTED,
    (Attention.IDLE_REPORTED, AttentionEvent.CALLER_ACTIVE): Attention.LISTENING,
    (Attention.IDLE_REPORTED, AttentionEvent.IDLE_EXHAUSTED): Attention.IDLE_REPORTED,
    (Attention.OVERTIME, AttentionEvent.CALLER_ACTIVE): Attention.OVERTIME,
    (Attention.OFF, AttentionEvent.CALLER_ACTIVE): Attention.OFF,
    (Attention.OFF, AttentionEvent.MAX_DURATION): Attention.OFF,
    **{(s, AttentionEvent.MAX_DURATION): Attention.OVERTIME for s in Attention if s is not Attention.OFF},
    **{(s, AttentionEvent.CLOSING): Attention.OFF for s in Attention},
}

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class IllegalTransition(RuntimeError):
    pass


class Machine(Generic[S, E]):
    """One table-driven state machine; `fire` is its only setter and logs every change."""

    def __init__(self, name: str, call_id: str, table: Mapping[tuple[S, E], S], initial: S) -> None:
        self.name, self.call_id, self._table, self.state = name, call_id, table, initial

    def can(self, event: E) -> bool:
        return (self.state, event) in self._table

    def fire(self, event: E, why: str = "") -> S:
        to = self._table.get((self.state, event))
        if to is None:
            raise IllegalTransition(f"{self.name}: {event.value} is not allowed in {self.state.value}")
        if to is not self.state:
            log.info(
                json.dumps(
                    {"call_id": self.call_id, "machine": self.name, "from": self.state.value, "to": to.value,
                     "event": event.value, "why": why},
                )
            )  # fmt: skip
            self.state = to
        return to
