"""Each `model:` knob makes the stand-in misbehave the way the real service or model does:
the events a client sees, in order, SDK-valid (the driver checks every one), deterministic."""

from __future__ import annotations

import asyncio
import base64
import itertools
from typing import Any

import pytest

from simulator import mulaw
from simulator.caller_audio import prepare_turn_audio
from simulator.realtime_session import ECHO_AFTER_MS, ECHO_LENGTH_MS
from simulator.runner import check_expectations
from simulator.scenario import Expect, ScenarioError, Turn
from simulator.scripted_model import FAREWELL, GO_ON, GREETING, PREAMBLE, TOOL_PREAMBLE
from tests.simulator.session_driver import (
    Driver,
    Event,
    answer_tools,
    call_names,
    output_kinds,
    scenario_of,
    spoken,
)
from tests.simulator.sim_helpers import caller_audio
from voice_agent.record_store import CallMeta
from voice_agent.record_view import build_record
from voice_agent.spec import load_spec

HELLO = "Thanks for calling Riverside Family Clinic, this is the assistant, how can I help you today?"
NAME: dict[str, Any] = {"say": "Maria Lopez, L O P E Z.", "means": {"caller_name": "Maria Lopez"}}
BIRTH: dict[str, Any] = {"say": "March fourth, nineteen eighty-five.", "means": {"date_of_birth": "1985-03-04"}}
BILL: dict[str, Any] = {"say": "Hi, I have a question about my bill.", "means": {}}
DONE: dict[str, Any] = {"say": "That's everything, thanks.", "means": {}}


def greeted(turns: list[dict[str, Any]], *, vad: dict[str, Any] | None = None, **knobs: Any) -> Driver:
    driver = Driver(scenario_of(turns, **knobs))
    driver.configure(**(vad or {}))
    driver.say_exactly(HELLO)
    driver.until_idle()
    return driver


def turn(driver: Driver, text: str, audio: bytes | None = None) -> list[Event]:
    """The caller speaks; tool rounds are answered as a bridge would. Returns the new responses."""
    first = len(driver.responses())
    driver.stream(audio if audio is not None else caller_audio(text))
    driver.until_idle()
    handled = first
    while True:
        new = driver.responses()[handled:]
        handled = len(driver.responses())
        with_calls = [r for r in new if call_names(r)]
        if not with_calls or any("end_call" in call_names(r) for r in with_calls):
            return driver.responses()[first:]
        for response in with_calls:
            answer_tools(driver, response)
        driver.send({"type": "response.create", "event_id": f"evt_followup_{handled}"})
        driver.until_idle()


def added_items(driver: Driver, response_id: str) -> list[tuple[str, float]]:
    return [
        (s.event["item"]["type"], s.at_ms)
        for s in driver.seen
        if s.type == "response.output_item.added" and s.event["response_id"] == response_id
    ]


# -- what real models say and call ------------------------------------------------------------
def test_speech_with_tool_calls_speaks_a_sentence_then_calls_in_the_same_response() -> None:
    driver = greeted([NAME], speech_with_tool_calls=True)
    answer = turn(driver, NAME["say"])[0]
    assert output_kinds(answer) == ["message", "function_call"]
    assert spoken(answer) == [TOOL_PREAMBLE] and call_names(answer) == ["record_caller_name"]
    assert [kind for kind, _ in added_items(driver, answer["id"])] == ["message", "function_call"]
    # Without the knob the same turn is answered by a lone function call.
    polite = greeted([NAME])
    assert output_kinds(turn(polite, NAME["say"])[0]) == ["function_call"]


def test_goodbye_before_end_call_says_farewell_and_calls_end_call_while_most_of_it_is_unplayed() -> None:
    driver = greeted([DONE], goodbye_before_end_call=True)
    (answer,) = turn(driver, DONE["say"])
    assert output_kinds(answer) == ["message", "function_call"]
    assert spoken(answer) == [FAREWELL] and call_names(answer) == ["end_call"]
    (message_at, _), (call_at, _) = [(at, kind) for kind, at in added_items(driver, answer["id"])]
    farewell_ms = sum(
        len(base64.b64decode(d["delta"])) // mulaw.BYTES_PER_MS
        for d in driver.of("response.output_audio.delta")
        if d["response_id"] == answer["id"]
    )
    played_ms = call_at - message_at  # the bridge plays from the first delta, in real time
    assert farewell_ms > 1000 and played_ms < farewell_ms / 2


def test_multi_message_responses_preface_ordinary_speech_but_not_exact_words() -> None:
    driver = greeted([NAME], multi_message_responses=True)
    assert spoken(driver.responses()[0]) == [HELLO]  # exact words: one message
    driver.send({"type": "response.create"})
    driver.until_idle()
    question = driver.responses()[-1]
    assert output_kinds(question) == ["message", "message"]
    assert spoken(question) == [PREAMBLE, "Could I have your caller name?"]


# -- transcripts -------------------------------------------------------------------------------
def test_late_transcripts_arrive_n_ms_after_the_commit_and_after_the_response_started() -> None:
    driver = greeted([BILL, NAME], late_transcripts_ms=1500)
    turn(driver, BILL["say"])
    committed = driver.at("input_audio_buffer.committed")
    completed = driver.of("conversation.item.input_audio_transcription.completed")
    assert completed[0]["transcript"] == BILL["say"]
    assert driver.at("conversation.item.input_audio_transcription.completed") == committed + 1500
    order = driver.types()
    start = order.index("input_audio_buffer.committed")
    assert start < order.index("response.created", start) < order.index("response.output_audio.delta", start)
    assert order.index("response.output_audio.delta", start) < order.index(
        "conversation.item.input_audio_transcription.completed"
    )
    # The session names the transcript's time as its next deadline (no response in flight here).
    quiet = greeted([BILL], vad={"create_response": False}, late_transcripts_ms=700)
    quiet.stream(caller_audio(BILL["say"], tail_ms=520))
    committed = quiet.at("input_audio_buffer.committed")
    assert quiet.session.next_deadline_ms() == committed + 700


def test_failed_and_empty_transcripts_leave_the_model_hearing_the_turn() -> None:
    driver = greeted([NAME, BIRTH, DONE], failed_transcripts=[0], empty_transcripts=[1])
    turn(driver, NAME["say"])
    turn(driver, BIRTH["say"])
    items = [e["item_id"] for e in driver.of("input_audio_buffer.committed")]
    (failed,) = driver.of("conversation.item.input_audio_transcription.failed")
    assert failed["item_id"] == items[0] and failed["error"]["type"] == "transcription_error"
    (completed,) = driver.of("conversation.item.input_audio_transcription.completed")
    assert (completed["item_id"], completed["transcript"]) == (items[1], "")
    assert not driver.of("conversation.item.input_audio_transcription.delta")
    calls = [name for r in driver.responses() for name in call_names(r)]
    assert calls == ["record_caller_name", "record_date_of_birth"]  # the model heard the audio


# -- responses -----------------------------------------------------------------------------------
def test_failed_response_has_the_error_and_no_output_and_the_model_is_asked_again() -> None:
    driver = greeted([NAME, DONE], failed_responses=[1])  # 0 is the greeting, 1 the answer to the name
    driver.stream(caller_audio(NAME["say"]))
    driver.until_idle()
    failed = driver.responses()[1]
    assert failed["status"] == "failed" and failed["output"] == []
    assert failed["status_details"]["type"] == "failed"
    assert {k: failed["status_details"]["error"][k] for k in ("type", "code")} == {
        "type": "server_error",
        "code": "internal_error",
    }
    driver.send({"type": "response.create", "event_id": "evt_retry"})
    driver.until_idle()
    assert call_names(driver.responses()[2]) == ["record_caller_name"]  # the turn was not lost


def test_response_indexes_count_across_sessions() -> None:
    shared = itertools.count().__next__
    scenario = scenario_of([NAME], failed_responses=[1])
    first, second = Driver(scenario, next_response_index=shared), Driver(scenario, next_response_index=shared)
    for driver in (first, second):
        driver.configure()
        driver.say_exactly(HELLO)
        driver.until_idle()
    assert [r["status"] for r in first.responses() + second.responses()] == ["completed", "failed"]


def test_incomplete_response_stops_half_way_and_drops_what_came_after_the_cut() -> None:
    driver = greeted([NAME, BIRTH], incomplete_responses=[0])
    greeting = driver.responses()[0]
    assert greeting["status"] == "incomplete"
    assert greeting["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert greeting["output"][0]["status"] == "incomplete"
    heard = spoken(greeting)[0]
    assert heard and HELLO.startswith(heard) and len(heard) < len(HELLO)
    full = greeted([NAME])
    sent = [len(d["delta"]) for d in driver.of("response.output_audio.delta")]
    whole = [len(d["delta"]) for d in full.of("response.output_audio.delta")]
    assert 0.4 < sum(sent) / sum(whole) < 0.6

    cut = greeted([NAME, BIRTH], speech_with_tool_calls=True, incomplete_responses=[1])
    answer = turn(cut, NAME["say"])[0]
    assert answer["status"] == "incomplete" and output_kinds(answer) == ["message"]  # the call was never made
    cut.send({"type": "response.create"})
    cut.until_idle()
    assert spoken(cut.responses()[-1]) == ["Could I have your date of birth?"]  # the model moved on


# -- sessions ---------------------------------------------------------------------------------------
def test_drop_session_closes_1011_mid_response_without_response_done() -> None:
    driver = Driver(scenario_of([NAME]), speed=1.0, drop_after_s=1.0)  # the server passes it to session 1
    driver.configure()
    driver.say_exactly(HELLO)
    driver.wait(5000)
    assert driver.close is not None and driver.close.code == 1011
    assert "response.output_audio.delta" in driver.types() and "response.done" not in driver.types()
    assert driver.seen[-1].at_ms <= 1000 and driver.now == 5000


def test_reject_session_update_answers_an_error_naming_the_request_and_keeps_the_defaults() -> None:
    driver = Driver(scenario_of([NAME], reject_session_update=True))
    driver.configure()
    (error,) = driver.of("error")
    assert error["error"]["code"] == "invalid_value" and error["error"]["type"] == "invalid_request_error"
    assert (error["error"]["param"], error["error"]["event_id"]) == ("session.audio.output.voice", "evt_update")
    assert "session.updated" not in driver.types()
    driver.say_exactly("Hello.")
    driver.until_idle()
    assert driver.responses()[0]["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}


def test_an_unknown_voice_is_always_refused_and_a_known_one_accepted() -> None:
    driver = Driver()
    session: dict[str, Any] = {"type": "realtime", "audio": {"output": {"voice": "nova"}}}
    driver.send({"type": "session.update", "event_id": "evt_nova", "session": session})
    (error,) = driver.of("error")
    assert error["error"]["event_id"] == "evt_nova" and "'nova'" in error["error"]["message"]
    session["audio"]["output"]["voice"] = "cedar"
    driver.send({"type": "session.update", "session": session})
    assert driver.of("session.updated")[0]["session"]["audio"]["output"]["voice"] == "cedar"


# -- the phone line -------------------------------------------------------------------------------------
def echo_call(**vad: Any) -> Driver:
    driver = Driver(scenario_of([NAME], echo_speech_started=True))
    driver.configure(**vad)
    driver.say_exactly(HELLO)
    driver.until_idle()
    return driver


def test_echo_fires_speech_started_during_agent_audio_and_cancels_with_interrupt_response() -> None:
    driver = echo_call()
    opened = driver.at("response.output_item.added")
    assert driver.at("input_audio_buffer.speech_started") == opened + ECHO_AFTER_MS
    assert driver.at("input_audio_buffer.speech_stopped") == opened + ECHO_AFTER_MS + ECHO_LENGTH_MS
    greeting, echo_answer = driver.responses()
    assert (greeting["status"], greeting["status_details"]["reason"]) == ("cancelled", "turn_detected")
    assert echo_answer["status"] == "completed" and echo_answer["output"] == []
    (transcript,) = driver.of("conversation.item.input_audio_transcription.completed")
    assert transcript["transcript"] == ""
    skeleton = [t for t in driver.types() if not t.startswith(("response.output_audio", "rate_limits"))]
    start = skeleton.index("input_audio_buffer.speech_started")
    assert skeleton[start : start + 9] == [
        "input_audio_buffer.speech_started",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert skeleton[start + 9 :] == [
        "response.created",
        "response.done",
        "conversation.item.input_audio_transcription.completed",
    ]
    # The echo was noise: the caller's first real turn is still turn 0.
    assert call_names(turn(driver, NAME["say"])[0]) == ["record_caller_name"]


def test_echo_without_interrupt_response_leaves_the_greeting_playing() -> None:
    driver = echo_call(interrupt_response=False)
    assert [r["status"] for r in driver.responses()] == ["completed"]  # no auto-response while one is active
    assert driver.types().count("input_audio_buffer.committed") == 1
    assert spoken(driver.responses()[0]) == [HELLO]


def test_auto_response_collision_is_the_real_error_carrying_the_client_event_id() -> None:
    driver = greeted([BILL, NAME])
    driver.stream(caller_audio(BILL["say"]))  # the VAD's own response starts at the commit
    driver.send({"type": "response.create", "event_id": "evt_mine"})
    (error,) = driver.of("error")
    assert error["error"]["code"] == "conversation_already_has_active_response"
    assert error["error"]["event_id"] == "evt_mine"


def test_caller_speech_cancels_an_in_conversation_response_but_not_an_out_of_band_one() -> None:
    statuses = []
    for conversation in ("auto", "none"):
        driver = Driver(scenario_of([NAME]), speed=1.0)
        driver.configure(create_response=False)
        driver.say_exactly(HELLO, conversation=conversation)
        driver.wait(500)
        driver.stream(caller_audio("Sorry, wait"))
        driver.until_idle()
        statuses.append((driver.responses()[0]["status"], driver.responses()[0]["status_details"]))
    assert statuses == [("cancelled", {"type": "cancelled", "reason": "turn_detected"}), ("completed", None)]


# -- the caller's pause -------------------------------------------------------------------------------
DIGITS: dict[str, Any] = {
    "say": "Six one seven, five five five, zero one four two.",
    "means": {"callback_number": "6175550142"},
    "mid_turn_pause_ms": 900,
}


def test_a_mid_turn_pause_arrives_as_two_segments_and_the_model_waits_for_the_second() -> None:
    assert Turn.model_validate(DIGITS).parts() == ["Six one seven, five five", "five, zero one four two."]
    (audio,) = asyncio.run(prepare_turn_audio([Turn.model_validate(DIGITS)], language="en", engine="synthetic"))
    assert audio is not None
    driver = greeted([DIGITS, DONE])
    answers = turn(driver, "", mulaw.silence(200) + audio + mulaw.silence(700))
    transcripts = [e["transcript"] for e in driver.of("conversation.item.input_audio_transcription.completed")]
    assert transcripts == Turn.model_validate(DIGITS).parts()
    assert spoken(answers[0]) == [GO_ON]
    assert call_names(answers[1]) == ["record_callback_number"]
    # Without the pause the same words are one segment.
    (whole,) = asyncio.run(prepare_turn_audio([Turn(say=DIGITS["say"])], language="en", engine="synthetic"))
    polite = greeted([{**DIGITS, "mid_turn_pause_ms": None}, DONE])
    turn(polite, "", mulaw.silence(200) + (whole or b"") + mulaw.silence(700))
    assert polite.types().count("input_audio_buffer.committed") == 1


# -- reconnects -----------------------------------------------------------------------------------------
def test_a_seeded_assistant_message_means_the_model_has_greeted_already() -> None:
    for scenario in (None, scenario_of([NAME, BIRTH])):
        driver = Driver(scenario)
        driver.configure()
        driver.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi."}]},
            }
        )
        driver.send({"type": "response.create"})
        driver.until_idle()
        assert spoken(driver.responses()[0]) != [GREETING]


# -- determinism and strictness -------------------------------------------------------------------------
def test_the_same_knobs_give_the_same_events() -> None:
    def run() -> list[Event]:
        driver = greeted(
            [NAME, BIRTH, DONE],
            speech_with_tool_calls=True,
            goodbye_before_end_call=True,
            multi_message_responses=True,
            late_transcripts_ms=300,
            failed_transcripts=[1],
            echo_speech_started=True,
            failed_responses=[2],
            incomplete_responses=[3],
        )
        for said in (NAME, BIRTH, DONE):
            turn(driver, said["say"])
        return [s.event for s in driver.seen]

    first = run()
    assert len(first) > 100 and first == run()


@pytest.mark.parametrize(
    ("model", "turns", "message"),
    [
        ({"failed_responses": [-1]}, [NAME], "greater than or equal"),
        ({"refuse_connect": 500}, [NAME], "401"),
        ({"late_transcripts_ms": 20_000}, [NAME], "less than or equal"),
        ({"empty_transcripts": [1]}, [NAME], "caller turns"),
        ({"empty_transcripts": [0], "failed_transcripts": [0]}, [NAME], "both"),
        ({"refuse_connect_after": 1}, [NAME], "needs `refuse_connect`"),
        ({"echo_speech_startd": True}, [NAME], "echo_speech_startd"),
        ({}, [{"say": "Hello.", "mid_turn_pause_ms": 900}], "two words"),
        ({}, [{**NAME, "mid_turn_pause_ms": 100}], "greater than or equal"),
    ],
)
def test_knobs_are_validated(model: dict[str, Any], turns: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_of(turns, **model)


def test_a_call_the_system_ended_is_its_own_expectation() -> None:
    scenario = scenario_of([NAME]).model_copy(update={"expect": Expect(goodbyes=0, ended_by="system")})
    spec = load_spec(scenario.agent)
    meta = CallMeta(call_id="c", agent=spec.name, started_ms=0, status="ENDED", ended_by="system")
    record = build_record(spec, meta, {})
    ok = check_expectations(scenario, spec, {"record": record, "goodbyes": 0, "ended_by": "system"})
    wrong = check_expectations(scenario, spec, {"record": record, "goodbyes": 0, "ended_by": "agent"})
    assert ok.passed and wrong.failures == ["ended_by: expected system, got agent"]
