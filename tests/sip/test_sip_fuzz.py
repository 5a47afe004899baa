"""Fuzz the SIP parser, the stream framer, the UAS core and the RTP parsers: no input may crash.

Bounded for CI (``max_examples`` per target, about 15 s in all); each test prints how many
inputs it tried and records it as a junit property ``fuzz_inputs``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_bridge.rtp.dtmf import DtmfReceiver
from realtime_bridge.rtp.packet import RtpParseError, parse_rtp
from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.call_state import CallState
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.framing import StreamFramer
from realtime_bridge.sip.message import SipParseError, parse_message
from realtime_bridge.sip.uas import UasCore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TORTURE = [p for suite in ("rfc4475", "rfc5118") for p in sorted((FIXTURES / "sip" / suite).iterdir())]
SEEDS = [p.read_bytes() for p in [*sorted((FIXTURES / "sip").glob("*.sip")), *TORTURE]]
INVITE = (FIXTURES / "sip" / "chime_invite.sip").read_bytes()
RTP_SEEDS = [
    bytes.fromhex(line)
    for name in ("dtmf_2833_digit1.hex", "sipp_pcmu_stream.hex")
    for line in (FIXTURES / "rtp" / name).read_text().splitlines()
    if line and not line.startswith("#")
]
FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A real message with a few random edits: flips, cuts, inserts, duplicated lines."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "dup"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from([b":", b"\r\n", b";", b"<", b">", b" ", b"\x00", b"9" * 12]))
        elif op == "truncate":
            del data[pos:]
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 80))]
    return bytes(data)


SIP_INPUTS = st.one_of(st.binary(max_size=2000), mutated(SEEDS))


def _report(
    record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str], name: str, n: int
) -> None:
    record_property("fuzz_inputs", n)
    with capsys.disabled():
        print(f"\n[fuzz] {name}: {n} inputs tried")
    assert n > 100


def test_fuzz_sip_parser(record_property, capsys) -> None:  # type: ignore[no-untyped-def]
    count = 0

    @FUZZ
    @given(SIP_INPUTS)
    def run(data: bytes) -> None:
        nonlocal count
        count += 1
        with contextlib.suppress(SipParseError):
            parse_message(data)

    run()
    _report(record_property, capsys, "sip parser", count)


def test_fuzz_stream_framer(record_property, capsys) -> None:  # type: ignore[no-untyped-def]
    count = 0

    @FUZZ
    @given(st.lists(SIP_INPUTS, max_size=4), st.integers(1, 64))
    def run(messages: list[bytes], chunk: int) -> None:
        nonlocal count
        count += 1
        stream = b"".join(messages)
        framer = StreamFramer()
        try:
            for i in range(0, len(stream), chunk):
                for message in framer.feed(stream[i : i + chunk]):
                    with contextlib.suppress(SipParseError):
                        parse_message(message)
        except SipParseError:
            pass

    run()
    _report(record_property, capsys, "tcp framer", count)


def test_fuzz_uas_core_never_raises_and_keeps_the_call(record_property, capsys) -> None:  # type: ignore[no-untyped-def]
    count = 0
    config = SipConfig(voice_connector_id="abcdefghijklmnop0123456789", t1=0.5)
    chime = Peer("3.80.16.26", 41234, "tcp", 1)

    @FUZZ
    @given(st.lists(SIP_INPUTS, min_size=1, max_size=5))
    def run(messages: list[bytes]) -> None:
        nonlocal count
        count += 1
        uas = UasCore(config, contact_host="198.51.100.7", contact_port=5060)
        uas.receive(INVITE, chime, 0.0)  # a good call in progress
        call_id = "b3f0c9b2-4c1e-4d0e-9c57-2f1d1c8a5e31"
        uas.answer(call_id, 10002, 0.0)
        now = 0.0
        for data in messages:  # any exception here fails the test
            now += 0.1
            uas.receive(data, chime, now)
            uas.on_timer(now)
        assert uas.state(call_id) is CallState.ANSWERING  # nothing random ends or confirms it
        uas.hang_up(call_id, now)

    run()
    _report(record_property, capsys, "uas core", count)


def test_fuzz_rtp_and_dtmf(record_property, capsys) -> None:  # type: ignore[no-untyped-def]
    count = 0

    @FUZZ
    @given(st.one_of(st.binary(max_size=300), mutated(RTP_SEEDS)))
    def run(data: bytes) -> None:
        nonlocal count
        count += 1
        try:
            packet = parse_rtp(data)
            DtmfReceiver().feed(packet)
        except RtpParseError:
            pass

    run()
    _report(record_property, capsys, "rtp/dtmf parser", count)
