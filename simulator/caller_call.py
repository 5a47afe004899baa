"""One simulated phone call, the part every simulated caller shares: places a real SIP call
(UDP, TCP or TLS) over loopback, keeps RTP flowing every 20 ms, listens to the agent by ear
(``AgentSpeechTracker``), speaks utterances into the RTP leg, and reports a ``CallerResult``.

What is said, and when, is a subclass's: ``SimulatedCaller`` (simulator/caller.py) follows a
scenario's scripted turns; voice_eval's persona caller asks a persona LLM turn by turn. Each
implements ``_converse`` (the turn loop, bounded by ``max_call_s`` here) with the helpers below:
``_agent_finishes`` / ``_agent_starts`` wait by ear, ``_speak`` sends one utterance, and
``_heard`` sees every inbound audio frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

from realtime_bridge.rtp.session import AudioFrame, RtpSession
from realtime_bridge.rtp.srtp import SrtpContext, SrtpKey
from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.sdp import AudioOffer
from simulator.caller_listen import AgentSpeechTracker, Segment
from simulator.caller_result import (
    AgentSegmentOut,
    CallerEvent,
    CallerOptions,
    CallerResult,
    CallerTurn,
    EventKind,
)
from simulator.caller_sip import CallerSipLeg, caller_tls
from simulator.mulaw import BYTES_PER_MS

FRAME_S = 0.020
_POLL_S = 0.005  # while waiting for a turn's last frame to leave

OnEvent = Callable[[CallerEvent], None]


class PhoneCall:
    """One call; a subclass says what to say (``_converse``) and how many turns it meant (``_turns_total``)."""

    def __init__(
        self, host: str, port: int, *, options: CallerOptions | None = None, on_event: OnEvent | None = None
    ) -> None:
        self.options = options or CallerOptions()
        self.target = Peer(host, port, self.options.transport)
        self._on_event = on_event
        self._tracker = AgentSpeechTracker(silence_ms=self.options.agent_silence_ms)
        self._wake = asyncio.Event()  # set when agent speech starts or ends and on any SIP change
        self._events: list[CallerEvent] = []
        self._turns: list[CallerTurn] = []
        self._t0 = 0.0
        self._timed_out = False
        self._bye_received_logged = False
        self._leg: CallerSipLeg | None = None
        self._started = False

    # ---- what a subclass says --------------------------------------------------------------------
    async def _prepare(self) -> None:
        """Before the INVITE (e.g. synthesis, which must not stall the 20 ms pacing)."""

    async def _converse(self, leg: CallerSipLeg, media: RtpSession) -> None:
        """The turns, until the caller is done or the call ends; the BYE, if still needed, follows."""
        raise NotImplementedError

    def _turns_total(self) -> int:
        raise NotImplementedError

    def _heard(self, payload: bytes, started: bool) -> None:
        """Every inbound audio frame (``started``: it began an agent utterance). Nothing by default."""

    # ---- the call ------------------------------------------------------------------------------
    async def run(self) -> CallerResult:
        if self._started:
            raise RuntimeError(f"a {type(self).__name__} places one call; make another for the next")
        self._started = True
        loop = asyncio.get_running_loop()
        await self._prepare()
        rtp_sock = _bind_rtp(self.options.local_host, self.options.rtp_port)
        local_rtp_port = rtp_sock.getsockname()[1]
        srtp_key = SrtpKey.generate() if self.options.srtp else None
        leg = self._leg = CallerSipLeg(
            tls=caller_tls(self.options),
            srtp_key=srtp_key,
            target=self.target,
            local_host=self.options.local_host,
            callee=self.options.callee,
            caller=self.options.caller_number,
            media_port=local_rtp_port,
            extra_headers=(
                [("X-VoiceConnector-ID", self.options.voice_connector_id)] if self.options.voice_connector_id else []
            ),
            t1=self.options.t1,
            on_change=self._on_sip_change,
        )
        media: RtpSession | None = None
        failure: int | None = None
        try:
            await leg.open()
            self._t0 = loop.time()
            leg.invite()
            self._log("invite_sent", detail=f"{self.options.transport} {self.target.host}:{self.target.port}")
            outcome = await self._await_answer(leg)
            srtp = _srtp_for(srtp_key, outcome)
            if isinstance(outcome, int):
                failure = outcome
            elif srtp_key is not None and srtp is None:  # a clear answer to an SRTP offer
                failure = 488
                self._log("failed", detail="the answer is not SRTP: hung up")
                leg.hang_up()
                await asyncio.wait([leg.hungup], timeout=self.options.bye_timeout_s)
            else:
                self._log("answered", detail=f"media {outcome.address}:{outcome.port}{' SRTP' if srtp else ''}")
                media = await RtpSession.open(  # the session owns the socket from here
                    rtp_sock,
                    (outcome.address, outcome.port),
                    telephone_event_pt=outcome.telephone_event_pt,
                    srtp=srtp,
                )
                await self._talk(leg, media)
        finally:
            if media is not None and not leg.hungup.done():
                leg.hang_up()  # cancelled mid-call: a phone hung up, not one left open
                self._log("bye_sent", detail="cancelled")
            if media is not None:
                media.close()
            else:
                rtp_sock.close()
            leg.close()
        return self._result(leg, media, local_rtp_port, failure)

    async def _await_answer(self, leg: CallerSipLeg) -> AudioOffer | int:
        done, _ = await asyncio.wait([leg.outcome], timeout=self.options.answer_timeout_s)
        if done:
            outcome = leg.outcome.result()
            if isinstance(outcome, int):
                self._log("failed", detail=f"SIP {outcome}")
            return outcome
        leg.hang_up()  # CANCEL; a 200 crossing it is ACKed and BYEd by the UAC
        self._log("failed", detail=f"no answer within {self.options.answer_timeout_s} s: CANCEL sent")
        await asyncio.wait([leg.hungup], timeout=self.options.bye_timeout_s)
        return 408

    async def _talk(self, leg: CallerSipLeg, media: RtpSession) -> None:
        """The fixed task shape: a speaker and a listener, both cancelled when the call ends."""
        speaker = asyncio.create_task(self._speaker(leg, media), name="sim-caller-speaker")
        listener = asyncio.create_task(self._listen(media), name="sim-caller-listener")
        try:
            await speaker
        finally:
            speaker.cancel()
            listener.cancel()
            await asyncio.wait([speaker, listener])
        if not listener.cancelled() and listener.exception() is not None:
            raise listener.exception()  # type: ignore[misc]

    async def _listen(self, media: RtpSession) -> None:
        loop = asyncio.get_running_loop()
        async for event in media.inbound():
            if not isinstance(event, AudioFrame):
                continue  # DTMF from the agent side means nothing to a caller
            closed, started = self._tracker.feed(event.payload, loop.time())
            self._heard(event.payload, started is not None)
            self._log_closed(closed)
            if started is not None:
                self._log("agent_speech_start", at=started.start)
            if closed or started is not None:
                self._wake.set()

    async def _speaker(self, leg: CallerSipLeg, media: RtpSession) -> None:
        opts = self.options
        answered_at = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(answered_at + opts.max_call_s):
                await self._converse(leg, media)
        except TimeoutError:
            self._timed_out = True
            self._log("timeout", detail=f"call longer than max_call_s={opts.max_call_s}")
        if not leg.hungup.done():
            media.clear()
            leg.hang_up()
            self._log("bye_sent")
            await asyncio.wait([leg.hungup], timeout=opts.bye_timeout_s)
        self._log_closed(self._tracker.finish())
        by_agent = leg.hungup.done() and leg.hungup.result() is True
        self._log("ended", detail=f"ended_by {'agent' if by_agent else 'caller'}")

    async def _speak(
        self, leg: CallerSipLeg, media: RtpSession, index: int, say: str, clip: bytes, barge_in_after_ms: int | None
    ) -> float:
        """Send one turn; returns when its last audio sample has gone out (or the call ended)."""
        loop = asyncio.get_running_loop()
        item = f"caller-turn-{index}"
        start = loop.time()
        over_agent = self._tracker.current is not None
        media.send_audio(item, clip)  # an idle stream starts the talkspurt at once
        audio_ms = len(clip) // BYTES_PER_MS
        self._log("caller_turn_start", at=start, turn=index, text=say, duration_ms=audio_ms, barge_in=over_agent)
        frames = -(-len(clip) // 160)
        await self._sleep_until(leg, start + (frames - 1) * FRAME_S)
        while media.played_ms(item) < audio_ms and not leg.hungup.done():
            await self._sleep_until(leg, loop.time() + _POLL_S)
        end = start + audio_ms / 1000
        if leg.hungup.done():
            media.clear()
            end = min(end, loop.time())
        self._log("caller_turn_end", at=end, turn=index)
        self._turns.append(
            CallerTurn(
                index=index,
                say=say,
                audio_ms=audio_ms,
                start_ms=self._ms(start),
                end_ms=self._ms(end),
                barge_in_after_ms=barge_in_after_ms,
                agent_was_speaking=over_agent,
                latency_ms=None,  # filled in by _result, once the agent's answer is known
            )
        )
        return end

    # ---- waiting by ear --------------------------------------------------------------------------
    async def _agent_starts(self, leg: CallerSipLeg, since: float) -> Segment | None:
        """The agent's next utterance (started at or after ``since``); None: it said nothing."""
        deadline = asyncio.get_running_loop().time() + self.options.reply_timeout_s
        while not leg.hungup.done():
            segment = self._tracker.first_started_after(since)
            if segment is not None:
                return segment
            if not await self._sleep_until(leg, deadline, wake_early=True):
                return None
            if asyncio.get_running_loop().time() >= deadline:
                self._log("no_reply")
                return None
        return None

    async def _agent_finishes(self, leg: CallerSipLeg, since: float) -> None:
        """Agent speech started at or after ``since`` and the agent is now quiet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.reply_timeout_s
        while not leg.hungup.done():
            now = loop.time()
            self._log_closed(self._tracker.poll(now))
            heard = self._tracker.first_started_after(since)
            quiet_at = self._tracker.quiet_deadline()
            if heard is not None and quiet_at is None:
                return
            if heard is None and quiet_at is None and now >= deadline:
                self._log("no_reply")
                return
            if not await self._sleep_until(leg, quiet_at or deadline, wake_early=True):
                return

    async def _sleep_until(self, leg: CallerSipLeg, when: float, *, wake_early: bool = False) -> bool:
        """Wait until ``when`` (or the next wake-up with ``wake_early``); False: the call ended."""
        loop = asyncio.get_running_loop()
        while not leg.hungup.done() and loop.time() < when:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(when):
                    await self._wake.wait()
            if wake_early:
                break
        return not leg.hungup.done()

    # ---- the log -------------------------------------------------------------------------------
    def _on_sip_change(self) -> None:
        leg = self._leg
        if leg is not None and leg.ringing_at is not None and not any(e.kind == "ringing" for e in self._events):
            self._log("ringing", at=leg.ringing_at)
        if leg is not None and leg.hungup.done() and leg.hungup.result() is True and not self._bye_received_logged:
            self._bye_received_logged = True
            self._log("bye_received")
        self._wake.set()

    def _log_closed(self, segments: list[Segment]) -> None:
        for segment in segments:
            self._log("agent_speech_end", at=segment.end, duration_ms=segment.duration_ms)

    def _log(self, kind: EventKind, *, at: float | None = None, **fields: Any) -> None:
        at = asyncio.get_running_loop().time() if at is None else at
        event = CallerEvent(kind=kind, at=at, t_ms=self._ms(at), **fields)
        self._events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    def _ms(self, at: float) -> int:
        return round((at - self._t0) * 1000)

    def _result(
        self,
        leg: CallerSipLeg,
        media: RtpSession | None,
        local_rtp_port: int,
        failure: int | None,
    ) -> CallerResult:
        segments = self._tracker.segments
        turns: list[CallerTurn] = []
        for n, turn in enumerate(self._turns):
            next_start = self._turns[n + 1].start_ms if n + 1 < len(self._turns) else None
            answer = next(
                (
                    s
                    for s in segments
                    if self._ms(s.start) >= turn.end_ms and (next_start is None or self._ms(s.start) < next_start)
                ),
                None,
            )
            latency = None if answer is None else self._ms(answer.start) - turn.end_ms
            turns.append(turn.model_copy(update={"latency_ms": latency}))
        by_remote = leg.hungup.done() and leg.hungup.result() is True
        answered = media is not None
        ended = self._events[-1].at if self._events else self._t0
        return CallerResult(
            call_id=leg.call_id,
            transport=self.options.transport,
            srtp=media is not None and media.srtp is not None,
            local_rtp_port=local_rtp_port,
            answered=answered,
            failure_status=failure,
            ended_by=("agent" if by_remote else "caller") if answered else None,
            timed_out=self._timed_out,
            turns_spoken=len(turns),
            turns_total=self._turns_total(),
            turns=turns,
            agent_segments=[
                AgentSegmentOut(start_ms=self._ms(s.start), end_ms=self._ms(s.end), duration_ms=s.duration_ms)
                for s in segments
            ],
            agent_audio_ms=self._tracker.audio_frames * round(FRAME_S * 1000),
            rtp_frames_sent=media.sender.frames_sent if media is not None else 0,
            rtp_frames_received=media.packets_in if media is not None else 0,
            duration_ms=self._ms(ended),
            events=sorted(self._events, key=lambda e: e.at),
        )


def _srtp_for(ours: SrtpKey | None, answer: AudioOffer | int) -> SrtpContext | None:
    """Our key protects what we send; the key in the bridge's answer opens what it sends."""
    theirs = answer.chosen_crypto if isinstance(answer, AudioOffer) else None
    return SrtpContext(local=ours, remote=theirs.key) if ours is not None and theirs is not None else None


def _bind_rtp(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
