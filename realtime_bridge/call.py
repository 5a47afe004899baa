"""One call's async shell: it moves bytes and time for `CallControl`, which decides everything.

Tasks: the uplink (caller frames -> the model socket), the sender (one queue of commands and
buffered audio -> the current socket), one reader per model session (socket -> events), workers
for tool rounds and policy calls; one timer armed at `next_deadline()` (deadline_timer.py). A
task that dies ends the call with a BYE; a session that dies is call control's to repair.
Nothing on the audio path awaits a tool or a database; actions are carried out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

from realtime_bridge import call_events as ev
from realtime_bridge.call_control import CallControl, ControlSettings
from realtime_bridge.call_journal import CallJournal
from realtime_bridge.call_workers import policy_call, tool_round
from realtime_bridge.deadline_timer import DeadlineTimer
from realtime_bridge.realtime.client import ConnectRefused, RealtimeClient
from realtime_bridge.realtime.session_config import build_session
from realtime_bridge.realtime.translate import append_frame, audio_append, decode, encode
from realtime_bridge.rtp.dtmf import DtmfDigit
from realtime_bridge.rtp.session import AudioFrame, RtpSession
from realtime_bridge.task_group import CallTasks
from realtime_bridge.tool_invoker import ToolInvoker
from realtime_bridge.uplink import Uplink
from voice_agent.cost import Usage
from voice_agent.decisions import DecisionLog
from voice_agent.invocation import CallerHungUp
from voice_agent.spec import AgentSpec


@dataclass
class CallSettings:
    model: str | None = None  # None: the agent spec's own model (REALTIME_MODEL overrides every agent's)
    silence_duration_ms: int = 500
    transcription_model: str = "gpt-realtime-whisper"
    gap_frames: int = 100  # caller audio kept while a session is replaced (2 s); older frames are dropped
    control: ControlSettings = field(default_factory=ControlSettings)


class Call:
    """One answered call. `run()` returns when the call is over and its state is flushed."""

    def __init__(
        self, call_id: str, spec: AgentSpec, media: RtpSession, connect: Callable[[], RealtimeClient],
        invoker: ToolInvoker, journal: CallJournal, decisions: DecisionLog, hang_up: Callable[[], None],
        settings: CallSettings, record_state: Callable[[], str] = lambda: "",
    ) -> None:  # fmt: skip
        self.call_id, self.spec, self.media, self._connect = call_id, spec, media, connect
        self.invoker, self.journal, self.decisions, self._hang_up = invoker, journal, decisions, hang_up
        self.settings, self._record_state = settings, record_state
        self.usage = Usage()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued = 0  # what the sender has yet to send: caller frames go behind it, in order
        self.uplink = Uplink(self._put, settings.gap_frames)
        self.session = build_session(
            spec, silence_duration_ms=settings.silence_duration_ms, transcription_model=settings.transcription_model
        )
        self._loop = asyncio.get_running_loop()
        self.control = CallControl(
            call_id, spec, self.session, media.playout, self.uplink.level, self._loop.time(), settings.control
        )
        self._client: RealtimeClient | None = None
        self._timer = DeadlineTimer(self._on_deadline)
        self._ended = asyncio.Event()
        self._tasks = CallTasks(call_id, self._ended.set)  # a broken task ends the call with a BYE
        self._hung_up = False
        self.ended_by_caller = False

    # ---- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        self.journal.start()
        self.media.audio_sink = self._take_frame
        spawn = self._tasks.spawn
        supervised = [spawn(self._uplink()), spawn(self._sender()), spawn(self._ended.wait())]
        self._apply(self.control.start(self._loop.time()))
        try:
            await asyncio.wait(supervised, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.media.audio_sink = None
            self._apply(self.control.finish(self._loop.time()))
            if self._tasks.broken or not self._ended.is_set():
                self._bye()  # the call broke on our side: never leave a caller on an open line
            self._timer.cancel()
            await self._tasks.cancel_all()
            if self._client is not None:
                await self._client.close()
            await self.journal.close()

    async def sip_ended(self, by_caller: bool) -> None:
        """The SIP dialog is over. A caller hang-up is reported to the gate; then the call stops."""
        if by_caller:  # if the gate cannot be told, the reaper ends the record from the stopped heartbeat
            self.ended_by_caller = True
            await policy_call(self.invoker, self.call_id, ev.CallPolicy(CallerHungUp(call_id=self.call_id)))
        self._feed(ev.SipEnded(by_caller))
        self._ended.set()

    async def drain(self) -> None:
        """The bridge is shutting down: the gate may close this call (closing, then BYE)."""
        self._feed(ev.Drain())

    # ---- the three flows ----------------------------------------------------------------------
    def _take_frame(self, payload: bytes) -> bool:
        """A caller frame straight from the media's datagram callback onto the model's socket: no
        queue, no task switch (at 100 calls a burst of frames otherwise waits behind each other's
        hops). Anything but the plain case (no live session, frames queued before it, a socket
        that asks to wait) returns False, and `_uplink` takes the frame in order."""
        client = self._client
        if client is None or self._queued or not self.uplink.live or not client.frame_write(append_frame(payload)):
            return False
        self.uplink.level.push(payload)
        return True

    async def _uplink(self) -> None:
        # The frames `_take_frame` declined, and everything behind them, in arrival order.
        uplink, keep = self.uplink, self.uplink.level.push
        async for event in self.media.inbound():
            if type(event) is AudioFrame:
                payload = event.payload
                if self._take_frame(payload):  # the socket takes frames at once again
                    continue
                keep(payload)
                if not uplink.live:
                    uplink.hold(payload)  # a session is being opened or replaced: the gap buffer
                    continue
                client = self._client
                if client is None or self._queued:
                    self._put(audio_append(payload))  # behind what is queued (the gap's frames): in order
                    continue
                # The socket asks to wait, or is closing: its own send waits or raises. A try costs
                # nothing until it catches; the reader sees a close and call control decides.
                try:  # noqa: SIM105
                    await client.frame_send(audio_append(payload))
                except client.closed_errors:
                    pass
            elif isinstance(event, DtmfDigit):
                self._feed(ev.Keypad(event.digit))
        await self._ended.wait()  # the media closes once SIP has ended: sip_ended() finishes the call

    def _put(self, text: str) -> None:
        self._queued += 1
        self._queue.put_nowait(text)

    async def _sender(self) -> None:
        while True:
            text = await self._queue.get()
            self._queued -= 1
            client = self._client
            if client is None:
                continue
            with contextlib.suppress(ConnectionError):  # the reader sees the close; call control decides
                await client.send(text)

    async def _read(self, client: RealtimeClient) -> None:
        async for raw in client.messages():
            event = decode(raw)
            if event is not None:
                self._feed(event)
        if client is self._client:
            self._feed(ev.SessionClosed(client.close_code))

    async def _open(self, delay_s: float) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        old, client = self._client, self._connect()
        if old is not None:
            self._client = None
            self._tasks.spawn(old.close())
        try:
            await client.connect(self.settings.model or self.spec.model)
        except ConnectRefused as exc:
            self._feed(ev.ConnectFailed(exc.status, str(exc)))
            return
        state = await asyncio.to_thread(self._record_state) if self.control.session else ""
        while not self._queue.empty():
            self._queue.get_nowait()  # nothing queued for the old session may reach the new one
        self._queued = 0
        self._client = client
        self._tasks.spawn(self._read(client))
        self._feed(ev.Connected(state))

    # ---- carrying out call control's actions --------------------------------------------------
    def _feed(self, event: ev.Event) -> None:
        self._apply(self.control.handle(event, self._loop.time()))

    def _apply(self, actions: list[ev.Action]) -> None:
        for action in actions:
            match action:
                case ev.Play():
                    self.media.send_audio(action.item_id, action.audio)
                case ev.Send():
                    self._put(encode(action.command))
                case ev.Connect():
                    self._tasks.spawn(self._open(action.delay_s))
                case ev.FlushAudio():
                    self._flush_gap()
                case ev.RunTools():
                    seq = self.journal.seq_of(action.answers_item)
                    self._tasks.spawn(self._work(tool_round(self.invoker, self.call_id, action, seq)))
                case ev.CallPolicy():
                    self._tasks.spawn(self._work(policy_call(self.invoker, self.call_id, action)))
                case ev.ReserveTurn() | ev.FillCallerTurn() | ev.WriteTurn():
                    self.journal.record(action)
                case ev.Decide():
                    extra = dict(action.extra)
                    self.decisions.record(self.call_id, action.kind, action.verdict, action.reason, **extra)  # type: ignore[arg-type]
                case ev.AddUsage(usage, "transcription"):
                    self.usage.add_transcription(usage)
                case ev.AddUsage():
                    self.usage.add(action.usage)
                case ev.HangUp():
                    self._bye()
                case _:
                    assert_never(action)
        self.uplink.live = self.control.model_ready  # read per frame: a flag, not a property chain
        self._timer.arm(self.control.next_deadline())

    def _on_deadline(self, now: float) -> None:
        self._apply(self.control.handle(ev.Tick(), now))

    def _flush_gap(self) -> None:
        sent_ms, dropped_ms = self.uplink.flush()
        if dropped_ms or (sent_ms and self.control.session > 1):
            reason = f"caller audio while the model was away: {sent_ms} ms sent on, {dropped_ms} ms dropped"
            self.decisions.record(self.call_id, "model_session", "drop" if dropped_ms else "accept", reason)

    async def _work(self, result: Any) -> None:
        self._feed(await result)  # a worker's result comes back as an event

    # ---- helpers ------------------------------------------------------------------------------
    def _bye(self) -> None:
        if not self._hung_up:
            self._hung_up = True
            self._hang_up()
