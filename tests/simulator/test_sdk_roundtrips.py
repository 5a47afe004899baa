"""The unmodified openai SDK, pointed at the stand-in, completes what the bridge relies on."""

from __future__ import annotations

import asyncio
import base64
import json

from simulator import mulaw
from simulator.scenario import parse_scenario
from tests.simulator.sim_helpers import (
    RIVERSIDE_TOOLS,
    SCENARIOS,
    Reader,
    caller_audio,
    open_call,
    phone_session,
    running,
    sdk_client,
    speak,
)


def one_turn_scenario(means: dict[str, str], say: str = "Maria Lopez, L O P E Z.") -> object:
    data = {
        "agent": "../agents/riverside_clinic.yaml",
        "caller": {"turns": [{"say": say, "means": means}]},
        "model": {"first_audio_ms": 0},
    }
    return parse_scenario(data, SCENARIOS)


def test_tool_call_round() -> None:
    async def main() -> None:
        async with open_call(one_turn_scenario({"caller_name": "Maria Lopez"})) as (connection, reader):
            await connection.session.update(session=phone_session(RIVERSIDE_TOOLS))  # type: ignore[arg-type]
            await reader.until("session.updated")
            await speak(connection, caller_audio("Maria Lopez, L O P E Z."))
            done = await reader.until("response.done")
            (call,) = done["response"]["output"]
            assert call["type"] == "function_call"
            assert (call["name"], json.loads(call["arguments"])) == ("record_caller_name", {"value": "Maria Lopez"})

            await connection.conversation.item.create(
                item={"type": "function_call_output", "call_id": call["call_id"], "output": "Recorded."}
            )
            await connection.response.create()
            added = await reader.until("conversation.item.added")
            assert added["item"]["type"] == "function_call_output"
            assert added["previous_item_id"] == call["id"]
            follow_up = await reader.until("response.done")
            # The last turn's means are in: the model now ends the call.
            assert [o["name"] for o in follow_up["response"]["output"]] == ["end_call"]

    asyncio.run(main())


def test_audio_turn_detected_by_server_vad() -> None:
    async def main() -> None:
        async with running() as handle, sdk_client(handle).realtime.connect(model="gpt-realtime") as connection:
            reader = Reader(connection)
            await connection.session.update(session=phone_session(silence_ms=500))  # type: ignore[arg-type]
            await reader.until("session.updated")
            speech = caller_audio("I would like to book an appointment", lead_ms=1000, tail_ms=900)
            spoken_ms = mulaw.duration_ms(speech) - 1000 - 900
            await speak(connection, speech)
            started = await reader.until("input_audio_buffer.speech_started")
            stopped = await reader.until("input_audio_buffer.speech_stopped")
            committed = await reader.until("input_audio_buffer.committed")
            # audio_start_ms includes the 300 ms prefix padding; audio_end_ms the 500 ms of silence.
            assert abs(started["audio_start_ms"] - (1000 - 300)) <= 40
            assert abs(stopped["audio_end_ms"] - (1000 + spoken_ms + 500)) <= 60
            assert started["item_id"] == stopped["item_id"] == committed["item_id"]
            await reader.until("response.created")  # create_response defaults to true
            transcript = await reader.until("conversation.item.input_audio_transcription.completed")
            assert transcript["item_id"] == committed["item_id"]
            done = await reader.until("response.done")
            assert done["response"]["status"] == "completed"
            assert done["response"]["output"][0]["content"][0]["transcript"]

    asyncio.run(main())


def test_silence_duration_ms_decides_where_a_turn_ends() -> None:
    two_phrases = caller_audio("first part", tail_ms=350) + caller_audio("second part", lead_ms=0)

    async def segments(silence_ms: int) -> int:
        async with running() as handle, sdk_client(handle).realtime.connect(model="gpt-realtime") as connection:
            reader = Reader(connection)
            session = phone_session(silence_ms=silence_ms, create_response=False)
            await connection.session.update(session=session)  # type: ignore[arg-type]
            await reader.until("session.updated")
            await speak(connection, two_phrases + mulaw.silence(1000))
            await connection.input_audio_buffer.clear()
            await reader.until("input_audio_buffer.cleared")
            return reader.types().count("input_audio_buffer.committed")

    assert asyncio.run(segments(600)) == 1  # a 350 ms pause is not the end of the turn
    assert asyncio.run(segments(200)) == 2


def test_barge_in_cancels_the_response_and_truncate_clamps_to_generated_audio() -> None:
    long_line = "Thanks for calling Riverside Family Clinic, this is the assistant, how can I help you today?"

    async def main() -> None:
        async with open_call(speed=2.0, first_audio_ms=0) as (connection, reader):
            await connection.session.update(session=phone_session())  # type: ignore[arg-type]
            await reader.until("session.updated")
            await connection.response.create(response={"instructions": f"Say exactly: {long_line}"})
            received = 0
            item_id = ""
            while received < 3 * 800:  # the caller has heard ~300 ms when they start talking
                delta = await reader.until("response.output_audio.delta")
                received += len(base64.b64decode(delta["delta"]))
                item_id = delta["item_id"]
            await speak(connection, caller_audio("Sorry, wait"))
            await reader.until("input_audio_buffer.speech_started")
            done = await reader.until("response.done")
            assert done["response"]["status"] == "cancelled"
            assert done["response"]["status_details"]["reason"] == "turn_detected"
            assert done["response"]["output"][0]["status"] == "incomplete"

            heard_ms = 300
            await connection.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=heard_ms)
            truncated = await reader.until("conversation.item.truncated")
            assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, heard_ms)

            # Beyond what was generated is the real service's error, and the session stays open.
            await connection.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=60_000)
            error = await reader.until("error")
            assert error["error"]["code"] == "invalid_value"
            assert "already shorter than 60000ms" in error["error"]["message"]

    asyncio.run(main())


def test_exact_words_are_said_exactly_and_the_misread_knob_breaks_the_first_read_back() -> None:
    text = "I have your number as 5 5 5, 2 1 2, 4 4 1 9. Is that right?"
    scenario = one_turn_scenario({"caller_name": "Maria Lopez"})
    scenario = scenario.model_copy(update={"model": scenario.model.model_copy(update={"misread_digits": True})})

    async def transcripts(with_scenario: object) -> list[str]:
        async with open_call(with_scenario) as (connection, reader):
            await connection.session.update(session=phone_session())  # type: ignore[arg-type]
            out = []
            for _ in range(2):
                await connection.response.create(response={"instructions": f"Say exactly: {text}"})
                done = await reader.until("response.output_audio_transcript.done")
                out.append(done["transcript"])
                await reader.until("response.done")
            return out

    assert asyncio.run(transcripts(None)) == [text, text]
    first, second = asyncio.run(transcripts(scenario))
    assert second == text
    assert len(first) == len(text)
    assert sum(a != b for a, b in zip(first, text, strict=True)) == 1
    assert all(a.isdigit() for a, b in zip(first, text, strict=True) if a != b)


def test_base_url_alone_reaches_both_realtime_and_http() -> None:
    from openai import AsyncOpenAI

    async def main() -> str:
        async with running() as handle:
            client = AsyncOpenAI(api_key="sk-test", base_url=handle.http_url)  # as with OPENAI_BASE_URL only
            async with client.realtime.connect(model="gpt-realtime-2.1-mini") as connection:
                reader = Reader(connection)
                created = await reader.until("session.created")
                return created["session"]["model"]

    assert asyncio.run(main()) == "gpt-realtime-2.1-mini"  # the model name is the client's, never a constant


def test_audio_is_delivered_faster_than_real_time_but_not_all_at_once() -> None:
    import time

    async def main() -> tuple[float, float]:
        async with open_call(speed=4.0, first_audio_ms=0) as (connection, reader):
            await connection.session.update(session=phone_session())  # type: ignore[arg-type]
            line = "This sentence is long enough to take a few seconds to say out loud on the phone."
            await connection.response.create(response={"instructions": f"Say exactly: {line}"})
            first = await reader.until("response.output_audio.delta")
            started = time.monotonic()
            audio = base64.b64decode(first["delta"])
            while (event := await reader.next())["type"] != "response.output_audio.done":
                if event["type"] == "response.output_audio.delta":
                    audio += base64.b64decode(event["delta"])
            return time.monotonic() - started, mulaw.duration_ms(audio) / 1000

    elapsed, duration = asyncio.run(main())
    assert duration > 2.0
    assert duration * 0.1 < elapsed < duration * 0.6


def test_without_interrupt_response_caller_speech_does_not_cancel() -> None:
    async def main() -> str:
        async with open_call(speed=2.0, first_audio_ms=0) as (connection, reader):
            session = phone_session(interrupt_response=False, create_response=False)
            await connection.session.update(session=session)  # type: ignore[arg-type]
            await connection.response.create(response={"instructions": "Say exactly: A long enough line to talk over."})
            await reader.until("response.output_audio.delta")
            await speak(connection, caller_audio("Sorry, wait"))
            await reader.until("input_audio_buffer.speech_started")
            done = await reader.until("response.done")
            return done["response"]["status"]

    assert asyncio.run(main()) == "completed"


def test_out_of_band_response_is_not_stored_and_not_cancelled_by_caller_speech() -> None:
    async def main() -> tuple[list[str], str, str | None]:
        async with open_call(speed=2.0, first_audio_ms=0) as (connection, reader):
            await connection.session.update(session=phone_session(create_response=False))  # type: ignore[arg-type]
            await reader.until("session.updated")
            await connection.response.create(
                response={"conversation": "none", "instructions": "Say exactly: Please hold while I check that."}
            )
            await reader.until("response.output_audio.delta")
            await speak(connection, caller_audio("Hello?"))
            await reader.until("input_audio_buffer.speech_started")
            done = await reader.until("response.done")
            return reader.types(), done["response"]["status"], done["response"]["conversation_id"]

    types, status, conversation_id = asyncio.run(main())
    assert status == "completed" and conversation_id is None
    first_user_item = types.index("input_audio_buffer.committed")
    assert "conversation.item.added" not in types[:first_user_item]  # the agent line was never stored


def test_pcm16_24khz_sessions_work_as_in_the_recordings() -> None:
    async def main() -> tuple[int, int]:
        async with open_call(first_audio_ms=0) as (connection, reader):
            session = phone_session()
            session["audio"]["input"]["format"] = {"type": "audio/pcm", "rate": 24000}  # type: ignore[index]
            session["audio"]["output"]["format"] = {"type": "audio/pcm", "rate": 24000}  # type: ignore[index]
            await connection.session.update(session=session)  # type: ignore[arg-type]
            await reader.until("session.updated")
            await speak(connection, mulaw.to_pcm16_24k(caller_audio("Hello, my name is Marcelo.")), bytes_per_ms=48)
            stopped = await reader.until("input_audio_buffer.speech_stopped")
            delta = await reader.until("response.output_audio.delta")
            return stopped["audio_end_ms"], len(base64.b64decode(delta["delta"]))

    audio_end_ms, delta_bytes = asyncio.run(main())
    spoken = mulaw.duration_ms(caller_audio("Hello, my name is Marcelo."))
    assert abs(audio_end_ms - (spoken - 700 + 400)) <= 60  # times are audio time, whatever the format
    assert delta_bytes == 100 * 48  # 100 ms of 24 kHz 16-bit audio
