"""Call control: what we ask the model to say and when, the closing and its teardown, the model
session's life, barge-in and the transcript's order. Sans-I/O: `handle(event, now)` returns
actions for the shell (`realtime_bridge/call.py`) and `next_deadline()` says when to call back.

Ownership, as the design ledger says: the model owns the conversation (its own VAD responses
are never gated); the gate owns the end (this module only carries out its directives, and always
finishes with a BYE); this module owns our requests (one at a time, each with an event_id, only
the one that failed is retried), audio timing and reconnects. The four machines and their
tables live in `call_machines.py`; docs/call-control.md draws them.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol, assert_never

from realtime_bridge.call_events import (
    Action,
    AddUsage,
    CallPolicy,
    Connect,
    Connected,
    ConnectFailed,
    Decide,
    Drain,
    Event,
    FlushAudio,
    HangUp,
    Keypad,
    Play,
    PolicyDone,
    ReserveTurn,
    RunTools,
    Send,
    SessionClosed,
    SipEnded,
    Tick,
    ToolRoundDone,
    WriteTurn,
)
from realtime_bridge.call_machines import (
    ATTENTION,
    CLOSING,
    LINK,
    SPEECH,
    Attention,
    AttentionEvent,
    Closing,
    ClosingEvent,
    Link,
    LinkEvent,
    Machine,
    Speech,
    SpeechEvent,
)
from realtime_bridge.call_transcript import CallTranscript
from realtime_bridge.playback import BYTES_PER_MS, PlaybackTracker
from realtime_bridge.realtime.model_events import (
    AddText,
    AgentTranscriptDelta,
    AudioDelta,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    CallerTranscriptFailed,
    CallerTurnCommitted,
    CancelResponse,
    Configure,
    CreateResponse,
    FunctionCallStarted,
    FunctionOutput,
    ModelError,
    RequestIds,
    ResponseFinished,
    ResponseStarted,
    SessionReady,
    SessionRejected,
    Truncate,
)
from voice_agent.directives import Directive, LanguageFallback, PlayClosing, ReadBack, SwitchLanguage
from voice_agent.directives import HangUp as HangUpDirective
from voice_agent.invocation import (
    BridgeDraining,
    CallerIdle,
    ClosingPlayed,
    MaxDuration,
    ModelUnavailable,
    VerifyReadback,
)
from voice_agent.spec import AgentSpec

log = logging.getLogger(__name__)
EXACT_PREFIX = "Say exactly: "
IDLE_PROMPT = "The caller has been silent for a while. Briefly ask whether they are still there."
RESUME_NOTE = (
    "This call is resuming after a dropped connection; the conversation so far is below. "
    "Do not greet the caller again; continue from where it stopped."
)
END_TOOL = "end_call"
ACTIVE_RESPONSE = "conversation_already_has_active_response"
NO_RETRY_CLOSE = range(4000, 5000)  # the service refusing us (e.g. 4000 beta shape): a retry is refused too


class PlayoutPort(Protocol):
    """What call control reads and changes of the outgoing audio queue (memory only, no I/O)."""

    @property
    def queued_bytes(self) -> int: ...

    def played_ms(self, item_id: str) -> int: ...

    def clear(self) -> dict[str, int]: ...

    def drop_item(self, item_id: str) -> int | None: ...


class CallerLevel(Protocol):
    def audible(self) -> bool:
        """Did the caller's own line carry sound just now? (echo of our audio carries none)"""
        ...


@dataclass(frozen=True)
class ControlSettings:
    closing_grace_s: float = 0.5  # after the closing has played out, before reporting it
    configure_timeout_s: float = 5.0  # session.updated must come by then
    reconnect_delays_s: tuple[float, ...] = (0.0, 0.2, 0.5)  # one drop's connect attempts: all within 1 s
    max_reconnects: int = 5  # drops a call survives
    report_retry_s: float = 0.5
    report_attempts: int = 3
    max_retries: int = 1  # a response that failed before a word was heard is asked again this often
    max_refusals: int = 3  # a request the service refused (a response was in flight) is sent this often


@dataclass
class SpeechRequest:
    purpose: str
    text: str | None = None  # exact words, else the model speaks freely
    field: str | None = None
    instructions: str | None = None
    answers_item: str | None = None
    attempts: int = 0
    request_id: str | None = None


@dataclass
class ResponseInfo:
    request: SpeechRequest | None  # None: the service's own VAD response
    answers_item: str | None
    first_item: str | None = None  # exact words play the first message only
    muted: bool = False  # it calls end_call: it has no voice of its own
    dropped: bool = False  # cut, cancelled or after the closing: nothing more of it is heard
    noted_extra: bool = False
    audio_ms: int = 0


@dataclass
class CallControl:
    call_id: str
    spec: AgentSpec
    session_config: dict[str, Any]
    playout: PlayoutPort
    level: CallerLevel
    t0: float
    settings: ControlSettings = field(default_factory=ControlSettings)

    def __post_init__(self) -> None:
        self.link = Machine("link", self.call_id, LINK, Link.CONNECTING)
        self.speech = Machine("speech", self.call_id, SPEECH, Speech.IDLE)
        self.closing = Machine("closing", self.call_id, CLOSING, Closing.NONE)
        self.attention = Machine("attention", self.call_id, ATTENTION, Attention.LISTENING)
        self.ids = RequestIds("req")
        self.playback = PlaybackTracker()
        self.session = 0  # sessions opened so far; the current one's number
        self._drops = 0
        self._attempt = 0  # connect attempts for the current drop
        self._configure_id: str | None = None
        self._queue: deque[SpeechRequest] = deque()
        self._outstanding: SpeechRequest | None = None
        self._active: str | None = None  # response id in flight
        self._responses: dict[str, ResponseInfo] = {}
        self._closing_response: str | None = None
        self._closing_cap = 0.0
        self._closing_item: str | None = None
        self._reports = 0
        self.transcript = CallTranscript(self.playback, self.playout.played_ms)
        self._last_committed: str | None = None
        self._workers = 0  # tool rounds and policy calls in flight
        self._deadlines: dict[str, float] = {}
        self._last_activity = self.t0
        self._last_caller = self.t0
        self._prompts = 0
        self._out: list[Action] = []
        self._now = self.t0

    # ---- the shell's interface -------------------------------------------------------------
    @property
    def model_ready(self) -> bool:
        return self.link.state is Link.LIVE

    def start(self, now: float) -> list[Action]:
        self._deadlines["max"] = self.t0 + self.spec.limits.max_call_seconds
        self._last_activity = self._last_caller = now
        return [Connect()]

    def next_deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def handle(self, event: Event, now: float) -> list[Action]:
        self._out = []
        self._now = now
        self._dispatch(event, now)
        if not isinstance(event, AudioDelta):  # the hot path: heard turns are written on ticks
            self._write_heard(now)
            self._arm_idle(now)
        return self._out

    def finish(self, now: float) -> list[Action]:
        """The call is over: write what is still staged as heard so far, and every caller turn."""
        self._out = []
        self._now = now
        self._write_heard(now, final=True)
        self._out += self.transcript.lose_pending(self._ms(now), "the call ended before its transcription")
        return self._out

    # ---- dispatch -----------------------------------------------------------------------------
    def _dispatch(self, event: Event, now: float) -> None:
        match event:
            case AudioDelta():
                self._on_audio(event, now)
            case ResponseStarted():
                self._on_response_started(event)
            case ResponseFinished():
                self._on_response_finished(event, now)
            case FunctionCallStarted():
                self._on_function_call_started(event)
            case AgentTranscriptDelta():
                self.transcript.agent_partial(event.item_id, event.text)
            case CallerSpeechStarted():
                self._on_caller_speech(event, now)
            case CallerSpeechStopped():
                self._caller_active(now)
            case CallerTurnCommitted():
                self._last_committed = event.item_id
            case CallerTranscript():
                if event.usage is not None:
                    self._emit(AddUsage(event.usage, "transcription"))
                self._out += self.transcript.caller_words(event.item_id, event.text, self._ms(now))
            case CallerTranscriptFailed():
                self._out += self.transcript.caller_words(event.item_id, None, self._ms(now), event.reason)
            case ModelError():
                self._on_error(event)
            case SessionReady():
                self._on_ready(now)
            case SessionRejected():
                self._on_rejected(event.reason)
            case Connected():
                self._on_connected(event, now)
            case ConnectFailed():
                self._on_connect_failed(event, now)
            case SessionClosed():
                self._on_closed(event, now)
            case ToolRoundDone():
                self._on_tools_done(event)
            case PolicyDone():
                self._on_policy_done(event, now)
            case Keypad():
                self._emit(WriteTurn("system", f"DTMF {event.digit}", self._ms(now)))
                if self.model_ready:
                    self._send(AddText(self.ids.next(), "user", f"[keypad] {event.digit}"))
            case Drain():
                self._policy(BridgeDraining(call_id=self.call_id))
            case SipEnded():
                self._deadlines.clear()
                self.attention.fire(AttentionEvent.CLOSING, "the SIP dialog ended")
                self.closing.fire(ClosingEvent.HANG_UP, "the SIP dialog ended")
                self.link.fire(LinkEvent.STOP, "the SIP dialog ended")
            case Tick():
                self._on_tick(now)
            case _:
                assert_never(event)

    # ---- the model link ---------------------------------------------------------------------
    def _on_connected(self, event: Connected, now: float) -> None:
        if self.link.state not in (Link.CONNECTING, Link.RECONNECTING):
            return
        self.session += 1
        self.link.fire(LinkEvent.CONNECTED, f"session {self.session} open")
        self._configure_id = self.ids.next()
        config = self.session_config
        if self.session > 1:
            config = dict(config)
            extra = RESUME_NOTE + ("\nRecorded so far:\n" + event.record_state if event.record_state else "")
            config["instructions"] = f"{config.get('instructions', '')}\n\n{extra}".strip()
        self._send(Configure(self._configure_id, config))
        if self.session > 1:
            for role, text in self.transcript.seed():
                self._send(AddText(self.ids.next(), role, text))
        self._deadlines["configure"] = now + self.settings.configure_timeout_s

    def _on_ready(self, now: float) -> None:
        if self.link.state is not Link.CONFIGURING:
            return
        self.link.fire(LinkEvent.READY, "session.updated")
        self._deadlines.pop("configure", None)
        self._attempt = 0
        self._emit(FlushAudio())
        if self.session == 1:
            self._request(SpeechRequest("greeting", text=self.spec.greeting))
        else:
            self._decide("model_session", "accept", f"session {self.session} live, seeded with the call so far")
            if self.transcript.caller_awaits_answer() and self.closing.state is Closing.NONE:
                self._request(SpeechRequest("resume"))  # the caller's last turn lost its answer
        self._pump()

    def _on_rejected(self, reason: str) -> None:
        if self.link.state is not Link.CONFIGURING:
            return
        self.link.fire(LinkEvent.REJECTED, reason)
        self._model_lost(f"session configuration rejected: {reason}")

    def _on_connect_failed(self, event: ConnectFailed, now: float) -> None:
        reason = f"connect refused ({event.status or 'no answer'}): {event.detail}"
        if self.link.state is Link.CONNECTING:
            self.link.fire(LinkEvent.LOST, reason)
            self._model_lost(reason)
        elif self.link.state is Link.RECONNECTING:
            self._attempt += 1
            if self._attempt >= len(self.settings.reconnect_delays_s):
                self.link.fire(LinkEvent.LOST, reason)
                self._model_lost(f"reconnect failed {self._attempt} times: {reason}")
                return
            self.link.fire(LinkEvent.REFUSED, reason)
            self._decide("model_session", "retry", reason, attempt=self._attempt)
            self._emit(Connect(self.settings.reconnect_delays_s[self._attempt]))

    def _on_closed(self, event: SessionClosed, now: float) -> None:
        if self.link.state not in (Link.CONFIGURING, Link.LIVE):
            return
        self._deadlines.pop("configure", None)
        self._session_gone()
        reason = f"model socket closed with {event.code}"
        if self.closing.state in (Closing.PLAYED, Closing.REPORTING, Closing.HUNG_UP):
            self.link.fire(LinkEvent.LOST, reason + " after the closing played")  # nothing left to say
        elif (event.code is not None and event.code in NO_RETRY_CLOSE) or self._drops >= self.settings.max_reconnects:
            self.link.fire(LinkEvent.LOST, reason)
            self._model_lost(reason + "; not reconnecting")
        else:
            self._drops += 1
            self.link.fire(LinkEvent.DROPPED, reason)
            self._decide("model_session", "retry", reason + "; opening a new session", attempt=self._drops)
            self._emit(Connect(self.settings.reconnect_delays_s[0]))

    def _session_gone(self) -> None:
        """Nothing the old session had in flight will finish: requeue what was never heard."""
        active = self._responses.get(self._active or "")
        for request in (active.request if active is not None and active.audio_ms == 0 else None, self._outstanding):
            # once the gate said CLOSING only the closing is asked again (the rest was dropped for it)
            if request is not None and (self.closing.state is Closing.NONE or request.purpose == "closing"):
                self._queue.appendleft(request)
        self._outstanding = None
        if self._active is not None:
            self._responses[self._active].dropped = self._responses[self._active].audio_ms == 0
        self._active = None
        self.speech.fire(SpeechEvent.RESET, "session gone")
        if self.attention.state is Attention.HEARING:  # its speech_stopped will never come
            self._caller_active(self._now)
        self._out += self.transcript.lose_pending(self._ms(self._now), "the session ended before its transcription")

    def _model_lost(self, reason: str) -> None:
        self._decide("model_session", "fail", reason)
        self._queue.clear()
        if self.closing.state is not Closing.HUNG_UP:
            self._policy(ModelUnavailable(call_id=self.call_id, reason=reason[:300]))

    # ---- speech: our requests, one at a time ------------------------------------------------
    def _request(self, request: SpeechRequest) -> None:
        if request.purpose == "closing":
            dropped = [r.purpose for r in self._queue]
            self._queue.clear()  # nothing asked before the closing is said after it
            if dropped:
                self._decide("speech", "drop", f"dropped for the closing: {', '.join(dropped)}")
        elif self.closing.state is not Closing.NONE:
            self._decide("speech", "drop", f"{request.purpose} asked after the closing")
            return
        self._queue.append(request)
        self._pump()

    def _pump(self) -> None:
        if self.speech.state is not Speech.IDLE or not self._queue or not self.model_ready:
            return
        request = self._queue.popleft()
        if request.purpose == "idle_prompt" and self.attention.state is not Attention.PROMPTED:
            # Asked again (refused, cut short, a new session) after the caller spoke: the silence
            # it answered is over, and the caller may be mid-sentence.
            self._decide("speech", "drop", "idle prompt not asked again: the caller has spoken since")
            self._pump()
            return
        request.attempts += 1
        request.request_id = self.ids.next()
        self._outstanding = request
        self.speech.fire(SpeechEvent.SEND, f"{request.purpose} as {request.request_id}")
        instructions = EXACT_PREFIX + request.text if request.text is not None else request.instructions
        self._send(
            CreateResponse(
                request.request_id,
                request.purpose,
                instructions,
                request.field,
                allow_tools=request.text is None,
            )
        )

    def _on_response_started(self, event: ResponseStarted) -> None:
        ours = self._outstanding if self._outstanding and event.request_id == self._outstanding.request_id else None
        if ours is not None:
            self._outstanding = None
            self.speech.fire(SpeechEvent.OURS_STARTED, f"{ours.purpose} is {event.response_id}")
            answers = ours.answers_item
        else:
            self.speech.fire(SpeechEvent.OTHER_STARTED, f"VAD response {event.response_id}")
            answers = self._last_committed
        self._active = event.response_id
        info = self._responses[event.response_id] = ResponseInfo(ours, answers)
        closing = ours is not None and ours.purpose == "closing"
        if closing and self.closing.state is Closing.QUEUED:
            self._closing_response = event.response_id
            self.closing.fire(ClosingEvent.STARTED, event.response_id)
            self._deadlines["closing"] = self._now + self.spec.limits.closing_teardown_ms / 1000
        elif closing and self.closing.state is Closing.PLAYING:
            # asked again after it failed unheard or its session dropped: the deadline is not re-armed
            self._closing_response = event.response_id
        elif self.closing.state is not Closing.NONE:  # a closing past its deadline is not heard either
            info.dropped = True  # after the closing nothing the model says is heard
            self._send(CancelResponse(self.ids.next(), event.response_id))
            self._decide("intervention", "deny", "model response after the closing cancelled")

    def _on_response_finished(self, event: ResponseFinished, now: float) -> None:
        info = self._responses.get(event.response_id)
        if event.usage is not None:
            self._emit(AddUsage(event.usage))
        if info is None:
            return
        if self._active == event.response_id:
            self._active = None
            self.speech.fire(SpeechEvent.FINISHED, f"{event.response_id} {event.status}")
        played = self.transcript.stage(event.messages, info.first_item)
        request = info.request
        cut_short = event.status in ("failed", "incomplete")
        if event.calls and event.status != "failed":
            self._workers += 1  # the follow-up after the tool round speaks for a response cut short
            self._emit(RunTools(event.response_id, self.session, event.calls, info.answers_item))
        elif cut_short and info.audio_ms == 0:
            self._retry_unheard(info, event)
        elif request is not None and request.purpose == "read_back" and request.field and info.audio_ms:
            self._workers += 1
            self._emit(CallPolicy(VerifyReadback(call_id=self.call_id, field=request.field, transcript=played)))
        if cut_short and info.audio_ms:
            self._decide("speech", "accept", f"response {event.status} ({event.reason}) after some speech")
        if event.response_id == self._closing_response and self._closing_item is None:
            self._closing_item = info.first_item
            if info.first_item is None and not any(r.purpose == "closing" for r in self._queue):
                self._deadlines["grace"] = now  # nothing to play and no retry coming: report at once
            elif "closing" in self._deadlines:
                # A long closing, or a slow start, must not be cut by its own deadline: let what is
                # queued play out (plus the grace), within the cap set when the gate said CLOSING.
                played_out = now + self.playout.queued_bytes / BYTES_PER_MS / 1000 + 2 * self.settings.closing_grace_s
                self._deadlines["closing"] = min(max(self._deadlines["closing"], played_out), self._closing_cap)
        self._pump()

    def _retry_unheard(self, info: ResponseInfo, event: ResponseFinished) -> None:
        request = info.request or SpeechRequest("retry", answers_item=info.answers_item, attempts=1)
        if info.dropped:  # we cancelled it (the caller cut in, or the closing): what replaced it speaks
            self._decide("speech", "drop", f"response {event.status} after we cancelled it; not asking again")
            return
        if request.attempts > self.settings.max_retries:
            self._decide("speech", "fail", f"response {event.status} ({event.reason}); not asking again")
            return
        self._decide("speech", "retry", f"response {event.status} ({event.reason}) said nothing; asking again")
        if self.closing.state is Closing.NONE or request.purpose == "closing":
            self._queue.appendleft(request)

    def _on_error(self, error: ModelError) -> None:
        log.warning("call %s: model error %s: %s", self.call_id, error.code, error.message)
        if error.request_id == self._configure_id and self.link.state is Link.CONFIGURING:
            self._on_rejected(f"{error.code}: {error.message}")
            return
        request = self._outstanding
        if request is None or error.request_id != request.request_id:
            return  # a truncate past the audio, a cancel too late: nothing of ours to retry
        self._outstanding = None
        self.speech.fire(SpeechEvent.REFUSED, f"{request.purpose}: {error.code}")
        if request.purpose == "follow_up" and error.code == ACTIVE_RESPONSE:
            self._decide("speech", "drop", "follow-up refused: the response in flight already answers")
        elif request.attempts < self.settings.max_refusals:
            self._queue.appendleft(request)  # asked again once nothing is in flight
        else:
            self._decide("speech", "fail", f"{request.purpose} refused {request.attempts} times ({error.code})")
        self._pump()

    # ---- audio out: what the caller hears ------------------------------------------------
    def _on_audio(self, event: AudioDelta, now: float) -> None:
        info = self._responses.get(event.response_id)
        if info is None or info.dropped or info.muted or self.playback.is_dropped(event.response_id, event.item_id):
            return
        if info.request is not None and info.request.text is not None:
            first = info.first_item = info.first_item or event.item_id
            if first != event.item_id:
                self.playback.drop_item(event.item_id, event.response_id)
                if not info.noted_extra:
                    info.noted_extra = True
                    self._decide("intervention", "deny", "extra speech in an exact-words response")
                return
        elif info.first_item is None:
            info.first_item = event.item_id
        self.playback.generated(event.item_id, event.response_id, len(event.audio))
        item = self.playback.items[event.item_id]
        if item.started_ms is None:
            item.started_ms = self._ms(now)
            self._out.append(ReserveTurn(event.item_id, item.started_ms))  # its place: when it starts playing
        info.audio_ms += len(event.audio) // BYTES_PER_MS
        self._last_activity = now
        self._out.append(Play(event.item_id, event.audio))
        self._deadlines["playout"] = now + self.playout.queued_bytes / BYTES_PER_MS / 1000 + len(event.audio) / 8000

    def _on_function_call_started(self, event: FunctionCallStarted) -> None:
        info = self._responses.get(event.response_id)
        if info is None or event.name != END_TOOL or info.muted:
            return
        info.muted = True  # the gate's closing is the only farewell the caller hears
        for item_id, item in self.playback.items.items():
            if item.response_id != event.response_id or item.dropped or item.interrupted:
                continue
            sent = self.playout.drop_item(item_id)
            if sent is None:
                continue  # already played out: nothing left to silence
            heard = max(0, min(sent, item.generated_ms))
            item.interrupted, item.heard_ms = True, heard
            self._send(Truncate(self.ids.next(), item_id, heard))
            self._decide("intervention", "deny", f"speech of an end_call response muted at {heard} ms heard")

    def _on_caller_speech(self, event: CallerSpeechStarted, now: float) -> None:
        echo = not self.level.audible()
        self._out += self.transcript.caller_started(event.item_id, self._ms(now), echo=echo)
        if echo:
            self._decide("intervention", "deny", "speech_started with no sound on the caller's line (echo); playing on")
            return
        self._caller_active(now, AttentionEvent.CALLER_SPEAKING)
        if self.closing.state is not Closing.NONE:
            return  # the closing plays out: the caller is heard but cannot cut it
        self._barge_in(now)

    def _barge_in(self, now: float) -> None:
        cuts = self.playback.cut(self.playout.clear())
        for cut in cuts:
            generated = self.playback.items[cut.item_id].generated_ms
            self._send(Truncate(self.ids.next(), cut.item_id, cut.audio_end_ms))
            heard = f"barge-in: truncated at {cut.audio_end_ms} ms heard of {generated} ms generated"
            self._decide("intervention", "accept", heard)
        active = self._responses.get(self._active or "")
        if self._active is not None and active is not None and not active.dropped:
            active.dropped = True
            self._send(CancelResponse(self.ids.next(), self._active))

    def _write_heard(self, now: float, *, final: bool = False) -> None:
        actions, written = self.transcript.write_heard(self._ms(now), final=final)
        self._out += actions
        if self._closing_item in written and self.closing.state is Closing.PLAYING:
            self.closing.fire(ClosingEvent.PLAYED_OUT, "the closing played out")
            self._deadlines["grace"] = now + self.settings.closing_grace_s

    # ---- tools and policy ----------------------------------------------------------------
    def _on_tools_done(self, event: ToolRoundDone) -> None:
        self._workers -= 1
        if event.session != self.session or not self.model_ready:
            self._decide("intervention", "drop", "tool outputs for a session that is gone; the seed carries the record")
        else:
            for call_id, output in event.outputs:
                self._send(FunctionOutput(self.ids.next(), call_id, output))
        info = self._responses.get(event.response_id)
        if not self._apply(event.directives) and event.session == self.session:
            self._request(SpeechRequest("follow_up", answers_item=info.answers_item if info else None))

    def _on_policy_done(self, event: PolicyDone, now: float) -> None:
        self._workers -= 1
        if event.action == "closing_played":
            if self.closing.state is not Closing.REPORTING:
                return  # the call ended meanwhile (the caller hung up): nothing to finish
            if event.ok:
                self.closing.fire(ClosingEvent.REPORTED, "the gate heard the closing played")
                self._emit(HangUp("the closing played"))
            elif self._reports >= self.settings.report_attempts:
                self._decide("intervention", "fail", f"closing report failed {self._reports} times; hanging up anyway")
                self.closing.fire(ClosingEvent.REPORTED, "report retries exhausted")
                self._emit(HangUp("closing report failed"))
            else:
                self.closing.fire(ClosingEvent.REPORT_FAILED, f"attempt {self._reports}")
                self._report_closing(self.settings.report_retry_s)
            return
        if not event.ok:
            self._decide("intervention", "fail", f"{event.action} could not be delivered")
            if event.action == "model_unavailable":
                self._hang_up("no model session and the gate could not be told")
            return
        self._apply(event.directives)
        if event.action == "model_unavailable":
            self._hang_up("no model session")

    def _apply(self, directives: tuple[Directive, ...] | list[Directive]) -> bool:
        """Carry out the policy's directives; True when one of them asked the model to speak."""
        spoke = False
        for d in directives:
            match d:
                case PlayClosing():
                    spoke = True
                    if self.closing.state is Closing.NONE:
                        self.closing.fire(ClosingEvent.GATE_CLOSING, "the gate allowed the closing")
                        self.attention.fire(AttentionEvent.CLOSING, "closing")
                        self._deadlines["closing"] = self._now + d.teardown_ms / 1000
                        self._closing_cap = self._now + 2 * d.teardown_ms / 1000  # the most a closing may take
                        self._deadlines.pop("idle", None)
                        self._cancel_for_closing()
                        self._request(SpeechRequest("closing", text=d.text))
                case ReadBack():
                    spoke = True
                    self._request(SpeechRequest("read_back", text=d.text, field=d.field))
                case LanguageFallback(text=str() as text):
                    spoke = True
                    self._request(SpeechRequest("fallback", text=text))
                case LanguageFallback() | SwitchLanguage():
                    pass  # the model continues in the language on its own
                case HangUpDirective():
                    self._hang_up(d.reason)
                case _:
                    assert_never(d)
        return spoke

    def _cancel_for_closing(self) -> None:
        info = self._responses.get(self._active or "")
        if self._active is None or info is None or info.dropped:
            return
        info.dropped = True
        for cut in self.playback.cut(self.playout.clear()):
            self._send(Truncate(self.ids.next(), cut.item_id, cut.audio_end_ms))
        self._send(CancelResponse(self.ids.next(), self._active))
        self._decide("intervention", "deny", "response in flight cancelled for the closing")

    def _policy(self, event: Any, delay_s: float = 0.0) -> None:
        self._workers += 1
        self._emit(CallPolicy(event, delay_s))

    def _report_closing(self, delay_s: float = 0.0) -> None:
        self._reports += 1
        self._deadlines.pop("closing", None)
        self._deadlines.pop("grace", None)
        self._policy(ClosingPlayed(call_id=self.call_id), delay_s)

    def _hang_up(self, reason: str) -> None:
        if self.closing.state is Closing.HUNG_UP:
            return
        self.closing.fire(ClosingEvent.HANG_UP, reason)
        self.attention.fire(AttentionEvent.CLOSING, reason)
        self._deadlines.clear()
        self._emit(HangUp(reason))

    # ---- time ------------------------------------------------------------------------------
    def _on_tick(self, now: float) -> None:
        due = {name for name, at in self._deadlines.items() if at <= now}
        for name in due:
            self._deadlines.pop(name, None)
        if "configure" in due and self.link.state is Link.CONFIGURING:
            self._on_rejected(f"no session.updated within {self.settings.configure_timeout_s:.0f} s")
        if "playout" in due:
            self._last_activity = now  # the agent's audio played until now: silence counts from here
            if self.playout.queued_bytes:
                self._deadlines["playout"] = now + self.playout.queued_bytes / BYTES_PER_MS / 1000
        if self.closing.state in (Closing.QUEUED, Closing.PLAYING, Closing.PLAYED):
            if "closing" in due:
                self.closing.fire(ClosingEvent.DEADLINE, "the teardown budget ran out")
                self._report_closing()
            elif "grace" in due and self.closing.state is Closing.PLAYED:
                self.closing.fire(ClosingEvent.GRACE_OVER, "grace over")
                self._report_closing()
            elif "grace" in due and self.closing.state is Closing.PLAYING and self._closing_item is None:
                self.closing.fire(ClosingEvent.DEADLINE, "the closing response had no audio")
                self._report_closing()
        if "max" in due and self.attention.state not in (Attention.OFF, Attention.OVERTIME):
            self.attention.fire(AttentionEvent.MAX_DURATION, "max_call_seconds")
            self._policy(MaxDuration(call_id=self.call_id))
        if "idle" in due:
            self._on_idle(now)

    def _on_idle(self, now: float) -> None:
        prompts_left = self._prompts < self.spec.limits.idle_prompts
        event = AttentionEvent.IDLE_PROMPT if prompts_left else AttentionEvent.IDLE_EXHAUSTED
        if not self.attention.can(event):
            return
        self.attention.fire(event, f"silent {now - self._last_activity:.1f} s")
        self._last_activity = now
        if event is AttentionEvent.IDLE_PROMPT:
            self._prompts += 1
            self._request(SpeechRequest("idle_prompt", instructions=IDLE_PROMPT))
        else:
            silent = int((now - self._last_caller) * 1000)
            self._policy(CallerIdle(call_id=self.call_id, idle_prompts_played=self._prompts, caller_silent_ms=silent))

    def _arm_idle(self, now: float) -> None:
        busy = (
            self.speech.state is not Speech.IDLE
            or self._queue
            or self._workers
            or self.playout.queued_bytes
            or not self.model_ready
            or self.attention.state in (Attention.OFF, Attention.OVERTIME, Attention.HEARING)
        )
        if busy:
            self._deadlines.pop("idle", None)
            if self.playout.queued_bytes or self.speech.state is not Speech.IDLE:
                self._last_activity = now
            return
        self._deadlines["idle"] = self._last_activity + self.spec.limits.idle_seconds

    def _caller_active(self, now: float, event: AttentionEvent = AttentionEvent.CALLER_ACTIVE) -> None:
        self._last_activity = self._last_caller = now
        self._prompts = 0
        self.attention.fire(event, "caller speech" if event is AttentionEvent.CALLER_SPEAKING else "caller spoke")

    # ---- helpers --------------------------------------------------------------------------
    def _ms(self, now: float) -> int:
        return int((now - self.t0) * 1000)

    def _emit(self, action: Action) -> None:
        self._out.append(action)

    def _send(self, command: Any) -> None:
        self._out.append(Send(command))

    def _decide(self, kind: str, verdict: str, reason: str, **extra: object) -> None:
        self._out.append(Decide(kind, verdict, reason, tuple(extra.items())))
