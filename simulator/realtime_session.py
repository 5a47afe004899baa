"""The Realtime GA protocol as one session's state machine, sans-I/O.

`receive(text, now_ms)` takes one client message, `poll(now_ms)` releases response
events and timed events (late transcripts, line echo) whose time has come, and
`next_deadline_ms()` says when to poll next; both return server events (dicts,
already validated against the SDK types) and possibly a `Close`. The websocket server
only feeds it. The scenario's model knobs decide how it misbehaves.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator import mulaw
from simulator import protocol_errors as errors
from simulator.conversation import Conversation
from simulator.ids import IdFactory
from simulator.response_run import Ending, ResponseRun
from simulator.scripted_model import Output, ResponseRequest, ScriptedModel
from simulator.session_config import (
    KNOWN_VOICES,
    default_session,
    is_beta_shaped,
    merge_update,
    requested_voice,
    silence_ms,
)
from simulator.usage import UsageMeter
from simulator.vad import ServerVad, SpeechStarted
from simulator.wire import WireViolation, check_client_event, check_server_event

Event = dict[str, Any]
MIN_COMMIT_MS = 100
ECHO_AFTER_MS = 300  # echo_speech_started: this long after an agent audio item starts, the VAD fires
ECHO_LENGTH_MS = 300  # ... and this long after, it stops


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


Out = Event | Close


@dataclass(order=True)
class _Timer:
    """A server event that is not part of a response (a late transcript, line echo), due at `due_ms`."""

    due_ms: float
    seq: int  # same time: first scheduled, first fired
    fire: Callable[[float], list[Event]] = field(compare=False)


class RealtimeSession:
    def __init__(
        self,
        *,
        model: ScriptedModel,
        seed: int,
        model_name: str,
        now_ms: float,
        epoch_s: int,
        render: Callable[[str, str], bytes],
        language: str = "en",
        limit_s: float = 3600.0,
        speed: float = 4.0,
        first_audio_ms: int = 200,
        drop_after_s: float | None = None,
        next_response_index: Callable[[], int] | None = None,
    ) -> None:
        self.model = model
        self.knobs = model.knobs
        self.ids = IdFactory(seed)
        self._render = render
        self._language = language
        self._limit_s = limit_s
        self._expires_ms = now_ms + limit_s * 1000
        self._drop_ms = None if drop_after_s is None else now_ms + drop_after_s * 1000
        self._next_response_index = next_response_index or itertools.count().__next__
        self._timers: list[_Timer] = []
        self._timer_seq = itertools.count()
        self._echo_item: str | None = None  # the echo segment the VAD is "hearing" now
        self._speed = speed
        self._first_audio_ms = first_audio_ms
        self.session = default_session(self.ids.new("sess"), model_name, epoch_s + int(limit_s))
        self.conversation_id = self.ids.new("conv")
        self.closed = False
        self.conversation = Conversation(lambda: self.ids.new("item"))
        self._run: ResponseRun | None = None
        self._vad = ServerVad()
        self._speech_item: str | None = None
        self._buffer_ms = 0.0
        self._input_ms = 0
        self._output_ms = 0
        self._meter = UsageMeter()
        self._configure_vad()

    # -- driving ------------------------------------------------------------
    def open(self) -> list[Out]:
        return self._stamp([{"type": "session.created", "session": self.session}])

    def reject_beta(self) -> list[Out]:
        """The beta shape is switched off: one error, then close 4000 (as the real service)."""
        self.closed = True
        return [*self._stamp([errors.beta_disabled()]), Close(4000, "beta_api_shape_disabled")]

    @property
    def idle(self) -> bool:
        """No response in flight and no timed event (late transcript, echo) pending."""
        return self._run is None and not self._timers

    def next_deadline_ms(self) -> float:
        due = self._run.next_due_ms() if self._run else None
        timer = self._timers[0].due_ms if self._timers else None
        return min(t for t in (self._expires_ms, due, self._drop_ms, timer) if t is not None)

    def poll(self, now_ms: float) -> list[Out]:
        if self.closed:
            return []
        if self._drop_ms is not None and now_ms >= self._drop_ms and self._drop_ms < self._expires_ms:
            # The socket drops (a server fault): what was due before goes out, then 1011, no response.done.
            self.closed = True
            return [*self._stamp(self._advance(self._drop_ms)), Close(1011, "internal server error")]
        if now_ms >= self._expires_ms:
            self.closed = True
            return [*self._stamp([errors.session_expired(self._limit_s / 60)]), Close(1001, "session expired")]
        return self._stamp(self._advance(now_ms))

    def receive(self, text: str | bytes, now_ms: float) -> list[Out]:
        out = self.poll(now_ms)
        if self.closed:
            return out
        try:
            data = json.loads(text)
        except ValueError:
            return out + self._stamp([errors.invalid_json()])
        if not isinstance(data, dict):
            return out + self._stamp([errors.invalid_json()])
        if is_beta_shaped(data):
            return out + self.reject_beta()
        event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
        try:
            check_client_event(data)
        except WireViolation as exc:
            return out + self._stamp([errors.invalid_event(str(exc).splitlines()[0], event_id, "type")])
        return out + self._stamp(self._dispatch(data, event_id, now_ms))

    # -- dispatch -------------------------------------------------------------
    def _dispatch(self, data: Event, event_id: str | None, now_ms: float) -> list[Event]:
        kind = data["type"]
        if kind == "session.update":
            voice = requested_voice(data["session"])
            if voice is not None and voice not in KNOWN_VOICES:
                return [errors.unknown_voice(voice, KNOWN_VOICES, event_id)]  # the session keeps its config
            if self.knobs.reject_session_update:
                current = self.session["audio"]["output"].get("voice")
                refused = voice or (current if isinstance(current, str) else "alloy")
                return [errors.voice_unavailable(refused, self.session["model"], event_id)]
            self.session = merge_update(self.session, data["session"])
            self._configure_vad()
            return [{"type": "session.updated", "session": self.session}]
        if kind == "input_audio_buffer.append":
            return self._append(data["audio"], event_id, now_ms)
        if kind == "input_audio_buffer.commit":
            if self._buffer_ms < MIN_COMMIT_MS:
                return [errors.commit_empty(self._buffer_ms, event_id)]
            self._vad.reset()
            return self._commit(self._speech_item or self.ids.new("item"), now_ms, auto_response=False)
        if kind == "input_audio_buffer.clear":
            self._buffer_ms = 0.0
            self._vad.reset()
            self._speech_item = self._echo_item = None
            return [{"type": "input_audio_buffer.cleared"}]
        if kind == "conversation.item.create":
            events = self.conversation.create(data, event_id)
            if events[0]["type"] != "error":
                self._seeded(events[0]["item"])
            return events
        if kind == "conversation.item.truncate":
            return self.conversation.truncate(data, event_id)
        if kind == "conversation.item.delete":
            return self.conversation.delete(data["item_id"], event_id)
        if kind == "conversation.item.retrieve":
            return self.conversation.retrieve(data["item_id"], event_id)
        if kind == "response.create":
            if self._run is not None:
                return [errors.active_response(self._run.response_id, event_id)]
            return self._start_response(data.get("response") or {}, now_ms)
        if kind == "response.cancel":
            wanted = data.get("response_id")
            if self._run is None or (wanted and wanted != self._run.response_id):
                return [errors.cancel_not_active(event_id)]
            return self._cancel("client_cancelled")
        if kind == "output_audio_buffer.clear":
            return [
                errors.invalid_event(
                    "output_audio_buffer.clear is only supported over WebRTC and SIP.", event_id, "type"
                )
            ]
        raise AssertionError(f"unhandled client event {kind}")  # the SDK union and this list agree

    # -- caller audio -------------------------------------------------------------
    def _configure_vad(self) -> None:
        td = self.session["audio"]["input"].get("turn_detection")
        if isinstance(td, dict):
            self._vad.threshold = float(td.get("threshold") or 0.5)
            self._vad.prefix_padding_ms = int(td.get("prefix_padding_ms") or 300)
            self._vad.silence_duration_ms = silence_ms(td)

    def _input_is_pcmu(self) -> bool:
        return bool(self.session["audio"]["input"]["format"].get("type") == "audio/pcmu")

    def _append(self, audio_b64: str, event_id: str | None, now_ms: float) -> list[Event]:
        try:
            raw = base64.b64decode(audio_b64, validate=True)
        except (binascii.Error, ValueError):
            return [errors.invalid_event("audio is not valid base64", event_id, "audio")]
        audio = raw if self._input_is_pcmu() else mulaw.from_pcm16_24k(raw)
        self._buffer_ms += len(audio) / mulaw.BYTES_PER_MS
        self._input_ms += len(audio) // mulaw.BYTES_PER_MS
        td = self.session["audio"]["input"].get("turn_detection")
        if not isinstance(td, dict):
            return []
        events: list[Event] = []
        for mark in self._vad.feed(audio):
            if isinstance(mark, SpeechStarted):
                if self._echo_item is not None:
                    # The caller starts talking inside an echo segment: one segment, already announced.
                    self._speech_item, self._echo_item = self._echo_item, None
                else:
                    self._speech_item = self.ids.new("item")
                    events.append(
                        {
                            "type": "input_audio_buffer.speech_started",
                            "audio_start_ms": mark.audio_start_ms,
                            "item_id": self._speech_item,
                        }
                    )
                events.extend(self._interrupt(td))
            else:
                item_id = self._speech_item or self.ids.new("item")
                events.append(
                    {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": mark.audio_end_ms, "item_id": item_id}
                )
                events.extend(self._commit(item_id, now_ms, auto_response=bool(td.get("create_response", True))))
        return events

    def _interrupt(self, td: dict[str, Any]) -> list[Event]:
        """Speech started: with interrupt_response an in-conversation response is cancelled."""
        if self._run is not None and self._run.in_conversation and td.get("interrupt_response", True):
            return self._cancel("turn_detected")
        return []

    def _commit(self, item_id: str, now_ms: float, *, auto_response: bool, echo: bool = False) -> list[Event]:
        self._speech_item = None
        self._buffer_ms = 0.0
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        previous = self.conversation.append(item)
        segment = self.model.heard
        if not echo:  # an echo is noise to the model: caller turn indexes do not shift
            self.model.hear_segment()
        events: list[Event] = [
            {"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id},
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item},
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item},
        ]
        if auto_response and self._run is None:
            events.extend(self._start_response({}, now_ms, noise=echo))
        if not self.session["audio"]["input"].get("transcription"):
            return events
        heard = None if echo else segment

        def transcript(_at_ms: float) -> list[Event]:
            return self._transcription(item_id, heard)

        if self.knobs.late_transcripts_ms:  # transcription runs beside the response, and can lag it
            self._schedule(now_ms + self.knobs.late_transcripts_ms, transcript)
            return events
        return events + transcript(now_ms)

    def _transcription(self, item_id: str, segment: int | None) -> list[Event]:
        """The caller's words for one segment (None: an echo, heard as nothing), as the knobs say."""
        base = {"item_id": item_id, "content_index": 0}
        scripted = self.model.segment(segment) if segment is not None else None
        turn = scripted.turn if scripted else None
        if turn is not None and turn in self.knobs.failed_transcripts:
            error = errors.transcription_error()
            return [{**base, "type": "conversation.item.input_audio_transcription.failed", "error": error}]
        empty = segment is None or (turn is not None and turn in self.knobs.empty_transcripts)
        text = "" if empty else self._caller_text(segment or 0)
        events: list[Event] = [
            {**base, "type": "conversation.item.input_audio_transcription.delta", "delta": " " + word}
            for word in text.split()
        ]
        seconds = max(1, math.ceil(len(text) / 15))
        events.append(
            {
                **base,
                "type": "conversation.item.input_audio_transcription.completed",
                "transcript": text,
                "usage": {"type": "duration", "seconds": seconds},
            }
        )
        return events

    def _caller_text(self, segment: int) -> str:
        scripted = self.model.segment(segment)
        if scripted is not None and scripted.text:
            return scripted.text
        return "(unclear speech)"

    def _seeded(self, item: Event) -> None:
        # A reconnecting client seeds the call so far as text: the model then knows those
        # turns (and that it has greeted), as a real model would from the history.
        if item.get("role") == "assistant":
            self.model.greeted = True
        if self.model.scenario is None or item.get("role") != "user":
            return
        texts = {c.get("text") for c in item.get("content") or [] if isinstance(c, dict)}
        self.model.recall_texts({t for t in texts if isinstance(t, str)})

    # -- line echo (echo_speech_started) ------------------------------------------------
    def _echo_start(self, at_ms: float) -> list[Event]:
        td = self.session["audio"]["input"].get("turn_detection")
        if not isinstance(td, dict) or self._vad.in_speech or self._echo_item is not None:
            return []  # no VAD, or the caller is talking: there is no quiet line to hear echo on
        self._echo_item = item_id = self.ids.new("item")
        onset = self._vad.position_ms
        start = max(0, onset - self._vad.prefix_padding_ms)
        events: list[Event] = [
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": start, "item_id": item_id}
        ]
        events.extend(self._interrupt(td))

        def stop(stop_ms: float) -> list[Event]:
            return self._echo_stop(item_id, onset + ECHO_LENGTH_MS, stop_ms)

        self._schedule(at_ms + ECHO_LENGTH_MS, stop)
        return events

    def _echo_stop(self, item_id: str, earliest_end_ms: int, at_ms: float) -> list[Event]:
        td = self.session["audio"]["input"].get("turn_detection")
        if self._echo_item != item_id or not isinstance(td, dict):
            return []  # the caller's own speech took the segment over
        self._echo_item = None
        end = max(self._vad.position_ms, earliest_end_ms)
        events: list[Event] = [{"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end, "item_id": item_id}]
        return events + self._commit(item_id, at_ms, auto_response=bool(td.get("create_response", True)), echo=True)

    # -- timed events ----------------------------------------------------------------------
    def _schedule(self, due_ms: float, fire: Callable[[float], list[Event]]) -> None:
        heapq.heappush(self._timers, _Timer(due_ms, next(self._timer_seq), fire))

    # -- responses ------------------------------------------------------------------
    def _start_response(self, params: Event, now_ms: float, *, noise: bool = False) -> list[Event]:
        """Start a response (`noise`: the VAD's answer to an echo, which has nothing to say)."""
        in_conversation = params.get("conversation", "auto") != "none"
        tools = params.get("tools") or self.session.get("tools") or []
        declared = frozenset(t["name"] for t in tools if t.get("type", "function") == "function" and "name" in t)
        index = self._next_response_index()
        ending: Ending = "completed"
        if index in self.knobs.failed_responses:
            ending = "failed"
        elif index in self.knobs.incomplete_responses:
            ending = "incomplete"
        outputs: list[Output] = []
        if ending != "failed" and not noise:  # a failed response leaves the model as it was: it is asked again
            outputs_seen = self.conversation.take_outputs() if in_conversation else ()
            outputs = self.model.respond(ResponseRequest(declared, params.get("instructions"), outputs_seen))
        out_cfg = self.session["audio"]["output"]
        pcmu = out_cfg["format"].get("type") == "audio/pcmu"
        run = ResponseRun(
            response_id=self.ids.new("resp"),
            outputs=outputs,
            ids=self.ids,
            render=lambda text: self._render(text, self._language),
            encode_out=(lambda b: b) if pcmu else mulaw.to_pcm16_24k,
            in_conversation=in_conversation,
            conversation_id=self.conversation_id if in_conversation else None,
            start_ms=now_ms,
            first_audio_ms=self._first_audio_ms,
            speed=self._speed,
            voice=out_cfg.get("voice") or "alloy",
            output_format=out_cfg["format"],
            on_item_added=self.conversation.append,
            usage=self._usage,
            metadata=params.get("metadata"),
            ending=ending,
        )
        self._run = run
        self.conversation.audio.update(run.items)
        return [run.created_event(), *self._advance_run(now_ms)]

    def _advance(self, now_ms: float) -> list[Event]:
        """Everything due by `now_ms`, response steps and timers interleaved in time order."""
        events: list[Event] = []
        while self._timers and self._timers[0].due_ms <= now_ms:
            timer = heapq.heappop(self._timers)
            events.extend(self._advance_run(timer.due_ms))
            events.extend(timer.fire(timer.due_ms))
        return events + self._advance_run(now_ms)

    def _advance_run(self, now_ms: float) -> list[Event]:
        run = self._run
        if run is None:
            return []
        events = run.due(now_ms)
        for event in events:
            if event["type"] != "response.output_item.added":
                continue
            item = event["item"]
            if item["type"] == "function_call":
                self.conversation.calls[item["call_id"]] = item["name"]
            elif self.knobs.echo_speech_started and item["id"] in run.items:
                self._schedule(run.items[item["id"]].open_ms + ECHO_AFTER_MS, self._echo_start)
        if not run.active:
            events.extend(self._response_finished())
        return events

    def _cancel(self, reason: str) -> list[Event]:
        assert self._run is not None
        events = self._run.cancel(reason)
        return events + self._response_finished()

    def _response_finished(self) -> list[Event]:
        assert self._run is not None
        for progress in self._run.items.values():
            self._output_ms += progress.generated_ms
        self._run = None
        return [self._meter.rate_limits_event()]

    def _usage(self, output: list[Event]) -> Event:
        run_ms = sum(p.generated_ms for p in self._run.items.values()) if self._run else 0
        return self._meter.response_usage(
            instructions=str(self.session.get("instructions") or ""),
            items=len(self.conversation.order),
            caller_ms=self._input_ms,
            agent_ms=self._output_ms,
            generated_ms=run_ms,
            output=output,
        )

    # -- outgoing ---------------------------------------------------------------------
    def _stamp(self, events: list[Event]) -> list[Out]:
        out: list[Out] = []
        for event in events:
            stamped = {
                "type": event["type"],
                "event_id": self.ids.new("event"),
                **{k: v for k, v in event.items() if k != "type"},
            }
            stamped = json.loads(json.dumps(stamped))  # a snapshot: later state changes must not leak
            check_server_event(stamped)  # our own bug if this fails: let it fail loudly
            out.append(stamped)
        return out
