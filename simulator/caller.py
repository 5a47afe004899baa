"""The simulated caller: places a real SIP call (UDP or TCP) and speaks a scenario over RTP.

It behaves like a phone: RTP flows every 20 ms for the whole call (silence between turns),
each spoken turn is one continuous utterance, and turn-taking is decided by ear only:

- a plain turn starts once the agent has spoken since the caller's previous turn (for the
  first turn: since the INVITE, i.e. the greeting) and then been quiet for
  ``agent_silence_ms``; if the agent says nothing within ``reply_timeout_s`` it goes ahead;
- ``barge_in_after_ms: N`` starts the turn N ms after the agent *starts* its next utterance,
  talking over it;
- ``hang_up: true`` waits like a plain turn (the agent finishes its answer), then sends BYE;
- turns are at least ``min_pause_ms`` apart, so the model's VAD ends each one;
- after the last turn it waits ``hangup_timeout_s`` for the agent's BYE, else hangs up itself.

The call itself (SIP, RTP, listening, speaking, the result) is ``PhoneCall`` (caller_call.py),
shared with the evaluation's persona caller; this file is the scripted turn-taking. ``run()`` returns a
``CallerResult``. ``python -m simulator.caller --scenario F --port 5060 [--tcp]`` for a
manual call.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from realtime_bridge.rtp.session import RtpSession
from simulator.caller_audio import prepare_turn_audio
from simulator.caller_call import OnEvent, PhoneCall
from simulator.caller_result import CallerOptions, CallerResult, format_event
from simulator.caller_sip import CallerSipLeg
from simulator.scenario import Caller, Scenario, ScenarioError, load_scenario


class SimulatedCaller(PhoneCall):
    """One call. ``audio`` (one entry per turn, None for hang_up turns) skips synthesis:
    a benchmark renders the turns once for many callers."""

    def __init__(
        self,
        caller: Caller | Scenario,
        host: str,
        port: int,
        *,
        options: CallerOptions | None = None,
        audio: Sequence[bytes | None] | None = None,
        on_event: OnEvent | None = None,
    ) -> None:
        super().__init__(host, port, options=options, on_event=on_event)
        self.script = caller.caller if isinstance(caller, Scenario) else caller
        if audio is not None and len(audio) != len(self.script.turns):
            raise ValueError(f"audio for {len(audio)} turns, the scenario has {len(self.script.turns)}")
        self._audio = list(audio) if audio is not None else None

    async def _prepare(self) -> None:
        if self._audio is None:
            self._audio = await prepare_turn_audio(
                self.script.turns,
                language=self.script.language,
                engine=self.options.engine,
                noise_db=self.script.noise_db,
            )

    def _turns_total(self) -> int:
        return len(self.script.spoken_turns)

    async def _converse(self, leg: CallerSipLeg, media: RtpSession) -> None:
        assert self._audio is not None  # _prepare ran
        await self._follow_turns(leg, media, self._audio)

    async def _follow_turns(self, leg: CallerSipLeg, media: RtpSession, audio: Sequence[bytes | None]) -> None:
        loop = asyncio.get_running_loop()
        since = self._t0  # agent speech after this answers the caller (first: the greeting)
        last_end: float | None = None
        for index, turn in enumerate(self.script.turns):
            if leg.hungup.done():
                return
            if turn.barge_in_after_ms is not None:
                onset = await self._agent_starts(leg, since)
                start_at = loop.time() if onset is None else onset.start + turn.barge_in_after_ms / 1000
            else:
                await self._agent_finishes(leg, since)
                start_at = loop.time() + turn.silence_before_ms / 1000
            if turn.hang_up:
                return  # the BYE follows in _speak_scenario
            if last_end is not None:
                start_at = max(start_at, last_end + self.options.min_pause_ms / 1000)
            if not await self._sleep_until(leg, start_at):
                return
            clip = audio[index]
            assert clip is not None  # a turn without hang_up has `say`
            last_end = since = await self._speak(leg, media, index, turn.say or "", clip, turn.barge_in_after_ms)
        if not leg.hungup.done():  # every turn spoken: the agent closes the call
            deadline = loop.time() + self.options.hangup_timeout_s
            if not await self._sleep_until(leg, deadline):
                return
            self._timed_out = True
            self._log("timeout", detail=f"no BYE within hangup_timeout_s={self.options.hangup_timeout_s}")


# ---- manual testing --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator.caller", description="Call the bridge with a scenario.")
    parser.add_argument("--scenario", required=True, help="scenario YAML (its caller.turns are spoken)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5060)
    parser.add_argument("--tcp", action="store_true", help="SIP over TCP (default UDP)")
    parser.add_argument(
        "--number", default=CallerOptions().callee, help="the number to dial (the INVITE's Request-URI and To user)"
    )
    parser.add_argument("--engine", choices=["auto", "espeak-ng", "flite", "synthetic"], default="auto")
    parser.add_argument("--voice-connector-id", help="X-VoiceConnector-ID, when the bridge checks it")
    parser.add_argument("--hangup-timeout-s", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON at the end")
    return parser.parse_args(argv)


async def _call(args: argparse.Namespace) -> CallerResult:
    scenario = load_scenario(args.scenario, check_agent=False)
    options = CallerOptions(
        transport="tcp" if args.tcp else "udp",
        callee=args.number,
        engine=args.engine,
        voice_connector_id=args.voice_connector_id,
        hangup_timeout_s=args.hangup_timeout_s,
    )
    on_event = None if args.json else (lambda event: print(format_event(event), flush=True))
    return await SimulatedCaller(scenario, args.host, args.port, options=options, on_event=on_event).run()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = asyncio.run(_call(args))
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(
            f"answered={result.answered} ended_by={result.ended_by} timed_out={result.timed_out} "
            f"turns={result.turns_spoken}/{result.turns_total} agent_audio_ms={result.agent_audio_ms} "
            f"latency={result.latency.model_dump()}"
        )
    if not result.answered:
        print(f"not answered: SIP {result.failure_status}", file=sys.stderr)
    return 0 if result.answered else 1


if __name__ == "__main__":
    sys.exit(main())
