"""What the simulated caller reports: options in, an event log and a summary out (pydantic)."""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from simulator.speech import Engine

EventKind = Literal[
    "invite_sent",
    "ringing",
    "answered",
    "failed",  # a final non-2xx to the INVITE, or no answer in time (CANCEL sent)
    "agent_speech_start",
    "agent_speech_end",
    "caller_turn_start",
    "caller_turn_end",
    "no_reply",  # the agent said nothing within reply_timeout_s: the caller went on
    "timeout",  # the call outlived hangup_timeout_s / max_call_s: the caller hangs up
    "bye_sent",
    "bye_received",
    "ended",
]
EndedBy = Literal["caller", "agent"]


class CallerOptions(BaseModel):
    """How the simulated caller behaves; the defaults suit the bridge with server VAD."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transport: Literal["udp", "tcp", "tls"] = "udp"
    # tls: the CA the bridge's certificate must chain to, and the caller's own certificate
    # for its Contact listener. srtp: offer RTP/SAVP with an SDES key, refuse a clear answer.
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    srtp: bool = False
    local_host: str = "127.0.0.1"
    rtp_port: int = Field(default=0, ge=0, le=65535)  # 0: any free port
    callee: str = "+15550100"  # the dialled number (To user)
    caller_number: str = "+16175550199"  # From user
    voice_connector_id: str | None = None  # sent as X-VoiceConnector-ID, as Chime does
    engine: Engine = "auto"
    agent_silence_ms: int = Field(default=700, ge=100)  # agent quiet this long: its turn is over
    min_pause_ms: int = Field(default=800, ge=0)  # caller silence between its own turns, at least
    reply_timeout_s: float = Field(default=10.0, gt=0)  # no agent speech by then: speak anyway
    answer_timeout_s: float = Field(default=10.0, gt=0)  # no 200 by then: CANCEL
    hangup_timeout_s: float = Field(default=60.0, gt=0)  # after the last turn, wait this long for BYE
    max_call_s: float = Field(default=600.0, gt=0)  # whole-call safety net from the answer
    bye_timeout_s: float = Field(default=5.0, gt=0)  # our BYE unanswered: give up waiting
    t1: float = Field(default=0.5, gt=0)  # SIP T1 (UDP retransmission base)


class CallerEvent(BaseModel):
    kind: EventKind
    at: float  # loop monotonic clock, seconds
    t_ms: int  # since the INVITE was sent
    turn: int | None = None  # index into scenario caller.turns
    text: str | None = None
    duration_ms: int | None = None
    barge_in: bool | None = None  # caller_turn_start: the agent was speaking at that moment
    detail: str | None = None


class CallerTurn(BaseModel):
    index: int  # into caller.turns
    say: str
    audio_ms: int
    start_ms: int
    end_ms: int  # when the last audio sample went out (start + audio)
    barge_in_after_ms: int | None
    agent_was_speaking: bool  # at start_ms: a barge-in actually interrupted the agent
    latency_ms: int | None  # end_ms -> start of the first agent speech after it (includes the VAD's silence)


class AgentSegmentOut(BaseModel):
    start_ms: int
    end_ms: int
    duration_ms: int


class LatencySummary(BaseModel):
    count: int
    p50_ms: int | None
    max_ms: int | None


class CallerResult(BaseModel):
    call_id: str
    transport: Literal["udp", "tcp", "tls"]
    srtp: bool = False  # the media was SRTP both ways
    local_rtp_port: int
    answered: bool
    failure_status: int | None = None  # SIP status when not answered (408: no answer in time)
    ended_by: EndedBy | None = None  # None only when the call was never answered
    timed_out: bool = False  # the caller hung up because the agent never did
    turns_spoken: int
    turns_total: int  # spoken turns in the scenario
    turns: list[CallerTurn]
    agent_segments: list[AgentSegmentOut]
    agent_audio_ms: int  # inbound frames carrying agent audio, x 20 ms
    rtp_frames_sent: int
    rtp_frames_received: int
    duration_ms: int  # INVITE to the end of the call
    events: list[CallerEvent]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def latency(self) -> LatencySummary:
        """Caller turn end -> first agent audio, over the turns the agent answered."""
        values = [t.latency_ms for t in self.turns if t.latency_ms is not None]
        return LatencySummary(
            count=len(values),
            p50_ms=round(statistics.median(values)) if values else None,
            max_ms=max(values, default=None),
        )

    def log_lines(self) -> list[str]:
        return [format_event(e) for e in self.events]


def format_event(event: CallerEvent) -> str:
    parts = [f"{event.t_ms / 1000:8.3f}s", f"{event.kind:<18}"]
    if event.turn is not None:
        parts.append(f"turn {event.turn}")
    if event.duration_ms is not None:
        parts.append(f"{event.duration_ms} ms")
    if event.barge_in:
        parts.append("(over the agent)")
    if event.text:
        parts.append(repr(event.text))
    if event.detail:
        parts.append(event.detail)
    return "  ".join(parts)
