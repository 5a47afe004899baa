"""The online tier's caller: a persona LLM on a real phone call, listening and answering by ear.

The call itself is the simulated caller's (`simulator.caller_call.PhoneCall`: SIP and RTP over
loopback to the bridge, the agent heard by `AgentSpeechTracker`). The turn loop: once the agent's
utterance ends, the audio heard since the caller last spoke is transcribed through the SDK (one
WAV per agent utterance), appended to the persona conversation (persona_turns.py), the persona LLM
gives the next line (or stays silent: the caller waits for the agent to speak again), the local
TTS speaks it into the RTP leg; until the persona hangs up, the agent sends BYE, or the bounds
(`max_turns` answers, `max_call_s`) are reached.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from openai import AsyncOpenAI

from realtime_bridge.rtp.session import RtpSession
from simulator import mulaw
from simulator.caller_audio import caller_voice, render_utterance
from simulator.caller_call import OnEvent, PhoneCall
from simulator.caller_result import CallerOptions
from simulator.caller_sip import CallerSipLeg
from simulator.scenario import Scenario

from .harness_cost import HarnessUsage
from .persona_turns import PersonaConversation

HANG_UP_GRACE_S = 3.0


class PersonaCaller(PhoneCall):
    def __init__(
        self,
        conversation: PersonaConversation,
        client: AsyncOpenAI,
        host: str,
        port: int,
        *,
        transcribe_model: str,
        options: CallerOptions | None = None,
        on_event: OnEvent | None = None,
    ) -> None:
        super().__init__(host, port, options=options, on_event=on_event)
        self.conversation = conversation
        self.usage = HarnessUsage()
        self._client = client
        self._transcribe_model = transcribe_model
        self._audio_in = bytearray()  # every inbound frame, in order
        self._starts: list[int] = []  # where in it each agent utterance (tracker segment) starts

    def _heard(self, payload: bytes, started: bool) -> None:
        if started:
            self._starts.append(len(self._audio_in))
        self._audio_in += payload

    def _turns_total(self) -> int:
        return len(self._turns)  # the persona LLM decides how many lines there are

    def scenario(self, agent: Path) -> Scenario:
        return self.conversation.scenario(agent)

    async def _converse(self, leg: CallerSipLeg, media: RtpSession) -> None:
        loop = asyncio.get_running_loop()
        since = self._t0  # agent speech after this answers the caller (first: the greeting)
        last_end: float | None = None
        while not leg.hungup.done():
            await self._agent_finishes(leg, since)
            if leg.hungup.done():
                return
            self.conversation.heard(await self._transcribe_since(since))
            turn = self.conversation.answered(await self._next_line())
            if turn.hang_up:  # the agent's BYE follows its goodbye: a moment for it, then ours (PhoneCall)
                await self._sleep_until(leg, loop.time() + HANG_UP_GRACE_S)
                return
            if not turn.say.strip():  # a silent turn: what the agent says next is heard from now
                since = loop.time()
                continue
            voice = caller_voice(self.conversation.language(), self.options.engine)
            noise = self.conversation.persona.stress.noise_db
            clip = await asyncio.to_thread(render_utterance, [turn.say], voice, self.options.engine, 0, noise)
            start_at = loop.time()
            if last_end is not None:
                start_at = max(start_at, last_end + self.options.min_pause_ms / 1000)
            if not await self._sleep_until(leg, start_at):
                return
            index = len(self._turns)
            last_end = since = await self._speak(leg, media, index, turn.say, clip, None)

    async def _next_line(self) -> str | None:
        completion = await self._client.chat.completions.create(**self.conversation.request())
        self.usage.add_persona(completion.usage)
        return completion.choices[0].message.content if completion.choices else None

    async def _transcribe_since(self, since: float) -> str:
        """What the agent said since `since`: each of its utterances transcribed on its own."""
        segments = self._tracker.segments
        words: list[str] = []
        for n, segment in enumerate(segments):
            if segment.start < since or n >= len(self._starts):
                continue
            end = self._starts[n + 1] if n + 1 < len(self._starts) else len(self._audio_in)
            wav = mulaw.to_wav(bytes(self._audio_in[self._starts[n] : end]))
            reply = await self._client.audio.transcriptions.create(
                model=self._transcribe_model, file=("agent.wav", wav, "audio/wav")
            )
            self.usage.add_transcription(reply)
            if reply.text.strip():
                words.append(reply.text.strip())
        return " ".join(words)
