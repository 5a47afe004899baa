"""sipp, a real SIP peer, calls the bridge over UDP and TCP on loopback with PCMU RTP."""

from __future__ import annotations

import asyncio
import itertools
import re
import statistics
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from realtime_bridge.sip.events import EndReason
from realtime_bridge.sip.server import SipServer
from tests.sip.sipp_harness import (
    RTP_FIXTURES,
    SIPP,
    RecordingHandler,
    bridge_config,
    free_port,
    open_sink,
    run_sipp,
)

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp not on PATH (Debian package sip-tester)")
TRANSPORTS = ["udp", "tcp"]
CALLER_AUDIO = (RTP_FIXTURES / "caller_tone.ulaw").read_bytes()
# 600 ms of a different tone for the bridge to play; built from the fixture, reversed.
AGENT_AUDIO = CALLER_AUDIO[::-1][:4800]


def answer_port(messages: str) -> int:
    found = re.findall(r"m=audio (\d+) RTP/AVP 0 101", messages.split("SIP/2.0 200 OK", 1)[1])
    return int(found[0])


def check_outbound_rtp(packets: list, sent_audio: bytes) -> None:
    """Paced every 20 ms, continuous seq, 160-sample timestamps, one marker at the talkspurt."""
    assert len(packets) > 40, f"only {len(packets)} RTP packets reached the SDP port"
    pkts = [p for _, p, _ in packets]
    assert {p.ssrc for p in pkts} == {pkts[0].ssrc}
    assert {p.payload_type for p in pkts} == {0}
    assert all(len(p.payload) == 160 for p in pkts)
    for a, b in itertools.pairwise(pkts):
        assert b.sequence == (a.sequence + 1) & 0xFFFF
    markers = [i for i, p in enumerate(pkts) if p.marker]
    assert len(markers) == 1, f"expected one talkspurt start, markers at {markers}"
    m = markers[0]
    times = [t for t, _, _ in packets]
    for i in range(1, len(pkts)):
        delta = (pkts[i].timestamp - pkts[i - 1].timestamp) & 0xFFFFFFFF
        if i == m:  # talkspurt started at once: timestamp advanced by the elapsed samples
            elapsed = (times[i] - times[i - 1]) * 8000
            assert 0 < delta < 160 and abs(delta - elapsed) < 40, (delta, elapsed)
        else:
            assert delta == 160, f"timestamp step {delta} at packet {i}"
    gaps = [(b - a) * 1000 for a, b in zip(times[m + 1 :], times[m + 2 :], strict=False)]
    gaps += [(b - a) * 1000 for a, b in itertools.pairwise(times)]
    assert 19.0 <= statistics.median(gaps) <= 21.0, statistics.median(gaps)
    assert 19.0 <= statistics.mean(gaps) <= 21.0, statistics.mean(gaps)
    audio = b"".join(p.payload for p in pkts[m : m + len(sent_audio) // 160])
    assert audio == sent_audio
    assert all(p.payload == b"\xff" * 160 for p in pkts[:m]), "idle frames must be silence"


async def _call(transport: str, tmp: Path, *, bridge_hangs_up: bool) -> None:
    handler = RecordingHandler(play=AGENT_AUDIO, hang_up_after=1.4 if bridge_hangs_up else None)
    server = SipServer(bridge_config(), handler, public_ip="127.0.0.1")
    handler.server = server
    await server.start()
    sink_port = free_port()
    sink_transport, sink = await open_sink(sink_port)
    try:
        scenario = "uac_bridge_hangs_up.xml" if bridge_hangs_up else "uac_caller_hangs_up.xml"
        result = await run_sipp(scenario, server.sip_port, transport, tmp, keys={"sinkport": str(sink_port)})
        await asyncio.wait_for(handler.ended_event.wait(), 5)
    finally:
        sink_transport.close()
        await server.close()
    assert result.returncode == 0, result.output + result.messages[-2000:]
    (offer,) = handler.offers
    assert offer.voice_connector_id == "vc-test-0123456789"
    assert offer.callee.startswith("sip:+15557654321@")
    assert offer.remote_media.port == sink_port and offer.remote_media.telephone_event_pt == 101
    (_answered_call, media) = handler.answered[0]
    assert answer_port(result.messages) == media.local_port
    expected = EndReason.LOCAL_BYE if bridge_hangs_up else EndReason.REMOTE_BYE
    assert handler.ended == [(offer.call_id, expected)]
    # caller -> bridge: sipp's PCMU stream arrives whole, in 160-byte frames, in order
    assert len(handler.frames) >= len(CALLER_AUDIO) // 160 - 2
    assert all(len(f.payload) == 160 for f in handler.frames)
    got = b"".join(f.payload for f in handler.frames)
    assert got[: len(CALLER_AUDIO) - 160] == CALLER_AUDIO[: len(CALLER_AUDIO) - 160]
    if not bridge_hangs_up:  # this scenario presses 1 after its speech
        assert [d.digit for d in handler.digits] == ["1"]
    # bridge -> caller: to the SDP c=/m= address, which is not where sipp's RTP came from
    check_outbound_rtp(sink.packets, AGENT_AUDIO)
    assert media.played_ms("greeting") == len(AGENT_AUDIO) // 8


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_call_caller_hangs_up(transport: str, tmp_path: Path) -> None:
    asyncio.run(_call(transport, tmp_path, bridge_hangs_up=False))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_call_bridge_hangs_up(transport: str, tmp_path: Path) -> None:
    asyncio.run(_call(transport, tmp_path, bridge_hangs_up=True))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cancel_while_ringing_gets_487(transport: str, tmp_path: Path) -> None:
    async def main() -> None:
        handler = RecordingHandler(offer_delay=3.0)  # still deciding when the CANCEL arrives
        server = SipServer(bridge_config(), handler, public_ip="127.0.0.1")
        await server.start()
        try:
            result = await run_sipp("uac_cancel.xml", server.sip_port, transport, tmp_path)
            await asyncio.wait_for(handler.ended_event.wait(), 5)
            await asyncio.sleep(0)
            assert server.active_calls == 0
        finally:
            await server.close()
        assert result.returncode == 0, result.output + result.messages[-2000:]
        assert "SIP/2.0 487 Request Terminated" in result.messages
        assert handler.ended == [(handler.offers[0].call_id, EndReason.CANCELLED)]
        assert handler.answered == []

    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_options_gets_200(transport: str, tmp_path: Path) -> None:
    async def main() -> None:
        server = SipServer(bridge_config(), RecordingHandler(), public_ip="127.0.0.1")
        await server.start()
        try:
            result = await run_sipp("options_200.xml", server.sip_port, transport, tmp_path)
        finally:
            await server.close()
        assert result.returncode == 0, result.output + result.messages[-2000:]

    asyncio.run(main())


def test_draining_refuses_new_work_while_the_active_call_continues(tmp_path: Path) -> None:
    async def main() -> None:
        handler = RecordingHandler()
        server = SipServer(bridge_config(), handler, public_ip="127.0.0.1")
        await server.start()
        sink_port = free_port()
        sink_transport, sink = await open_sink(sink_port)
        try:
            call = asyncio.create_task(
                run_sipp("uac_caller_hangs_up.xml", server.sip_port, "udp", tmp_path, keys={"sinkport": str(sink_port)})
            )
            await asyncio.wait_for(handler.answered_event.wait(), 5)
            server.drain()  # what SIGTERM does
            options = await run_sipp("options_503.xml", server.sip_port, "udp", tmp_path)
            second = await run_sipp("uac_expect_503.xml", server.sip_port, "tcp", tmp_path)
            assert server.active_calls == 1
            first = await call
            await asyncio.wait_for(server.wait_idle(), 5)
        finally:
            sink_transport.close()
            await server.close()
        assert options.returncode == 0, options.output + options.messages[-2000:]
        assert second.returncode == 0, second.output + second.messages[-2000:]
        assert first.returncode == 0, first.output + first.messages[-2000:]
        assert len(handler.offers) == 1 and handler.ended[0][1] is EndReason.REMOTE_BYE
        assert len(sink.packets) > 40  # media kept flowing to the active call

    asyncio.run(main())


def test_invite_from_outside_the_allowlist_is_dropped(tmp_path: Path) -> None:
    async def main() -> None:
        handler = RecordingHandler()
        config = bridge_config(allowed_sources=(IPv4Network("192.0.2.0/24"),))
        server = SipServer(config, handler, public_ip="127.0.0.1")
        await server.start()
        try:
            result = await run_sipp("uac_unlisted_source.xml", server.sip_port, "udp", tmp_path)
            dropped = server.core.dropped_unlisted
        finally:
            await server.close()
        assert result.returncode == 0, result.output + result.messages[-2000:]
        assert "INVITE sip:" in result.messages and "message received" not in result.messages
        assert dropped >= 1
        assert handler.offers == []

    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_invite_for_another_voice_connector_gets_403(transport: str, tmp_path: Path) -> None:
    async def main() -> None:
        handler = RecordingHandler()
        server = SipServer(bridge_config(), handler, public_ip="127.0.0.1")
        await server.start()
        try:
            result = await run_sipp(
                "uac_expect_403.xml", server.sip_port, transport, tmp_path, keys={"vcid": "someone-elses-connector"}
            )
        finally:
            await server.close()
        assert result.returncode == 0, result.output + result.messages[-2000:]
        assert handler.offers == []

    asyncio.run(main())
