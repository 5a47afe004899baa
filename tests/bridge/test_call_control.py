"""CallControl event by event, in the style of the SIP UAS tests: a list of events in, the actions
out, a fake clock. One test per way the real service or a real model broke the old call layer."""

from __future__ import annotations

import pytest

from realtime_bridge.call_control import ControlSettings
from realtime_bridge.call_events import (
    CallPolicy,
    Connect,
    Connected,
    ConnectFailed,
    Decide,
    FillCallerTurn,
    FlushAudio,
    HangUp,
    Play,
    PolicyDone,
    ReserveTurn,
    RunTools,
    SessionClosed,
    SipEnded,
    ToolRoundDone,
    WriteTurn,
)
from realtime_bridge.call_machines import Closing, Link, Speech
from realtime_bridge.realtime.model_events import (
    AddText,
    AudioDelta,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerTranscript,
    CallerTranscriptFailed,
    CallerTurnCommitted,
    CancelResponse,
    Configure,
    CreateResponse,
    FunctionCall,
    FunctionCallStarted,
    FunctionOutput,
    ModelError,
    ResponseFinished,
    ResponseStarted,
    SessionReady,
    SessionRejected,
    Truncate,
)
from voice_agent.directives import HangUp as HangUpDirective
from voice_agent.directives import PlayClosing, ReadBack
from voice_agent.invocation import ClosingPlayed, ModelUnavailable, VerifyReadback
from voice_agent.spec import AgentSpec

from .control_harness import Harness

ACTIVE = "conversation_already_has_active_response"


@pytest.fixture
def h(spec: AgentSpec) -> Harness:
    return Harness(spec)


def live(h: Harness) -> CreateResponse:
    """Connected and configured; returns the greeting request."""
    assert h.of(Connect) == [Connect()]
    h.feed(Connected())
    h.feed(SessionReady())
    greeting = h.last_request()
    assert greeting.purpose == "greeting" and greeting.instructions == "Say exactly: " + h.spec.greeting
    return greeting


def greeted(h: Harness) -> None:
    greeting = live(h)
    h.respond(greeting, "resp_greet", {"item_greet": 400})
    h.advance(0.5)


def caller_turn(h: Harness, item: str, text: str) -> None:
    h.feed(CallerSpeechStarted(item))
    h.feed(CallerTurnCommitted(item))
    h.feed(CallerTranscript(item, text))


def closing(h: Harness) -> PlayClosing:
    return PlayClosing(text=h.spec.closing, teardown_ms=h.spec.limits.closing_teardown_ms)


def test_the_greeting_waits_for_session_updated_and_carries_an_event_id(h: Harness) -> None:
    h.feed(Connected())
    configure = h.sent(Configure)
    assert len(configure) == 1 and configure[0].request_id
    assert h.sent(CreateResponse) == []  # nothing is asked before the service accepted the session
    assert not h.control.model_ready
    out = h.feed(SessionReady())
    assert h.of(FlushAudio, out) == [FlushAudio()]  # audio buffered during set-up is sent on
    greeting = h.last_request()
    assert greeting.request_id not in (configure[0].request_id, "")
    assert not greeting.allow_tools  # exact words: tool_choice none


def test_a_dropped_session_is_replaced_seeded_and_the_caller_is_not_greeted_again(h: Harness) -> None:
    greeted(h)
    caller_turn(h, "item_c1", "My name is Maria Lopez.")
    out = h.feed(SessionClosed(1011))
    assert h.of(Connect, out) == [Connect(0.0)] and h.control.link.state is Link.RECONNECTING
    assert not h.control.model_ready  # the uplink buffers caller audio meanwhile
    out = h.feed(Connected(record_state="- caller_name: recorded (Maria Lopez)"))
    configure = h.sent(Configure, out)[0]
    assert "Do not greet the caller again" in configure.session["instructions"]
    assert "caller_name: recorded" in configure.session["instructions"]
    seeded = [(c.role, c.text) for c in h.sent(AddText, out)]
    assert seeded == [("assistant", "said item_greet"), ("user", "My name is Maria Lopez.")]
    out = h.feed(SessionReady())
    requests = h.sent(CreateResponse, out)
    assert [r.purpose for r in requests] == ["resume"]  # the caller's last turn still gets its answer
    assert all(r.purpose != "greeting" for r in requests)
    assert h.of(FlushAudio, out) and any(d.kind == "model_session" for d in h.of(Decide, out))


def test_repeated_drops_and_refused_reconnects_end_the_call_through_the_gate(h: Harness) -> None:
    greeted(h)
    h.feed(SessionClosed(1006))
    for _ in h.settings.reconnect_delays_s[1:]:
        assert h.of(Connect, h.feed(ConnectFailed(503, "overloaded")))
    out = h.feed(ConnectFailed(503, "overloaded"))
    policy = [a.event for a in h.of(CallPolicy, out)]
    assert policy == [ModelUnavailable(call_id="CAtest", reason=policy[0].reason)]
    assert h.control.link.state is Link.FAILED
    out = h.feed(PolicyDone("model_unavailable", True, (HangUpDirective(reason="model_lost"),)))
    assert h.of(HangUp, out)


def test_a_refused_first_connect_never_leaves_an_answered_silent_line(h: Harness) -> None:
    out = h.feed(ConnectFailed(401, "invalid_api_key"))
    assert [type(a.event) for a in h.of(CallPolicy, out)] == [ModelUnavailable]
    out = h.feed(PolicyDone("model_unavailable", False))  # not even the gate could be told
    assert h.of(HangUp, out)


@pytest.mark.parametrize("rejection", ["error", "formats", "silence"])
def test_a_rejected_session_update_ends_the_call(h: Harness, rejection: str) -> None:
    h.feed(Connected())
    configure = h.sent(Configure)[0]
    if rejection == "error":
        out = h.feed(ModelError("invalid_value", "unknown voice", configure.request_id))
    elif rejection == "formats":
        out = h.feed(SessionRejected("the session kept audio/pcm"))
    else:
        out = h.advance(h.settings.configure_timeout_s + 0.1)
    assert [type(a.event) for a in h.of(CallPolicy, out)] == [ModelUnavailable]
    assert h.sent(CreateResponse) == []  # no greeting into a session that would play noise


def test_only_the_refused_request_is_asked_again_and_never_twice_at_once(h: Harness) -> None:
    greeted(h)
    caller_turn(h, "item_c1", "Six one seven...")
    h.feed(ResponseStarted("resp_tools", None))
    calls = (FunctionCall("call_1", "record_callback_number", '{"value": "6175550142"}'),)
    out = h.feed(ResponseFinished("resp_tools", "completed", "", (), calls))
    tools = h.of(RunTools, out)[0]
    assert tools.answers_item == "item_c1"  # the tool's turn_seq names the turn the response answered
    read_back = ReadBack(field="callback_number", text="6 1 7 5 5 5 0 1 4 2", expected_digits="6175550142")
    h.feed(ToolRoundDone("resp_tools", tools.session, (("call_1", "recorded"),), (read_back,)))
    asked = h.last_request()
    assert asked.purpose == "read_back"
    h.feed(ResponseStarted("resp_vad", None))  # the service's VAD response won the race
    assert h.control.speech.state is Speech.CONTENDED
    h.feed(ModelError(ACTIVE, "active response", asked.request_id))
    assert len(h.sent(CreateResponse)) == 2  # nothing new is asked while a response is in flight
    h.feed(ResponseFinished("resp_vad", "completed", "", ()))
    again = h.last_request()
    assert (again.purpose, again.instructions) == ("read_back", asked.instructions)
    assert again.request_id != asked.request_id
    assert [r.purpose for r in h.sent(CreateResponse)] == ["greeting", "read_back", "read_back"]


def test_a_refused_follow_up_is_covered_by_the_response_in_flight(h: Harness) -> None:
    greeted(h)
    h.feed(ResponseStarted("resp_tools", None))
    calls = (FunctionCall("call_1", "record_caller_name", '{"value": "Lee Wong"}'),)
    tools = h.of(RunTools, h.feed(ResponseFinished("resp_tools", "completed", "", (), calls)))[0]
    h.feed(ToolRoundDone("resp_tools", tools.session, (("call_1", "recorded; ask for the date of birth"),), ()))
    assert [o.call_id for o in h.sent(FunctionOutput)] == ["call_1"]
    follow_up = h.last_request()
    assert follow_up.purpose == "follow_up" and follow_up.allow_tools
    h.feed(ResponseStarted("resp_vad", None))
    h.feed(ModelError(ACTIVE, "active response", follow_up.request_id))
    h.feed(ResponseFinished("resp_vad", "completed", "", ()))
    assert h.sent(CreateResponse)[-1] is follow_up  # not asked again: the VAD response answered


def test_two_directives_in_one_round_are_asked_one_after_the_other(h: Harness) -> None:
    greeted(h)
    h.feed(ResponseStarted("resp_tools", None))
    calls = (FunctionCall("c1", "record_callback_number", "{}"), FunctionCall("c2", "end_call", "{}"))
    tools = h.of(RunTools, h.feed(ResponseFinished("resp_tools", "completed", "", (), calls)))[0]
    read_back = ReadBack(field="callback_number", text="6 1 7", expected_digits="617")
    out = h.feed(ToolRoundDone("resp_tools", tools.session, (("c1", "ok"), ("c2", "ok")), (read_back, closing(h))))
    assert [r.purpose for r in h.sent(CreateResponse, out)] == ["read_back"]  # one request out at a time
    read_back_request = h.last_request()
    out = h.feed(ResponseStarted("resp_rb", read_back_request.request_id))
    assert [c.response_id for c in h.sent(CancelResponse, out)] == ["resp_rb"]  # after CLOSING only the closing
    assert h.feed(AudioDelta("resp_rb", "item_rb", b"\x00" * 800)) == []
    out = h.feed(ResponseFinished("resp_rb", "cancelled", "client_cancelled", ()))
    assert [r.purpose for r in h.sent(CreateResponse, out)] == ["closing"]


def test_a_farewell_in_an_end_call_response_is_muted_so_the_closing_is_the_only_goodbye(h: Harness) -> None:
    greeted(h)
    h.feed(ResponseStarted("resp_bye", None))
    h.feed(AudioDelta("resp_bye", "item_bye", b"\x00" * 8 * 1500))  # 1.5 s generated at once
    h.advance(0.2)  # 200 ms of it heard
    out = h.feed(FunctionCallStarted("resp_bye", "item_call", "end_call"))
    truncate = h.sent(Truncate, out)
    assert [(t.item_id, t.audio_end_ms) for t in truncate] == [("item_bye", 200)]
    assert h.playout.queued_bytes == 0  # nothing more of it reaches the caller
    assert h.feed(AudioDelta("resp_bye", "item_bye", b"\x00" * 800)) == []
    calls = (FunctionCall("call_end", "end_call", '{"reason": "done"}'),)
    out = h.feed(ResponseFinished("resp_bye", "completed", "", (("item_bye", "Thanks, goodbye!"),), calls))
    turn = h.of(WriteTurn, out)[0]
    assert (turn.text, turn.interrupted, turn.heard_ms) == ("Thanks, goodbye!", True, 200)
    tools = h.of(RunTools, out)[0]
    h.feed(ToolRoundDone("resp_bye", tools.session, (("call_end", "closing"),), (closing(h),)))
    assert h.last_request().purpose == "closing"


def test_exact_words_play_their_first_message_only(h: Harness) -> None:
    greeting = live(h)
    h.feed(ResponseStarted("resp_g", greeting.request_id))
    assert h.of(Play, h.feed(AudioDelta("resp_g", "item_1", b"\x00" * 800)))
    out = h.feed(AudioDelta("resp_g", "item_2", b"\x00" * 800))
    assert h.of(Play, out) == [] and h.playout.queued_bytes == 800
    assert [d.reason for d in h.of(Decide, out)] == ["extra speech in an exact-words response"]
    assert h.feed(AudioDelta("resp_g", "item_2", b"\x00" * 800)) == []  # said once, not per delta


def test_the_closing_cannot_be_cut_and_nothing_after_it_is_heard(h: Harness) -> None:
    greeted(h)
    h.feed(PolicyDone("caller_idle", True, (closing(h),)))
    request = h.last_request()
    h.feed(ResponseStarted("resp_close", request.request_id))
    h.feed(AudioDelta("resp_close", "item_close", b"\x00" * 8 * 3000))
    h.advance(0.5)
    out = h.feed(CallerSpeechStarted("item_c9"))  # the caller talks over the goodbye
    assert h.sent(Truncate, out) == [] and h.sent(CancelResponse, out) == []
    assert h.playout.queued_bytes > 0
    assert h.of(ReserveTurn, out)  # heard and transcribed, just not allowed to cut
    h.feed(ResponseFinished("resp_close", "completed", "", (("item_close", h.spec.closing),)))
    out = h.feed(ResponseStarted("resp_after", None))  # the model tries to say more
    assert [c.response_id for c in h.sent(CancelResponse, out)] == ["resp_after"]
    assert h.feed(AudioDelta("resp_after", "item_after", b"\x00" * 800)) == []
    out = h.advance(3.0)
    assert [type(a.event) for a in h.of(CallPolicy, out)] == [ClosingPlayed]


def test_a_failed_closing_report_is_retried_then_the_call_hangs_up_anyway(h: Harness) -> None:
    greeted(h)
    h.feed(PolicyDone("max_duration", True, (closing(h),)))
    h.respond(h.last_request(), "resp_close", {"item_close": 1000})
    reports = [a for a in h.advance(2.0) if isinstance(a, CallPolicy)]
    assert len(reports) == 1
    for attempt in range(1, h.settings.report_attempts):
        out = h.feed(PolicyDone("closing_played", False))
        assert h.of(CallPolicy, out)[0].delay_s == h.settings.report_retry_s, attempt
    out = h.feed(PolicyDone("closing_played", False))
    assert h.of(HangUp, out) and h.control.closing.state is Closing.HUNG_UP


def test_a_closing_that_never_starts_still_ends_with_a_bye(h: Harness) -> None:
    greeted(h)
    h.feed(PolicyDone("bridge_draining", True, (closing(h),)))
    request = h.last_request()
    for attempt in range(h.settings.max_refusals):
        h.feed(ResponseStarted(f"resp_vad{attempt}", None))
        h.feed(ModelError(ACTIVE, "active", h.last_request().request_id))
        h.feed(ResponseFinished(f"resp_vad{attempt}", "completed", "", ()))
    assert h.last_request().purpose == "closing" and request.purpose == "closing"
    out = h.advance(h.spec.limits.closing_teardown_ms / 1000 + 0.1)
    assert [type(a.event) for a in h.of(CallPolicy, out)] == [ClosingPlayed]
    out = h.feed(PolicyDone("closing_played", True, (HangUpDirective(reason="closing_played"),)))
    assert h.of(HangUp, out)


def test_caller_turns_keep_speech_order_when_their_text_arrives_late(h: Harness) -> None:
    greeted(h)
    out = h.feed(CallerSpeechStarted("item_c1"))
    assert h.of(ReserveTurn, out)[0].item_id == "item_c1"
    h.feed(CallerTurnCommitted("item_c1"))
    h.respond(None, "resp_1", {"item_a1": 300})  # the reply starts before the caller's text is in
    h.advance(0.4)
    out = h.feed(CallerTranscript("item_c1", "It's for my back."))
    assert h.of(FillCallerTurn, out) == [FillCallerTurn("item_c1", "It's for my back.", "transcribed")]
    ordered = [a for a in h.actions if isinstance(a, (ReserveTurn, WriteTurn))]
    assert isinstance(ordered[-2], ReserveTurn) and ordered[-1].text == "said item_a1"  # type: ignore[union-attr]


@pytest.mark.parametrize("failure", ["failed", "empty"])
def test_a_lost_transcription_leaves_the_turn_marked_untranscribed(h: Harness, failure: str) -> None:
    greeted(h)
    h.feed(CallerSpeechStarted("item_c1"))
    event = CallerTranscriptFailed("item_c1", "audio_unintelligible") if failure == "failed" else None
    out = h.feed(event or CallerTranscript("item_c1", ""))
    assert h.of(FillCallerTurn, out) == [FillCallerTurn("item_c1", "", "untranscribed")]
    assert any(d.kind == "transcription" for d in h.of(Decide, out))


def test_a_failed_response_that_said_nothing_is_asked_again_once(h: Harness) -> None:
    greeted(h)
    h.feed(ResponseStarted("resp_f", None))
    out = h.feed(ResponseFinished("resp_f", "failed", "internal_error", ()))
    assert [r.purpose for r in h.sent(CreateResponse, out)] == ["retry"]
    retry = h.last_request()
    h.feed(ResponseStarted("resp_r", retry.request_id))
    out = h.feed(ResponseFinished("resp_r", "failed", "internal_error", ()))
    assert h.sent(CreateResponse, out) == []  # bounded: the agent is not stuck in a loop
    assert any(d.verdict == "fail" for d in h.of(Decide, out))


def test_an_incomplete_response_after_speech_is_not_said_again(h: Harness) -> None:
    greeted(h)
    h.feed(ResponseStarted("resp_i", None))
    h.feed(AudioDelta("resp_i", "item_i", b"\x00" * 800))
    out = h.feed(ResponseFinished("resp_i", "incomplete", "max_output_tokens", (("item_i", "Could I"),)))
    assert h.sent(CreateResponse, out) == []


def test_echo_on_the_line_does_not_cut_the_agent(h: Harness) -> None:
    greeting = live(h)
    h.feed(ResponseStarted("resp_g", greeting.request_id))
    h.feed(AudioDelta("resp_g", "item_g", b"\x00" * 8 * 2000))
    h.advance(0.3)
    h.level.loud = False
    out = h.feed(CallerSpeechStarted("item_echo"))
    assert h.sent(Truncate, out) == [] and h.sent(CancelResponse, out) == []
    assert h.of(ReserveTurn, out) == []  # noise is not a caller turn
    assert h.feed(CallerTranscript("item_echo", "")) == []
    h.level.loud = True
    out = h.feed(CallerSpeechStarted("item_c1"))  # real barge-in still works
    assert [t.item_id for t in h.sent(Truncate, out)] == ["item_g"]
    assert [c.response_id for c in h.sent(CancelResponse, out)] == ["resp_g"]


def test_idle_prompts_then_the_idle_escape_then_nothing_more(h: Harness) -> None:
    greeted(h)
    prompts = []
    for _ in range(h.spec.limits.idle_prompts):
        out = h.advance(h.spec.limits.idle_seconds + 0.5)  # silence counts from the end of the audio
        prompts += [r for r in h.sent(CreateResponse, out) if r.purpose == "idle_prompt"]
        h.respond(h.last_request(), f"resp_idle{len(prompts)}", {f"item_idle{len(prompts)}": 200})
    assert len(prompts) == h.spec.limits.idle_prompts
    out = h.advance(h.spec.limits.idle_seconds + 0.5)  # silence counts from the end of the audio
    idle = [a.event for a in h.of(CallPolicy, out)]
    assert [e.action for e in idle] == ["caller_idle"]
    assert idle[0].idle_prompts_played == h.spec.limits.idle_prompts  # type: ignore[union-attr]


def test_a_caller_hang_up_stops_every_machine(h: Harness) -> None:
    greeted(h)
    h.feed(SipEnded(by_caller=True))
    assert h.control.next_deadline() is None and h.control.closing.state is Closing.HUNG_UP
    assert h.feed(SessionClosed(1000)) == [] or h.control.link.state is Link.CLOSED


def test_a_read_back_is_verified_against_what_played(h: Harness) -> None:
    greeted(h)
    read_back = ReadBack(field="callback_number", text="6 1 7", expected_digits="617")
    h.feed(PolicyDone("verify_readback", True, (read_back,)))
    request = h.last_request()
    h.respond(request, "resp_rb", {"item_rb": 300})
    verify = [a.event for a in h.of(CallPolicy) if isinstance(a.event, VerifyReadback)]
    assert verify == [VerifyReadback(call_id="CAtest", field="callback_number", transcript="said item_rb")]


def test_settings_bound_every_retry() -> None:
    settings = ControlSettings()
    assert sum(settings.reconnect_delays_s) < 1.0  # a dropped session is replaced within a second
    assert settings.report_attempts >= 2 and settings.max_retries >= 1 and settings.max_refusals >= 1


# ---- found by the stateful fuzz (tests/bridge/test_call_control_fuzz.py) -----------------------
def test_a_closing_that_failed_unheard_is_asked_again_and_still_ends(h: Harness) -> None:
    greeted(h)
    h.feed(PolicyDone("caller_idle", True, (closing(h),)))
    first = h.last_request()
    h.feed(ResponseStarted("resp_close1", first.request_id))
    h.feed(ResponseFinished("resp_close1", "failed", "server_error", ()))
    h.advance(0.1)
    assert h.of(CallPolicy, h.actions[-3:]) == [] and h.control.closing.state is Closing.PLAYING
    retry = h.last_request()
    assert retry.purpose == "closing" and retry.request_id != first.request_id  # not reported as played
    h.respond(retry, "resp_close2", {"item_close": 1000})
    assert [a.item_id for a in h.of(Play) if a.item_id == "item_close"] == ["item_close"]
    out = h.advance(2.0)
    assert [type(a.event) for a in h.of(CallPolicy, out)] == [ClosingPlayed]


def test_a_closing_that_starts_after_its_deadline_is_not_heard(h: Harness) -> None:
    greeted(h)
    h.feed(PolicyDone("max_duration", True, (closing(h),)))
    request = h.last_request()
    out = h.advance(h.spec.limits.closing_teardown_ms / 1000 + 0.1)  # the service never answered in time
    assert [type(a.event) for a in h.of(CallPolicy, out)] == [ClosingPlayed]
    out = h.feed(ResponseStarted("resp_late", request.request_id))
    assert [c.response_id for c in h.sent(CancelResponse, out)] == ["resp_late"]
    assert h.feed(AudioDelta("resp_late", "item_late", b"\x00" * 800)) == []  # the BYE is on its way
    out = h.feed(PolicyDone("closing_played", True, (HangUpDirective(reason="closing_played"),)))
    assert h.of(HangUp, out)


def test_a_dropped_session_does_not_bring_back_a_request_the_closing_replaced(h: Harness) -> None:
    live(h)  # the greeting is asked, not yet started
    h.feed(PolicyDone("bridge_draining", True, (closing(h),)))
    h.feed(SessionClosed(1001))
    h.feed(Connected())
    out = h.feed(SessionReady())
    assert [r.purpose for r in h.sent(CreateResponse, out)] == ["closing"]


def test_an_idle_prompt_refused_is_not_asked_again_once_the_caller_has_spoken(h: Harness) -> None:
    greeted(h)
    out = h.advance(h.spec.limits.idle_seconds + 0.5)
    (prompt,) = [r for r in h.sent(CreateResponse, out) if r.purpose == "idle_prompt"]
    h.feed(CallerSpeechStarted("item_back"))  # the caller is back, mid-sentence
    out = h.feed(ModelError("server_error", "try again", prompt.request_id))
    assert h.sent(CreateResponse, out) == []  # "are you still there?" over the caller: never


def test_an_idle_prompt_cancelled_by_the_caller_cutting_in_is_not_asked_again(h: Harness) -> None:
    greeted(h)
    out = h.advance(h.spec.limits.idle_seconds + 0.5)
    (prompt,) = [r for r in h.sent(CreateResponse, out) if r.purpose == "idle_prompt"]
    h.feed(ResponseStarted("resp_idle", prompt.request_id))
    out = h.feed(CallerSpeechStarted("item_back"))
    assert [c.response_id for c in h.sent(CancelResponse, out)] == ["resp_idle"]
    out = h.feed(ResponseFinished("resp_idle", "incomplete", "client_cancelled", ()))  # nothing said
    assert h.sent(CreateResponse, out) == []  # we cancelled it: the model answers the caller instead


def test_idle_is_measured_from_when_the_agent_stopped_speaking(h: Harness) -> None:
    greeting = live(h)
    long_ms = (h.spec.limits.idle_seconds + 1) * 1000  # generated at once, longer than the idle limit
    h.respond(greeting, "resp_g", {"item_g": long_ms})
    out = h.advance(long_ms / 1000 + h.spec.limits.idle_seconds - 0.5)
    assert [r.purpose for r in h.sent(CreateResponse, out)] == []  # silent only since the audio ended
    out = h.advance(1.0)
    assert [r.purpose for r in h.sent(CreateResponse, out)] == ["idle_prompt"]


def test_a_caller_talking_longer_than_the_idle_limit_is_not_prompted_over(h: Harness) -> None:
    greeted(h)
    h.feed(CallerSpeechStarted("item_long"))
    out = h.advance(3 * h.spec.limits.idle_seconds)  # one long utterance: the service's VAD hears speech throughout
    assert h.sent(CreateResponse, out) == [] and h.of(CallPolicy, out) == []
    h.feed(CallerSpeechStopped("item_long"))
    out = h.advance(h.spec.limits.idle_seconds - 0.5)
    assert h.sent(CreateResponse, out) == []  # silence counts from the end of the utterance
    out = h.advance(1.0)
    assert [r.purpose for r in h.sent(CreateResponse, out)] == ["idle_prompt"]


def test_an_utterance_cut_off_by_a_lost_session_does_not_hold_off_idle_prompts(h: Harness) -> None:
    greeted(h)
    h.feed(CallerSpeechStarted("item_cut"))
    h.feed(SessionClosed(1006))  # its speech_stopped will never come
    h.feed(Connected())
    h.feed(SessionReady())
    out = h.advance(h.spec.limits.idle_seconds + 1.0)
    assert "idle_prompt" in [r.purpose for r in h.sent(CreateResponse, out)]


def test_a_turn_cut_mid_response_keeps_its_place_before_the_caller_who_cut_it(h: Harness) -> None:
    greeting = live(h)
    h.feed(ResponseStarted("resp_g", greeting.request_id))
    h.feed(AudioDelta("resp_g", "item_g", b"\x00" * 8 * 2000))  # still streaming: no response.done yet
    h.advance(0.3)
    h.feed(CallerSpeechStarted("item_c1"))
    assert [a.item_id for a in h.of(ReserveTurn)] == ["item_g", "item_c1"]  # the order things were said
    out = h.feed(ResponseFinished("resp_g", "cancelled", "client_cancelled", (("item_g", h.spec.greeting),)))
    (turn,) = h.of(WriteTurn, out)
    assert (turn.item_id, turn.interrupted, turn.heard_ms) == ("item_g", True, 300)


def test_a_closing_longer_than_its_teardown_plays_out_within_the_cap(h: Harness) -> None:
    greeted(h)
    h.feed(PolicyDone("max_duration", True, (closing(h),)))
    teardown_s = h.spec.limits.closing_teardown_ms / 1000
    h.respond(h.last_request(), "resp_close", {"item_close": int(teardown_s * 1000) + 1500})
    out = h.advance(teardown_s + 0.5)
    assert h.of(CallPolicy, out) == []  # still playing: its own deadline does not cut it
    out = h.advance(2.0)
    assert [type(a.event) for a in h.of(CallPolicy, out)] == [ClosingPlayed]
    written = [t for t in h.of(WriteTurn) if t.item_id == "item_close"]
    assert written and not written[0].interrupted  # heard whole
