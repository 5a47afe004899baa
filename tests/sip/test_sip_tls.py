"""SIP over TLS with SRTP on loopback: the simulated caller calls a real SipServer.

The certificates come from a throwaway CA (``trustme``); the server runs encryption=required,
so it answers only SRTP offers on its TLS port, and refuses a clear one with 488.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import pytest

from realtime_bridge.event_loop import LOOPS
from realtime_bridge.event_loop import run as run_on
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.events import EndReason
from realtime_bridge.sip.server import SipServer
from simulator.caller import SimulatedCaller
from simulator.caller_audio import prepare_turn_audio
from simulator.caller_result import CallerOptions, CallerResult
from simulator.loopback_tls import LoopbackTls, make_loopback_tls
from simulator.scenario import Caller, Turn
from tests.caller.agent_stub import ScriptedAgent, agent_voice
from tests.sip.loopback_capture import LoopbackCapture, assert_sip_encrypted, assert_srtp_only
from tests.sip.sipp_harness import VC_ID, bridge_config

GREETING = agent_voice("Hi, clinic.")
ANSWER = agent_voice("Okay, go on.")
CLOSING = agent_voice("Bye now.")
SCRIPT = Caller(language="en", turns=[Turn(say="Hi there."), Turn(say="It is about my bill.")])


@pytest.fixture
def certs() -> Iterator[LoopbackTls]:
    tls = make_loopback_tls()
    yield tls
    tls.close()


def tls_config(certs: LoopbackTls, **overrides: object) -> SipConfig:
    return bridge_config(**(certs.bridge_settings() | overrides))


def caller_options(certs: LoopbackTls, **overrides: object) -> CallerOptions:
    values = certs.caller_settings() | {"voice_connector_id": VC_ID, "engine": "synthetic"}
    return CallerOptions.model_validate(values | overrides)


async def place(
    agent: ScriptedAgent, config: SipConfig, options: CallerOptions, audio: list[bytes | None] | None = None
) -> tuple[CallerResult, SipServer]:
    server = SipServer(config, agent, public_ip="127.0.0.1")
    agent.server = server
    await server.start()
    try:
        caller = SimulatedCaller(SCRIPT, "127.0.0.1", server.tls_port, options=options, audio=audio)
        result = await asyncio.wait_for(caller.run(), 30)
        if result.answered:
            await asyncio.wait_for(agent.done.wait(), 5)
        assert server.active_calls == 0
    finally:
        await server.close()
    return result, server


@pytest.mark.parametrize("loop", LOOPS)  # production runs uvloop, whose TLS is its own implementation
def test_a_tls_call_with_srtp_both_ways_ended_by_the_agent(certs: LoopbackTls, loop: str) -> None:
    agent = ScriptedAgent(greeting=GREETING, answers=[ANSWER], closing=CLOSING, close_after=2)
    audio = asyncio.run(prepare_turn_audio(SCRIPT.turns, language="en", engine="synthetic"))
    with LoopbackCapture() as capture:
        result, server = run_on(place(agent, tls_config(certs), caller_options(certs), audio), loop)
    # What crossed loopback: SIP only as TLS records, media only as SRTP, both directions.
    assert_sip_encrypted(capture.tcp_stream(server.tls_port))
    clear = [a for a in audio if a] + [GREETING, ANSWER, CLOSING]
    assert_srtp_only(capture.udp(result.local_rtp_port), clear)
    assert result.answered and result.transport == "tls" and result.srtp
    assert result.ended_by == "agent" and agent.ended == [EndReason.LOCAL_BYE]  # our BYE went over TLS
    assert result.turns_spoken == 2 and len(agent.heard) == 2  # the bridge decrypted the caller's speech
    assert result.agent_audio_ms > 1000  # and the caller decrypted the agent's
    offer = agent.offers[0].remote_media
    assert offer.encrypted and offer.chosen_crypto is not None
    assert agent.offers[0].source.transport == "tls"


def test_clear_rtp_offer_is_refused_with_488_when_encryption_is_required(certs: LoopbackTls) -> None:
    agent = ScriptedAgent(greeting=GREETING, answers=[ANSWER])
    result, _ = asyncio.run(place(agent, tls_config(certs), caller_options(certs, srtp=False)))
    assert not result.answered and result.failure_status == 488
    assert agent.offers == []  # the handler never saw it: no call, no record


def test_srtp_offer_is_answered_with_srtp_even_when_encryption_is_off(certs: LoopbackTls) -> None:
    agent = ScriptedAgent(greeting=GREETING, answers=[ANSWER], closing=CLOSING, close_after=1)
    config = tls_config(certs, encryption="off", transports=("udp", "tcp", "tls"))
    script_options = caller_options(certs)
    result, server = asyncio.run(place(agent, config, script_options))
    assert result.answered and result.srtp and server.tls_port != server.sip_port


def test_a_caller_that_does_not_trust_the_certificate_never_reaches_the_bridge(certs: LoopbackTls) -> None:
    stranger = make_loopback_tls()  # another CA: the bridge's certificate does not chain to it
    try:
        agent = ScriptedAgent(greeting=GREETING, answers=[ANSWER])
        options = caller_options(certs, tls_ca_file=stranger.ca_file, answer_timeout_s=1.0, bye_timeout_s=0.5)
        result, _ = asyncio.run(place(agent, tls_config(certs), options))
    finally:
        stranger.close()
    assert not result.answered and agent.offers == []


def test_plain_tcp_on_the_tls_port_gets_nothing(certs: LoopbackTls) -> None:
    async def main() -> bytes:
        server = SipServer(tls_config(certs), ScriptedAgent(greeting=None, answers=[]), public_ip="127.0.0.1")
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.tls_port)
            writer.write(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            return data
        finally:
            await server.close()

    data = asyncio.run(main())
    assert b"SIP/2.0" not in data  # a TLS alert at most, never a SIP answer in clear


def test_tls_configuration_is_checked_at_boot(certs: LoopbackTls) -> None:
    with pytest.raises(ValueError, match="tls_cert_file and tls_key_file"):
        bridge_config(transports=("tls",))
    with pytest.raises(ValueError, match="SIP over TLS only"):
        bridge_config(transports=("udp", "tls"), tls_cert_file="c", tls_key_file="k", encryption="required")
    server = SipServer(tls_config(certs, tls_key_file=certs.caller_key), ScriptedAgent(None, []), public_ip="x")
    with pytest.raises(ssl.SSLError):  # a key that does not match the certificate stops the start
        asyncio.run(server.start())
