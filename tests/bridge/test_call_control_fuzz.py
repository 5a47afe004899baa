"""CallControl under random sequences a real service, real models, workers and callers can produce.

The machine below plays the realtime service, the tool and policy workers, the caller and the
clock against `CallControl` (through the Harness). It keeps its own bookkeeping of what the
service has seen (sessions, requests, responses, caller items), so it only sends what the real
service could send in that state. Invariants, checked after every step:

- at most one closing is heard, and nothing but the closing is played once the gate said CLOSING;
- every closing the gate allowed reaches a HangUp within the teardown budget plus bounded report
  retries (unless the SIP dialog ended first);
- never two responses of ours requested or in flight;
- no exact line is sent twice unless policy asked twice, or the earlier one was refused or ended
  unheard;
- caller audio reaches a live session: `model_ready` follows the service's live session, the step
  that makes it live flushes the buffered audio, and a new session is asked for within 1 s;
- `next_deadline()` is never in the past once ticks are processed; no exception is ever raised
  (a `Machine.fire` outside its table raises `IllegalTransition`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hypothesis import HealthCheck, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from realtime_bridge.call_control import EXACT_PREFIX, ControlSettings
from realtime_bridge.call_events import (
    Action,
    CallPolicy,
    Connect,
    Connected,
    ConnectFailed,
    Drain,
    Event,
    FlushAudio,
    HangUp,
    Keypad,
    Play,
    PolicyDone,
    RunTools,
    Send,
    SessionClosed,
    SipEnded,
    ToolRoundDone,
)
from realtime_bridge.call_machines import Link
from realtime_bridge.realtime.model_events import (
    AgentTranscriptDelta,
    AudioDelta,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    CallerTranscriptFailed,
    CallerTurnCommitted,
    Configure,
    CreateResponse,
    FunctionCall,
    FunctionCallStarted,
    ModelError,
    ResponseFinished,
    ResponseStarted,
    ResponseStatus,
    SessionReady,
    SessionRejected,
)
from voice_agent.directives import Directive, PlayClosing, ReadBack
from voice_agent.directives import HangUp as HangUpDirective
from voice_agent.spec import Limits, load_spec

from .control_harness import Harness

ROOT = Path(__file__).resolve().parents[2]
# Short limits so random runs reach idle prompts, teardown deadlines and the maximum duration.
SPEC = load_spec(ROOT / "agents" / "riverside_clinic.yaml").model_copy(
    update={"limits": Limits(max_call_seconds=40, idle_seconds=3, idle_prompts=1, closing_teardown_ms=2000)}
)
SETTINGS = ControlSettings()
ACTIVE = "conversation_already_has_active_response"
WORKER_MAX_S = 1.0  # a tool round or policy call answers within this (the shell's invoke timeout stands in)
TEARDOWN_S = SPEC.limits.closing_teardown_ms / 1000
# The gate's CLOSING -> HangUp budget: the closing's deadline (armed at CLOSING, re-armed once when
# it starts), then each report attempt's retry delay and worker time, and the grace plus one tick.
CLOSING_BUDGET_S = (
    2 * TEARDOWN_S
    + SETTINGS.report_attempts * (SETTINGS.report_retry_s + WORKER_MAX_S)
    + SETTINGS.closing_grace_s
    + 0.1
)

CLOSING = PlayClosing(text=SPEC.closing, teardown_ms=SPEC.limits.closing_teardown_ms)
READ_BACKS = (
    ReadBack(field="callback_number", text="6 1 7 5 5 5 0 1 4 2", expected_digits="6175550142"),
    ReadBack(field="date_of_birth", text="March 3, 1985", expected_digits="19850303"),
)
HANG_UP = HangUpDirective(reason="model_lost")
Replies = st.SearchStrategy[tuple[Directive, ...]]
# What the library answers, by what it was asked (voice_agent/policy_service.py): the gate closes,
# hangs up or refuses; a tool round with end_call is the gate; other tools may ask for a read-back;
# a failed read-back verification asks for the same read-back again.
END_CALL_REPLIES: Replies = st.sampled_from([(CLOSING,), (CLOSING,), (), (READ_BACKS[0], CLOSING), (HANG_UP,)])
TOOL_REPLIES: Replies = st.sampled_from([(), (READ_BACKS[0],), (READ_BACKS[1],)])
GATE_REPLIES: Replies = st.sampled_from([(CLOSING,), (CLOSING,), (HANG_UP,), ()])
READ_BACK_REPLIES: Replies = st.sampled_from([(), (READ_BACKS[0],)])
STATUSES: tuple[ResponseStatus, ...] = ("completed", "cancelled", "incomplete", "failed")
REASONS: dict[str, str] = {
    "completed": "",
    "cancelled": "client_cancelled",
    "incomplete": "max_output_tokens",
    "failed": "server_error",
}


@dataclass
class SentRequest:
    """One CreateResponse as the service saw it."""

    command: CreateResponse
    session: int
    state: Literal["pending", "started", "finished", "refused", "reset"] = "pending"
    response_id: str | None = None
    status: str | None = None

    @property
    def resolved(self) -> bool:
        return self.state in ("finished", "refused", "reset")


@dataclass
class ServiceResponse:
    response_id: str
    request: SentRequest | None  # None: the service's own VAD response
    items: list[str] = field(default_factory=list)  # assistant message items with audio
    calls: list[FunctionCall] = field(default_factory=list)
    heard: bool = False  # a Play action carried its audio


@dataclass
class Worker:
    """A RunTools or CallPolicy the shell is working on: answered no earlier than `ready`, at the latest at `due`."""

    action: RunTools | CallPolicy
    ready: float
    due: float


class CallControlMachine(RuleBasedStateMachine):
    steer = False  # the second run below steers generation towards closings heard and sessions dropped

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)
        self.h = Harness(SPEC)
        # the service
        self.connects = 0  # Connect actions not answered yet
        self.session = 0
        self.open = False
        self.configure_id: str | None = None  # our session.update, not answered yet
        self.live = False
        self.active: ServiceResponse | None = None
        self.pending: list[SentRequest] = []  # sent in this session, neither started nor refused
        self.commits = 0  # committed caller turns the service's VAD may answer with a response
        self.speaking: str | None = None  # the caller item whose speech is under way
        self.committed: list[str] = []  # caller items committed, their transcription not in yet
        self.other_requests: list[str] = []  # event ids of our non-response commands
        # what was said and heard
        self.requests: dict[str, SentRequest] = {}
        self.last_request: SentRequest | None = None
        self.responses: dict[str, ServiceResponse] = {}
        self.item_response: dict[str, str] = {}
        self.closing_responses: set[str] = set()
        self.heard_closings: set[str] = set()
        self.asked: Counter[str] = Counter({EXACT_PREFIX + SPEC.greeting: 1})
        self.exact_sends: dict[str, list[SentRequest]] = {}
        self.gate_at: float | None = None  # the gate said CLOSING
        self.hung_up_at: float | None = None
        self.sip_ended = False
        self.drained = False
        self.trouble_budget, self.hang_up_after, self.events = 0, 0, 0
        self.keypads = self.stray_errors = self.cut_by_drop = self.drops = 0
        self.workers: list[Worker] = []
        self.absorb(self.h.actions)

    # ---- feeding and bookkeeping ------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.h.now

    def next_id(self, kind: str) -> str:
        return f"{kind}_{next(self.ids)}"

    def feed(self, event: Event) -> list[Action]:
        self.events += 1
        was_ready = self.h.control.model_ready
        out = self.h.feed(event)
        out += self.h.advance(0)  # the shell's timer fires at once for a deadline already due
        self.absorb(out)
        if self.h.control.model_ready and not was_ready:
            assert any(isinstance(a, FlushAudio) for a in out), "the session went live without flushing caller audio"
        return out

    def absorb(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Connect():
                    assert action.delay_s < 1.0, f"a new session is asked for only after {action.delay_s} s"
                    self.connects += 1
                case Send(command=Configure() as configure):
                    self.configure_id = configure.request_id
                case Send(command=CreateResponse() as create):
                    self.on_create(create)
                case Send(command=command):
                    self.other_requests.append(command.request_id)
                case Play():
                    self.on_play(action)
                case RunTools():
                    self.workers.append(Worker(action, self.now, self.now + WORKER_MAX_S))
                case CallPolicy():
                    ready = self.now + action.delay_s
                    self.workers.append(Worker(action, ready, ready + WORKER_MAX_S))
                case HangUp():
                    if self.hung_up_at is None:
                        self.hung_up_at = self.now
                case _:
                    pass

    def on_create(self, create: CreateResponse) -> None:
        last = self.last_request
        assert last is None or last.resolved, f"{create.purpose} sent while {last.command.purpose} is {last.state}"
        assert self.active is None, f"{create.purpose} sent while {self.active.response_id} is in flight"
        assert self.live, f"{create.purpose} sent into a session that is not live"
        if create.purpose == "idle_prompt":  # a long utterance is not silence
            assert not (self.speaking and self.h.level.loud), (
                f"idle prompt while the caller is talking ({self.speaking})"
            )
        sent = SentRequest(create, self.session)
        instructions = create.instructions or ""
        if instructions.startswith(EXACT_PREFIX):
            before = [s for s in self.exact_sends.get(instructions, []) if not self.unheard_failure(s)]
            assert len(before) < self.asked[instructions], f"exact line said again: {instructions!r}"
            self.exact_sends.setdefault(instructions, []).append(sent)
        self.requests[create.request_id] = self.last_request = sent
        self.pending.append(sent)

    def unheard_failure(self, sent: SentRequest) -> bool:
        """Refused, or ended without a sound of it played (failed, cancelled, cut off with its session)."""
        if sent.state == "refused":
            return True
        response = self.responses.get(sent.response_id or "")
        heard = response is not None and response.heard
        return not heard and (sent.state == "reset" or (sent.state == "finished" and sent.status != "completed"))

    def on_play(self, play: Play) -> None:
        response_id = self.item_response[play.item_id]
        self.responses[response_id].heard = True
        if response_id in self.closing_responses:
            self.heard_closings.add(response_id)
            assert len(self.heard_closings) == 1, f"two closings heard: {sorted(self.heard_closings)}"
        else:
            assert self.gate_at is None, f"{response_id} played after the gate said CLOSING"

    def deliver(self, directives: tuple[Directive, ...]) -> None:
        """Directives that call control will carry out: note what the gate and policy asked."""
        for d in directives:
            if isinstance(d, ReadBack):
                self.asked[EXACT_PREFIX + d.text] += 1
            elif isinstance(d, PlayClosing) and self.gate_at is None and self.hung_up_at is None:
                self.gate_at = self.now
                self.asked[EXACT_PREFIX + d.text] += 1

    def session_gone(self) -> None:
        self.cut_by_drop += self.active is not None and self.active.heard
        self.open = self.live = False
        self.configure_id = None
        self.active = None
        for sent in self.requests.values():
            if sent.session == self.session and not sent.resolved:
                sent.state = "reset"
        self.pending.clear()
        self.commits = 0
        self.speaking = None
        self.committed.clear()

    # ---- the model link -------------------------------------------------------------------
    def going(self) -> bool:
        return not self.sip_ended

    @initialize(
        start=st.sampled_from(["greeted", "greeted", "live", "connecting"]),
        troubles=st.integers(0, 7),
        hang_up_after=st.integers(10, 200),
    )
    def first_session(self, start: str, troubles: int, hang_up_after: int) -> None:
        """Most calls begin greeted, some with the greeting asked, the rest from a bare Connect. Each
        call has its own budget of link trouble and a caller who may hang up after so many events,
        so most runs get far into the conversation."""
        self.trouble_budget, self.hang_up_after = troubles, hang_up_after
        if start != "connecting":
            self.connected()
            self.session_updated()
        if start == "greeted":
            self.whole_response(ours=True, chunks=[400], call=None, status="completed")

    @precondition(lambda self: self.going() and self.connects > 0)
    @rule()
    def connected(self) -> None:
        self.connects -= 1
        self.session += 1
        self.open = True
        self.feed(Connected(record_state="- caller_name: recorded (Maria Lopez)" if self.session > 1 else ""))

    @precondition(lambda self: self.going() and self.open and self.configure_id is not None)
    @rule()
    def session_updated(self) -> None:
        self.configure_id = None
        self.live = True
        self.feed(SessionReady())

    def troubles(self) -> list[str]:
        """What can go wrong with the link or the call now: one rule, so trouble is not most of a run."""
        if not self.going():
            return []
        out = ["sip_end"] if self.events >= self.hang_up_after else []
        if self.trouble_budget <= 0:
            return out
        if self.connects > 0:
            out += ["refused_401", "refused_429", "refused_503", "refused_none"]
        if self.open:
            out += ["closed_1001", "closed_1011", "closed_1006", "closed_4000"]
        if self.open and self.configure_id is not None:
            out += ["rejected_error", "rejected_formats"]
        return out

    @precondition(lambda self: self.troubles())
    @rule(data=st.data())
    def trouble(self, data: st.DataObject) -> None:
        """A connect refused, session.update rejected, the session closed (1001 at 60 min, 1011 server
        fault, 1006 dropped, 4000 refused shape), or the SIP dialog over (caller hang-up or our BYE done)."""
        kind, _, arg = data.draw(st.sampled_from(self.troubles())).partition("_")
        self.trouble_budget -= kind != "sip"
        if kind == "sip":
            self.sip_ended = True
            self.feed(SipEnded(by_caller=data.draw(st.booleans())))
        elif kind == "refused":
            self.connects -= 1
            self.feed(ConnectFailed(None if arg == "none" else int(arg), "refused"))
        elif kind == "closed":
            self.session_gone()
            self.feed(SessionClosed(int(arg)))
        else:
            configure_id, self.configure_id = self.configure_id, None
            rejection = ModelError("invalid_value", "unknown voice", configure_id)
            self.feed(rejection if arg == "error" else SessionRejected("the session kept audio/pcm"))

    @precondition(lambda self: self.going() and self.active is not None and self.active.heard and self.drops < 2)
    @rule(code=st.sampled_from([1011, 1001]))
    def session_closed_mid_speech(self, code: int) -> None:
        """The stand-in's drop_session_at_s (1011) or the 60-minute limit (1001) while the caller hears us."""
        self.drops += 1
        self.session_gone()
        self.feed(SessionClosed(code))

    # ---- responses ---------------------------------------------------------------------------
    def can_start(self) -> bool:
        return self.going() and self.live and self.active is None

    @precondition(lambda self: self.can_start() and self.pending)
    @rule()
    def our_response_started(self) -> None:
        sent = self.pending.pop(0)
        response_id = self.next_id("resp")
        sent.state, sent.response_id = "started", response_id
        self.begin(ServiceResponse(response_id, sent))
        if sent.command.purpose == "closing":
            self.closing_responses.add(response_id)
        self.feed(ResponseStarted(response_id, sent.command.request_id))

    @precondition(lambda self: self.can_start() and self.commits > 0)
    @rule()
    def vad_response_started(self) -> None:
        self.commits -= 1
        response_id = self.next_id("resp")
        self.begin(ServiceResponse(response_id, None))
        self.feed(ResponseStarted(response_id, None))

    def begin(self, response: ServiceResponse) -> None:
        self.active = self.responses[response.response_id] = response

    @precondition(lambda self: self.going() and self.active is not None)
    @rule(new_item=st.booleans(), ms=st.sampled_from([20, 100, 400, 1500]))
    def audio(self, new_item: bool, ms: int) -> None:
        response = self.active
        assert response is not None
        if new_item or not response.items:
            item_id = self.next_id("item")
            response.items.append(item_id)
            self.item_response[item_id] = response.response_id
        self.feed(AudioDelta(response.response_id, response.items[-1], b"\x00" * 8 * ms))

    @precondition(lambda self: self.going() and self.active is not None and self.active.items)
    @rule()
    def agent_transcript_delta(self) -> None:
        assert self.active is not None
        self.feed(AgentTranscriptDelta(self.active.items[-1], "Thank you, "))

    @precondition(lambda self: self.going() and self.active is not None and len(self.active.calls) < 2)
    @rule(name=st.sampled_from(["end_call", "record_callback_number"]))
    def function_call(self, name: str) -> None:
        response = self.active
        assert response is not None
        call = FunctionCall(self.next_id("call"), name, "{}")
        response.calls.append(call)
        self.feed(FunctionCallStarted(response.response_id, self.next_id("item"), name))

    @precondition(lambda self: self.going() and self.active is not None)
    @rule(status=st.sampled_from(STATUSES))
    def response_done(self, status: ResponseStatus) -> None:
        response = self.active
        assert response is not None
        self.active = None
        if response.request is not None:
            response.request.state, response.request.status = "finished", status
        messages = tuple((item, f"said {item}") for item in response.items)
        self.feed(ResponseFinished(response.response_id, status, REASONS[status], messages, tuple(response.calls)))

    @precondition(lambda self: self.going() and self.open and self.pending)
    @rule(code=st.sampled_from([ACTIVE, "invalid_value"]))
    def request_refused(self, code: str) -> None:
        if code == ACTIVE and self.active is None:
            code = "invalid_value"  # the service refuses with this only while a response is in flight
        sent = self.pending.pop(0)
        sent.state = "refused"
        self.feed(ModelError(code, "refused", sent.command.request_id))

    @precondition(lambda self: self.going() and self.open and self.stray_errors < 3)
    @rule(data=st.data())
    def other_error(self, data: st.DataObject) -> None:
        """A truncate past the audio, a cancel after the response ended, or a server error naming nothing."""
        self.stray_errors += 1
        named = data.draw(st.sampled_from([None, *self.other_requests[-5:]]))
        self.feed(ModelError("invalid_value" if named else "server_error", "not applied", named))

    # ---- the caller --------------------------------------------------------------------
    @precondition(lambda self: self.going() and self.live and self.speaking is None)
    @rule(audible=st.booleans())
    def caller_speech_started(self, audible: bool) -> None:
        """Caller speech (the line carries sound) or the agent's own echo (the line is silent)."""
        self.speaking = self.next_id("item_caller")
        self.h.level.loud = audible
        self.feed(CallerSpeechStarted(self.speaking))

    @precondition(lambda self: self.going() and self.speaking is not None)
    @rule()
    def caller_speech_stopped(self) -> None:
        """The server VAD hears silence and commits the turn (a pause mid-turn commits early too)."""
        item_id, self.speaking = self.speaking, None
        assert item_id is not None
        self.feed(CallerSpeechStopped(item_id))
        self.committed.append(item_id)
        self.commits += 1
        self.feed(CallerTurnCommitted(item_id))

    @precondition(lambda self: self.going() and self.committed)
    @rule(data=st.data(), outcome=st.sampled_from(["completed", "empty", "failed"]))
    def caller_transcript(self, data: st.DataObject, outcome: str) -> None:
        self.transcribe(data.draw(st.sampled_from(self.committed)), outcome)

    def transcribe(self, item_id: str, outcome: str) -> None:
        self.committed.remove(item_id)
        if outcome == "failed":
            self.feed(CallerTranscriptFailed(item_id, "audio_unintelligible"))
        else:
            self.feed(CallerTranscript(item_id, "My number is six one seven." if outcome == "completed" else ""))

    @precondition(lambda self: self.going() and self.keypads < 2)
    @rule(digit=st.sampled_from(["1", "#"]))
    def keypad(self, digit: str) -> None:
        self.keypads += 1
        self.feed(Keypad(digit))

    # ---- whole turns in one step, so runs get deep into a call ------------------------------
    @precondition(lambda self: self.can_start() and (self.pending or self.commits > 0))
    @rule(
        ours=st.booleans(),
        chunks=st.lists(st.sampled_from([100, 400, 1500]), max_size=3),
        call=st.sampled_from([None, None, "end_call", "record_callback_number"]),
        status=st.sampled_from(["completed", "completed", *STATUSES]),
        meanwhile=st.sampled_from([None, None, "worker", "drain", "caller", "echo", "drop"]),
        at=st.integers(0, 2),
        data=st.data(),
    )
    def whole_response(
        self,
        ours: bool,
        chunks: list[int],
        call: str | None,
        status: ResponseStatus,
        meanwhile: str | None = None,
        at: int = 0,
        data: st.DataObject | None = None,
    ) -> None:
        """A response start to finish: ours if one is asked (else the VAD's), speech, maybe a call;
        meanwhile, after chunk `at` + 1, a worker may answer, the bridge drain, the caller (or the line's
        echo) speak, or the session drop."""
        if (ours and self.pending) or not self.commits:
            self.our_response_started()
        else:
            self.vad_response_started()
        at = min(at + 1, len(chunks))  # after some audio, when there is any
        for i, ms in enumerate([*chunks, 0]):
            if i == at and meanwhile == "drain" and data is not None and not self.drained:
                self.drain()  # the bridge drains mid-response and the gate answers at once
                self.answer(self.workers[-1], data)
            elif i == at and meanwhile == "worker" and data is not None and self.ready_workers():
                self.answer(data.draw(st.sampled_from(self.ready_workers())), data)
            elif i == at and meanwhile in ("caller", "echo") and self.live and self.speaking is None:
                self.caller_speech_started(audible=meanwhile == "caller")
            elif i == at and meanwhile == "drop" and self.open:
                self.session_gone()  # the stand-in's drop_session_at_s: 1011 in the middle of a response
                self.feed(SessionClosed(1011))
                if self.connects:  # and the new session comes up at once
                    self.connected()
                    self.session_updated()
            if ms and self.active is not None:
                self.audio(new_item=i == 0, ms=ms)
        if call is not None and self.active is not None:
            self.function_call(call)
        if self.active is not None:  # the session may have gone meanwhile
            self.response_done(status)

    @precondition(lambda self: self.going() and self.live and self.speaking is None)
    @rule(audible=st.booleans(), outcome=st.sampled_from([None, "completed", "completed", "empty", "failed"]))
    def whole_caller_turn(self, audible: bool, outcome: str | None) -> None:
        """The caller speaks (or the line echoes), the VAD commits; the transcript now or later."""
        self.caller_speech_started(audible)
        item_id = self.speaking
        self.caller_speech_stopped()
        if outcome is not None and item_id is not None:
            self.transcribe(item_id, outcome)

    # ---- workers ----------------------------------------------------------------------------
    def ready_workers(self) -> list[Worker]:
        return [w for w in self.workers if w.ready <= self.now]

    @precondition(lambda self: self.going() and self.ready_workers())
    @rule(data=st.data())
    def worker_done(self, data: st.DataObject) -> None:
        self.answer(data.draw(st.sampled_from(self.ready_workers())), data)

    def answer(self, worker: Worker, data: st.DataObject) -> None:
        self.workers.remove(worker)
        action = worker.action
        if isinstance(action, RunTools):
            outputs = tuple(
                (c.call_id, data.draw(st.sampled_from(["recorded", "error: store unavailable"]))) for c in action.calls
            )
            end_call = any(c.name == "end_call" for c in action.calls)
            directives = data.draw(END_CALL_REPLIES if end_call else TOOL_REPLIES)
            self.deliver(directives)
            self.feed(ToolRoundDone(action.response_id, action.session, outputs, directives))
            return
        kind = action.event.action
        ok = data.draw(st.booleans())
        if kind == "closing_played":
            self.feed(PolicyDone(kind, ok, (HangUpDirective(reason="closing_played"),) if ok else ()))
            return
        replies = READ_BACK_REPLIES if kind == "verify_readback" else GATE_REPLIES
        directives = data.draw(replies) if ok else ()  # a failed invoke has no reply
        self.deliver(directives)
        self.feed(PolicyDone(kind, ok, directives))

    # ---- the call and the clock -------------------------------------------------------------
    @precondition(lambda self: self.going() and not self.drained)
    @rule()
    def drain(self) -> None:
        self.drained = True
        self.feed(Drain())

    @precondition(lambda self: self.going() and self.hung_up_at is not None)
    @rule()
    def bye_answered(self) -> None:
        self.sip_ended = True
        self.feed(SipEnded(by_caller=False))

    @rule(seconds=st.sampled_from([0.02, 0.02, 0.1, 0.1, 0.3, 0.6, 1.2, 2.5, 6.0]), data=st.data())
    def advance(self, seconds: float, data: st.DataObject) -> None:
        """Time passes; a worker that is due answers then (with whatever outcome). Time moves from
        one deadline or worker to the next, so every action is noted at the time it happened."""
        end = self.now + seconds
        while self.now < end:
            stops = [end, *(w.due for w in self.workers if self.going())]
            deadline = self.h.control.next_deadline()
            step_to = min(stops if deadline is None else [*stops, deadline])
            self.absorb(self.h.advance(max(0.0, step_to - self.now)))
            for worker in sorted(self.workers, key=lambda w: w.due):
                if self.going() and worker.due <= self.now and worker in self.workers:
                    self.answer(worker, data)
            self.check_closing_budget()

    def teardown(self) -> None:
        self.h.control.finish(self.now)
        if self.steer:  # each label is pushed up on its own
            target(float(self.gate_at is not None) + float(bool(self.heard_closings)), label="closings")
            target(float(min(self.session, 4)), label="sessions")
            target(float(self.cut_by_drop), label="sessions dropped mid-speech")

    # ---- invariants ---------------------------------------------------------------------------
    @invariant()
    def closing_budget(self) -> None:
        self.check_closing_budget()

    def check_closing_budget(self) -> None:
        if self.gate_at is None or self.hung_up_at is not None or self.sip_ended:
            return
        late = self.now - self.gate_at
        assert late <= CLOSING_BUDGET_S, f"the gate said CLOSING {late:.2f} s ago and there is no HangUp"

    @invariant()
    def model_ready_follows_the_live_session(self) -> None:
        control = self.h.control
        if control.model_ready:
            assert self.live, "model_ready without a live session: caller audio would be sent into nothing"
        elif self.live and control.link.state not in (Link.FAILED, Link.CLOSED):
            raise AssertionError(f"a live session exists but the link is {control.link.state}: the caller is unheard")

    @invariant()
    def no_deadline_in_the_past(self) -> None:
        deadline = self.h.control.next_deadline()
        assert deadline is None or deadline > self.now, f"deadline {deadline} is in the past at {self.now}"


class SteeredCallMachine(CallControlMachine):
    steer = True


CallControlMachine.TestCase.settings = settings(
    max_examples=250, stateful_step_count=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SteeredCallMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCallControlFuzz = CallControlMachine.TestCase
TestCallControlFuzzSteered = SteeredCallMachine.TestCase
