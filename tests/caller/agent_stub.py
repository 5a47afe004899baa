"""A stand-in bridge for the caller's tests: the real SipServer with a scripted CallHandler.

The "agent" greets, answers each caller speech segment (found by the simulator's VAD) after
a short delay, stops talking when the caller starts (like the bridge on speech_started), and
optionally plays a closing and hangs up. It records what arrived, with arrival times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from realtime_bridge.rtp.session import AudioFrame, RtpSession
from realtime_bridge.sip.events import CallInfo, EndReason
from realtime_bridge.sip.server import Accept, Decision, Reject, SipServer
from simulator import speech
from simulator.mulaw import BYTES_PER_MS
from simulator.vad import ServerVad, SpeechStarted, SpeechStopped
from tests.sip.sipp_harness import bridge_config

VAD_SILENCE_MS = 500  # the bridge's default silence_duration_ms


def agent_voice(text: str) -> bytes:
    return speech.synthesize(text, "synthetic")  # deterministic: lengths are known


@dataclass
class Played:
    item: str
    started: float
    length_ms: int
    cut_at: float | None = None
    heard_ms: int | None = None

    @property
    def ends(self) -> float:
        return self.started + self.length_ms / 1000


@dataclass
class Heard:
    """One caller speech segment as the VAD saw it; times on the loop clock."""

    onset: float  # arrival of the frame that started it
    start_ms: int  # VAD audio clock
    speech_ms: int | None = None  # without the trailing silence that ended it


@dataclass(frozen=True)
class Frame:
    arrived: float
    sequence: int
    timestamp: int
    size: int


@dataclass
class ScriptedAgent:
    greeting: bytes | None
    answers: list[bytes]  # the Nth caller segment gets answers[N-1] (the last one repeats)
    closing: bytes | None = None
    close_after: int | None = None  # after this many caller segments: closing, then BYE
    answer_delay_s: float = 0.2
    offer_delay_s: float = 0.0  # ringing this long before deciding
    reject: int | None = None
    server: SipServer | None = None
    offers: list[CallInfo] = field(default_factory=list)
    ended: list[EndReason] = field(default_factory=list)
    heard: list[Heard] = field(default_factory=list)
    played: list[Played] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    hung_up_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def on_offer(self, call: CallInfo) -> Decision:
        self.offers.append(call)
        await asyncio.sleep(self.offer_delay_s)
        return Reject(self.reject) if self.reject is not None else Accept()

    async def on_answered(self, call: CallInfo, media: RtpSession) -> None:
        if self.greeting:
            self._play(media, "greeting", self.greeting)
        await self._listen(call, media)

    async def on_ended(self, call: CallInfo, reason: EndReason) -> None:
        self.ended.append(reason)
        for task in self._tasks:
            task.cancel()
        self.done.set()

    def _play(self, media: RtpSession, item: str, audio: bytes) -> None:
        self.played.append(Played(item, _now(), len(audio) // BYTES_PER_MS))
        media.send_audio(item, audio)

    def _speaking(self, media: RtpSession) -> Played | None:
        last = self.played[-1] if self.played else None
        if last is None or last.cut_at is not None or media.played_ms(last.item) >= last.length_ms:
            return None
        return last

    async def _listen(self, call: CallInfo, media: RtpSession) -> None:
        vad = ServerVad(threshold=0.5, prefix_padding_ms=0, silence_duration_ms=VAD_SILENCE_MS)
        async for event in media.inbound():
            if not isinstance(event, AudioFrame):
                continue
            now = _now()
            self.frames.append(Frame(now, event.sequence, event.timestamp, len(event.payload)))
            for mark in vad.feed(event.payload):
                if isinstance(mark, SpeechStarted):
                    self.heard.append(Heard(onset=now, start_ms=mark.audio_start_ms))
                    talking = self._speaking(media)
                    if talking is not None:  # barge-in: stop within a frame, note what was heard
                        talking.heard_ms = media.clear().get(talking.item)
                        talking.cut_at = now
                elif isinstance(mark, SpeechStopped):
                    segment = self.heard[-1]
                    segment.speech_ms = mark.audio_end_ms - VAD_SILENCE_MS - segment.start_ms
                    self._spawn(self._reply(call, media, len(self.heard)))

    async def _reply(self, call: CallInfo, media: RtpSession, count: int) -> None:
        await asyncio.sleep(self.answer_delay_s)
        if count == self.close_after and self.closing is not None:
            self._play(media, "closing", self.closing)
            await asyncio.sleep(len(self.closing) / BYTES_PER_MS / 1000 + 0.3)
            assert self.server is not None
            self.hung_up_at = _now()
            self.server.hang_up(call.call_id)
            return
        self._play(media, f"answer-{count}", self.answers[min(count, len(self.answers)) - 1])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def start_bridge(agent: ScriptedAgent, transport: str) -> SipServer:
    server = SipServer(bridge_config(transports=(transport,)), agent, public_ip="127.0.0.1")
    agent.server = server
    await server.start()
    return server


def _now() -> float:
    return asyncio.get_running_loop().time()
