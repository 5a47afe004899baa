"""Many RTP sessions on the one shared pacing tick, over real loopback sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from realtime_bridge.rtp.pacer import SLOTS, Pacer
from realtime_bridge.rtp.session import RtpSession
from tests.rtp.test_rtp_session import endpoint, pool

TONE = (Path(__file__).resolve().parents[1] / "fixtures" / "rtp" / "caller_tone.ulaw").read_bytes()
SILENCE = b"\xff" * 160


def test_every_stream_keeps_its_20ms_grid_on_one_shared_timer_and_talkspurts_still_start_at_once() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        t, rx, port = await endpoint()
        ports = pool()
        sessions = []
        for _ in range(40):
            sessions.append(await RtpSession.open(ports.bind(), ("127.0.0.1", port)))
            await asyncio.sleep(0.0013)  # streams start at scattered phases, as calls do
        pacer = Pacer.of(loop)
        assert len(pacer) == 40
        try:
            await asyncio.sleep(0.1)
            wakeups0, t0, sent0 = pacer.wakeups, loop.time(), [s.sender.frames_sent for s in sessions]
            await asyncio.sleep(0.4)
            wakeups, window = pacer.wakeups - wakeups0, loop.time() - t0
            sent = [s.sender.frames_sent - n for s, n in zip(sessions, sent0, strict=True)]
            talker = sessions[17]
            pushed_at = loop.time()
            talker.send_audio("resp", TONE[:800])  # 100 ms
            await asyncio.sleep(0.25)
        finally:
            for s in sessions:
                s.close()
            t.close()
        assert len(pacer) == 0
        # One timer for all 40 streams: at most one wakeup per slot per frame, not one per stream.
        assert wakeups <= SLOTS * (window / 0.02 + 1)
        assert all(abs(n - window / 0.02) <= 2 for n in sent), "every stream sent a frame per 20 ms"
        by_ssrc = [p for at, p in rx.got if p.ssrc == talker.sender.ssrc]
        first = next(i for i, p in enumerate(by_ssrc) if p.marker)
        arrivals = [at for at, p in rx.got if p.ssrc == talker.sender.ssrc]
        assert arrivals[first] - pushed_at < 0.005, "the talkspurt must not wait for the shared tick"
        audio = [p for p in by_ssrc[first:] if p.payload != SILENCE]
        assert b"".join(p.payload for p in audio) == TONE[:800]
        assert [p.timestamp - audio[0].timestamp for p in audio] == [160 * i for i in range(5)]

    asyncio.run(main())
