"""SRTP for one call: what one side protects only the holder of its SDES key can read, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime_bridge.rtp.packet import RtpPacket, build_rtp, parse_rtp
from realtime_bridge.rtp.srtp import AUTH_TAG_BYTES, KEY_SALT_BYTES, SrtpContext, SrtpError, SrtpKey

TONE = (Path(__file__).resolve().parents[1] / "fixtures" / "rtp" / "caller_tone.ulaw").read_bytes()


def pair() -> tuple[SrtpContext, SrtpContext]:
    """The bridge and Chime, each with its own key and the other's (as SDES exchanges them)."""
    bridge_key, chime_key = SrtpKey.generate(), SrtpKey.generate()
    return SrtpContext(local=bridge_key, remote=chime_key), SrtpContext(local=chime_key, remote=bridge_key)


def frame(seq: int, payload: bytes = TONE[:160]) -> bytes:
    return build_rtp(RtpPacket(payload_type=0, sequence=seq, timestamp=seq * 160, ssrc=0x1234ABCD, payload=payload))


def test_round_trip_hides_the_audio_and_restores_it_exactly() -> None:
    bridge, chime = pair()
    for seq in range(100, 150):
        clear = frame(seq, TONE[(seq - 100) * 160 : (seq - 99) * 160])
        wire = bridge.protect(clear)
        assert len(wire) == len(clear) + AUTH_TAG_BYTES
        assert wire[:12] == clear[:12]  # the header stays readable (RFC 3711 3.1)
        assert clear[12:] not in wire  # the PCMU payload does not
        assert chime.unprotect(wire) == clear
        assert parse_rtp(wire).sequence == seq  # and routable without the key


def test_both_directions_use_their_own_key() -> None:
    bridge, chime = pair()
    to_bridge = chime.protect(frame(7))
    assert bridge.unprotect(to_bridge) == frame(7)
    with pytest.raises(SrtpError, match="rejected"):
        chime.unprotect(chime.protect(frame(8)))  # Chime's own packet is not under the bridge's key


def test_tampered_packet_fails_authentication() -> None:
    bridge, chime = pair()
    wire = bytearray(bridge.protect(frame(1)))
    wire[20] ^= 0x01  # one bit of ciphertext
    with pytest.raises(SrtpError, match="authentication failure"):
        chime.unprotect(bytes(wire))
    assert chime.rejected == 1
    assert chime.unprotect(bridge.protect(frame(2))) == frame(2)  # the stream goes on


def test_wrong_key_is_rejected() -> None:
    bridge, _ = pair()
    stranger = SrtpContext(local=SrtpKey.generate(), remote=SrtpKey.generate())
    with pytest.raises(SrtpError, match="authentication failure"):
        stranger.unprotect(bridge.protect(frame(1)))


def test_replayed_packet_is_rejected() -> None:
    bridge, chime = pair()
    first = bridge.protect(frame(500))
    assert chime.unprotect(first) == frame(500)
    assert chime.unprotect(bridge.protect(frame(501))) == frame(501)
    with pytest.raises(SrtpError, match="replay"):
        chime.unprotect(first)


def test_garbage_and_truncated_packets_are_rejected_not_raised_raw() -> None:
    _, chime = pair()
    for junk in (b"", b"\x80", b"\x80\x00" + bytes(10), bytes(40)):
        with pytest.raises(SrtpError):
            chime.unprotect(junk)


def test_srtcp_round_trip() -> None:
    bridge, chime = pair()
    # A receiver report with no blocks: V=2, PT=201, length=1, SSRC.
    rr = bytes.fromhex("80c90001") + (0x1234ABCD).to_bytes(4, "big")
    wire = bridge.protect_rtcp(rr)
    assert wire != rr and len(wire) > len(rr)
    assert chime.unprotect_rtcp(wire) == rr
    with pytest.raises(SrtpError):
        chime.unprotect_rtcp(wire)  # SRTCP has a replay window too


def test_key_material_is_checked_and_never_printed() -> None:
    key = SrtpKey.generate()
    assert len(key.key_salt) == KEY_SALT_BYTES
    assert SrtpKey.from_inline(key.suite, key.inline()) == key
    assert key.inline() not in repr(key) and "30 bytes" in repr(key)
    with pytest.raises(ValueError, match="30-byte"):
        SrtpKey.from_inline(key.suite, "AAAA")
    with pytest.raises(ValueError, match="not base64"):
        SrtpKey.from_inline(key.suite, "not base64!")
    with pytest.raises(ValueError, match="unsupported SRTP suite"):
        SrtpKey("F8_128_HMAC_SHA1_80", bytes(30))
