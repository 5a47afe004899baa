"""One call's wiring: caller audio <-> the realtime model, tools and policy off the audio path.

Ownership, as the design ledger says:
- the model owns the conversation (server VAD answers at once; nothing here gates its voice);
- tools and policy run on worker threads through the invoker, never before audio is forwarded;
- the gate (via the policy functions) owns ending the call; this module only carries out its
  directives: the closing once, then BYE after the teardown;
- exact words (greeting, read-back, closing, language fallback) are requested with
  "Say exactly:" and tagged with metadata; read-backs are verified and retried once by policy;
- the bridge owns audio timing: on caller speech it clears the pacer within a frame and
  truncates each cut item at what the caller heard.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from realtime_bridge.call_journal import CallJournal
from realtime_bridge.playback import PlaybackTracker
from realtime_bridge.realtime.client import RealtimeClient
from realtime_bridge.realtime.session_config import build_session
from realtime_bridge.rtp.dtmf import DtmfDigit
from realtime_bridge.rtp.session import AudioFrame, RtpSession
from realtime_bridge.tool_invoker import ToolInvoker
from voice_agent.cost import Usage
from voice_agent.decisions import DecisionLog
from voice_agent.directives import Directive, HangUp, LanguageFallback, PlayClosing, ReadBack
from voice_agent.invocation import (
    BridgeDraining,
    CallerHungUp,
    CallerIdle,
    ClosingPlayed,
    MaxDuration,
    PolicyEvent,
    ToolCall,
    VerifyReadback,
)
from voice_agent.spec import AgentSpec

log = logging.getLogger(__name__)
EXACT_PREFIX = "Say exactly: "
IDLE_PROMPT = "The caller has been silent for a while. Briefly ask whether they are still there."
TOOL_FAILED = "The tool could not run; nothing was recorded. Ask the caller to repeat, then call it again."


@dataclass(frozen=True, slots=True)
class ExactRequest:
    text: str
    purpose: str  # greeting | read_back | closing | fallback
    field: str | None = None


@dataclass
class CallSettings:
    model: str
    silence_duration_ms: int = 500
    transcription_model: str = "gpt-realtime-whisper"
    closing_grace_ms: int = 500  # after the closing has played out, before BYE
    tick_s: float = 0.1


class Call:
    """One answered call. `run()` returns when the call is over and its state is flushed."""

    def __init__(
        self,
        call_id: str,
        spec: AgentSpec,
        media: RtpSession,
        model: RealtimeClient,
        invoker: ToolInvoker,
        journal: CallJournal,
        decisions: DecisionLog,
        hang_up: Callable[[], None],
        settings: CallSettings,
    ) -> None:
        self.call_id, self.spec, self.media, self.model = call_id, spec, media, model
        self.invoker, self.journal, self.decisions = invoker, journal, decisions
        self._hang_up, self.settings = hang_up, settings
        self.usage = Usage()
        self.playback = PlaybackTracker()
        self.session = build_session(
            spec,
            silence_duration_ms=settings.silence_duration_ms,
            transcription_model=settings.transcription_model,
        )
        self._ended = asyncio.Event()
        self._active_response: str | None = None
        self._purposes: dict[str, ExactRequest] = {}  # response id -> what it was asked to say
        self._first_item: dict[str, str] = {}  # exact response id -> the one item that is played
        self._pending: deque[ExactRequest] = deque()
        self._sent_exact: dict[str, ExactRequest] = {}  # purpose -> asked for, response not yet created
        self._last_exact: ExactRequest | None = None
        self._transcripts: dict[str, list[str]] = {}  # item id -> transcript deltas so far
        self._staged: list[str] = []  # agent items done generating, not yet fully heard
        self._calls: list[tuple[str, str, str]] = []  # (call id, name, arguments) of this response
        self._workers: set[asyncio.Task[None]] = set()
        self._busy = 0  # tool rounds / verifications in flight: no idle prompt meanwhile
        self._closing_requested: float | None = None
        self._closing_item: str | None = None
        self._closing_done_at: float | None = None
        self._teardown_sent = False
        self._hung_up = False
        self._last_caller_ms = self._now_ms()
        self._last_activity_ms = self._now_ms()
        self._idle_prompts = 0
        self.ended_by_caller = False

    # ---- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        self.journal.start()
        await self.model.connect(self.settings.model)
        await self.model.send({"type": "session.update", "session": self.session})
        self._request_exact(ExactRequest(self.spec.greeting, "greeting"))
        # The uplink ends when the media closes, which only happens once SIP has ended: the call
        # itself ends on `ended` (after the gate heard about a hang-up), a dead model or a failure.
        uplink = asyncio.create_task(self._uplink(), name="uplink")
        tasks = [
            asyncio.create_task(self._downlink(), name="downlink"),
            asyncio.create_task(self._timers(), name="timers"),
            asyncio.create_task(self._ended.wait(), name="ended"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    log.error("call %s: %s failed", self.call_id, task.get_name(), exc_info=task.exception())
                elif task.get_name() != "ended":
                    log.info("call %s: %s ended first", self.call_id, task.get_name())
        finally:
            self._write_heard_turns(final=True)
            if not self._ended.is_set():
                self._bye()  # the call broke on our side: never leave a caller on an open line
            for task in [uplink, *tasks, *self._workers]:
                task.cancel()
            await asyncio.gather(uplink, *tasks, *self._workers, return_exceptions=True)
            await self.model.close()
            await self.journal.close()

    async def sip_ended(self, by_caller: bool) -> None:
        """The SIP dialog is over. A caller hang-up is reported to the gate; then the call stops."""
        if by_caller:
            self.ended_by_caller = True
            await self._policy(CallerHungUp(call_id=self.call_id))
        self._ended.set()

    async def drain(self) -> None:
        """The bridge is shutting down: the gate may close this call (closing, then BYE)."""
        await self._policy(BridgeDraining(call_id=self.call_id))

    # ---- caller -> model ----------------------------------------------------------------------
    async def _uplink(self) -> None:
        async for event in self.media.inbound():
            if isinstance(event, AudioFrame):
                await self.model.append_audio(event.payload)
            elif isinstance(event, DtmfDigit):
                self.journal.add("system", f"DTMF {event.digit}")
                await self.model.send(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": f"[keypad] {event.digit}"}],
                        },
                    }
                )

    # ---- model -> caller ----------------------------------------------------------------------
    async def _downlink(self) -> None:
        async for event in self.model.events():
            self._on_event(event)

    def _on_event(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_audio.delta":
            self._on_audio(event.response_id, event.item_id, event.delta)
        elif kind == "response.created":
            self._on_response_created(event.response)
        elif kind == "input_audio_buffer.speech_started":
            self._on_caller_speech()
        elif kind == "input_audio_buffer.speech_stopped":
            self._last_caller_ms = self._last_activity_ms = self._now_ms()
        elif kind == "conversation.item.input_audio_transcription.completed":
            if event.transcript.strip():
                self.journal.add("caller", event.transcript.strip(), item_id=event.item_id)
        elif kind == "response.output_audio_transcript.delta":
            self._transcripts.setdefault(event.item_id, []).append(event.delta)
        elif kind == "response.function_call_arguments.done":
            self._calls.append((event.call_id, event.name, event.arguments))
        elif kind == "response.done":
            self._on_response_done(event.response)
        elif kind == "error":
            self._on_error(event.error)

    def _on_audio(self, response_id: str, item_id: str, delta: str) -> None:
        if self.playback.is_dropped(response_id, item_id):
            return
        first = self._first_item.setdefault(response_id, item_id) if response_id in self._purposes else item_id
        if first != item_id:
            # An exact-words response plays one item only: a second goodbye is never heard.
            self.playback.drop_item(item_id, response_id)
            self.decisions.record(self.call_id, "intervention", "deny", "extra speech in an exact-words response")
            return
        audio = base64.b64decode(delta)
        self.playback.generated(item_id, response_id, len(audio))
        item = self.playback.items[item_id]
        if item.started_ms is None:
            item.started_ms = self.journal.elapsed_ms()
        self.media.send_audio(item_id, audio)
        self._last_activity_ms = self._now_ms()

    def _on_response_created(self, response: Any) -> None:
        self._active_response = response.id
        purpose = (response.metadata or {}).get("purpose")
        request = self._sent_exact.pop(purpose, None) if purpose else None
        if request is not None:
            self._purposes[response.id] = request
            if purpose == "closing":
                self._closing_requested = time.monotonic()
        elif self._closing_requested is not None:
            # After the closing the model may try to speak again: cancel it and play none of it.
            self.playback.dropped_responses.add(response.id)
            self._spawn(self.model.send({"type": "response.cancel", "response_id": response.id}))
            self.decisions.record(self.call_id, "intervention", "deny", "model response after the closing dropped")

    def _on_caller_speech(self) -> None:
        self._last_caller_ms = self._last_activity_ms = self._now_ms()
        self._idle_prompts = 0
        if self._closing_requested is not None:
            return  # the closing plays out; the caller is heard but not allowed to cut it
        cuts = self.playback.cut(self.media.clear())
        self._write_heard_turns()
        for cut in cuts:
            generated = self.playback.items[cut.item_id].generated_ms
            self.decisions.record(
                self.call_id, "intervention", "accept", f"barge-in: truncated at {cut.audio_end_ms} ms heard "
                f"of {generated} ms generated",
            )  # fmt: skip
            self._spawn(
                self.model.send(
                    {
                        "type": "conversation.item.truncate",
                        "item_id": cut.item_id,
                        "content_index": 0,
                        "audio_end_ms": cut.audio_end_ms,
                    }
                )
            )

    def _on_response_done(self, response: Any) -> None:
        if self._active_response == response.id:
            self._active_response = None
        if response.usage is not None:
            self.usage.add(response.usage)
        request = self._purposes.get(response.id)
        spoken = self._record_agent_turns(response)
        calls, self._calls = self._calls, []
        if calls:
            self._spawn(self._tool_round(calls), busy=True)
        elif request is not None and request.purpose == "read_back" and request.field:
            self._spawn(self._verify_readback(request.field, spoken), busy=True)
        elif request is not None and request.purpose == "closing":
            self._closing_item = self._first_item.get(response.id)
        self._flush_exact()

    def _record_agent_turns(self, response: Any) -> str:
        """Stage one agent turn per audio message; it is written once the caller has heard it
        (played out, cut by barge-in, or dropped), so `heard_ms` says what reached the caller.
        Returns the text of the message that plays."""
        played = ""
        for item in response.output or []:
            if getattr(item, "type", None) != "message" or not item.id:
                continue
            text = " ".join(getattr(c, "transcript", None) or "" for c in item.content or []).strip()
            partial = "".join(self._transcripts.pop(item.id, [])).strip()
            audio = self.playback.items.get(item.id)
            if audio is None:
                continue
            audio.text = text or partial  # a cancelled item may carry only what streamed before the cut
            self._staged.append(item.id)
            if not (audio.interrupted or audio.dropped):
                played = played or audio.text
        self._write_heard_turns()
        return played

    def _write_agent_turn(self, item_id: str) -> None:
        audio = self.playback.items[item_id]
        if not audio.text:
            return
        heard = 0 if audio.dropped else audio.heard_ms
        self.journal.add(
            "agent",
            audio.text,
            item_id=item_id,
            interrupted=audio.interrupted or audio.dropped,
            heard_ms=heard,
            t_ms=audio.started_ms,
        )
        audio.text = None  # written once

    def _write_heard_turns(self, *, final: bool = False) -> None:
        # In order: a turn is written only after every turn staged before it (the transcript's seq
        # follows what the caller heard, also for an item dropped behind one still playing).
        while self._staged:
            item_id = self._staged[0]
            audio = self.playback.items[item_id]
            played = self.media.played_ms(item_id)
            if not (audio.interrupted or audio.dropped or played >= audio.generated_ms):
                if not final:
                    return
                audio.interrupted, audio.heard_ms = True, played
            self._write_agent_turn(item_id)
            self._staged.pop(0)

    def _on_error(self, error: Any) -> None:
        log.warning("model error %s: %s", error.code, error.message)
        if error.code == "conversation_already_has_active_response" and self._last_exact is not None:
            self._pending.appendleft(self._last_exact)  # ask again once the active response is done
            self._sent_exact.pop(self._last_exact.purpose, None)

    # ---- tools, read-back, directives (worker tasks, never on the audio path) ----------------
    async def _tool_round(self, calls: list[tuple[str, str, str]]) -> None:
        directives: list[Directive] = []
        caller_seq = next((t.seq for t in reversed(self.journal.turns) if t.speaker == "caller"), None)
        for call_id, name, arguments in calls:
            try:
                reply = await self.invoker.tool(
                    ToolCall(
                        call_id=self.call_id,
                        name=name,
                        arguments=arguments,
                        tool_call_id=call_id,
                        turn_seq=caller_seq,
                    )
                )
                output, directives = reply.output, directives + list(reply.directives)
            except Exception:  # one failed invoke must not end the call: the model is told
                log.exception("tool %s failed on %s", name, self.call_id)
                output = TOOL_FAILED
            await self.model.send(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": call_id, "output": output},
                }
            )
        if not self._apply(directives):
            await self._respond({})

    async def _verify_readback(self, field: str, transcript: str) -> None:
        reply = await self.invoker.policy(VerifyReadback(call_id=self.call_id, field=field, transcript=transcript))
        self._apply(reply.directives)

    async def _policy(self, event: PolicyEvent) -> None:
        try:
            reply = await self.invoker.policy(event)
        except Exception:
            log.exception("policy %s failed on %s", event.action, self.call_id)
            return
        self._apply(reply.directives)

    def _apply(self, directives: list[Directive]) -> bool:
        """Carry out the policy's directives; True when one of them asked the model to speak."""
        spoke = False
        for d in directives:
            match d:
                case PlayClosing():
                    self._request_exact(ExactRequest(d.text, "closing"))
                    spoke = True
                case ReadBack():
                    self._request_exact(ExactRequest(d.text, "read_back", d.field))
                    spoke = True
                case LanguageFallback(text=str() as text):
                    self._request_exact(ExactRequest(text, "fallback"))
                    spoke = True
                case HangUp():
                    self._bye()
                case _:
                    pass  # SwitchLanguage / a fallback without a line: the model continues on its own
        return spoke

    # ---- exact words ----------------------------------------------------------------------------
    def _request_exact(self, request: ExactRequest) -> None:
        if request.purpose == "closing" and (
            self._closing_requested is not None or any(p.purpose == "closing" for p in self._pending)
        ):
            return  # the gate allows one closing; never ask twice
        self._pending.append(request)
        self._flush_exact()

    def _flush_exact(self) -> None:
        if self._active_response is not None or not self._pending:
            return
        request = self._pending.popleft()
        self._sent_exact[request.purpose] = request
        self._last_exact = request
        self._spawn(
            self._respond(
                {
                    "instructions": EXACT_PREFIX + request.text,
                    "tool_choice": "none",
                    "metadata": {"purpose": request.purpose, "field": request.field or ""},
                }
            )
        )

    async def _respond(self, params: dict[str, Any]) -> None:
        await self.model.send({"type": "response.create", "response": params})

    # ---- timers: idle caller, maximum duration, the closing's teardown -------------------------
    async def _timers(self) -> None:
        started = time.monotonic()
        limits = self.spec.limits
        max_duration_sent = False
        while True:
            await asyncio.sleep(self.settings.tick_s)
            now = time.monotonic()
            self._write_heard_turns()
            if self._closing_requested is not None:
                self._check_teardown(now)
                continue
            if not max_duration_sent and now - started >= limits.max_call_seconds:
                max_duration_sent = True
                self._spawn(self._policy(MaxDuration(call_id=self.call_id)))
                continue
            if self._active_response or self._busy or self.media.playout.queued_bytes or self._pending:
                self._last_activity_ms = self._now_ms()
                continue
            if self._now_ms() - self._last_activity_ms < limits.idle_seconds * 1000:
                continue
            self._last_activity_ms = self._now_ms()
            if self._idle_prompts < limits.idle_prompts:
                self._idle_prompts += 1
                self._spawn(self._respond({"instructions": IDLE_PROMPT}))
            else:
                silent = self._now_ms() - self._last_caller_ms
                self._spawn(
                    self._policy(
                        CallerIdle(
                            call_id=self.call_id,
                            idle_prompts_played=self._idle_prompts,
                            caller_silent_ms=silent,
                        )
                    )
                )

    def _check_teardown(self, now: float) -> None:
        assert self._closing_requested is not None
        deadline = self._closing_requested + self.spec.limits.closing_teardown_ms / 1000
        item = self._closing_item
        played_out = (
            item is not None
            and not self.media.playout.queued_bytes
            and self.media.played_ms(item) >= self.playback.items[item].generated_ms
        )
        if played_out and self._closing_done_at is None:
            self._closing_done_at = now
        grace_over = self._closing_done_at is not None and now - self._closing_done_at >= (
            self.settings.closing_grace_ms / 1000
        )
        if (grace_over or now >= deadline) and not self._teardown_sent:
            self._teardown_sent = True
            self._spawn(self._policy(ClosingPlayed(call_id=self.call_id)))

    def _bye(self) -> None:
        if not self._hung_up:
            self._hung_up = True
            self._hang_up()

    # ---- helpers ----------------------------------------------------------------------------
    def _spawn(self, coro: Any, *, busy: bool = False) -> None:
        if busy:
            self._busy += 1
        task = asyncio.create_task(coro)
        self._workers.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._workers.discard(t)
            if busy:
                self._busy -= 1
            if not t.cancelled() and t.exception() is not None:
                log.error("call %s worker failed", self.call_id, exc_info=t.exception())

        task.add_done_callback(done)

    def _now_ms(self) -> int:
        return int(time.monotonic() * 1000)
