"""SDES offers and answers (RFC 4568) in real-shaped SDP: what Chime sends with encryption on."""

from __future__ import annotations

import pytest

from realtime_bridge.rtp.srtp import AES_CM_128_HMAC_SHA1_80, SrtpKey
from realtime_bridge.sip.sdp import RTP_SAVP, CryptoOffer, SdpError, build_answer, parse_offer

KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"  # RFC 4568 section 7.1.1's example key
# Chime's offer shape (PCMU + telephone-event, media IP unlike the signalling IP), encrypted.
CHIME_SRTP_OFFER = (
    "v=0\r\n"
    "o=- 2890844526 2890844526 IN IP4 3.80.16.17\r\n"
    "s=-\r\n"
    "c=IN IP4 52.55.62.140\r\n"
    "t=0 0\r\n"
    "m=audio 17426 RTP/SAVP 0 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^31\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
).encode()


def offer_with(*crypto_lines: str, profile: str = "RTP/SAVP") -> bytes:
    body = CHIME_SRTP_OFFER.decode().replace("RTP/SAVP", profile)
    head, _, tail = body.partition(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^31\r\n")
    return (head + "".join(f"a=crypto:{line}\r\n" for line in crypto_lines) + tail).encode()


def test_chime_shaped_srtp_offer() -> None:
    offer = parse_offer(CHIME_SRTP_OFFER)
    assert (offer.address, offer.port, offer.payload_types, offer.telephone_event_pt) == (
        "52.55.62.140",
        17426,
        (0, 101),
        101,
    )
    assert offer.encrypted and offer.profile == RTP_SAVP
    chosen = offer.chosen_crypto
    assert chosen is not None and chosen.tag == 1 and chosen.key == SrtpKey.from_inline(AES_CM_128_HMAC_SHA1_80, KEY)


def test_answer_echoes_the_tag_with_our_own_key() -> None:
    offer = parse_offer(CHIME_SRTP_OFFER)
    ours = SrtpKey.generate()
    answer = build_answer(
        address="198.51.100.7",
        port=10002,
        session_id=1,
        version=1,
        offer=offer,
        crypto=CryptoOffer(offer.chosen_crypto.tag, ours),  # type: ignore[union-attr]
    )
    text = answer.decode()
    assert "m=audio 10002 RTP/SAVP 0 101\r\n" in text
    assert f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{ours.inline()}\r\n" in text
    assert KEY not in text  # never the offerer's key back
    again = parse_offer(answer)  # the caller's side reads our answer with the same parser
    assert again.chosen_crypto == CryptoOffer(1, ours)


def test_first_usable_line_wins_and_unusable_ones_are_skipped() -> None:
    good = SrtpKey.generate()
    offer = parse_offer(
        offer_with(
            f"1 AES_256_CM_HMAC_SHA1_80 inline:{KEY}",  # a suite the bridge does not run
            f"2 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4",  # MKI
            f"3 AES_CM_128_HMAC_SHA1_80 inline:{KEY} UNENCRYPTED_SRTP",  # a weakening parameter
            f"4 AES_CM_128_HMAC_SHA1_80 inline:{good.inline()} WSH=64",
        )
    )
    assert offer.chosen_crypto == CryptoOffer(4, good)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (offer_with(), "RTP/SAVP without a usable a=crypto"),
        (offer_with(f"1 AES_CM_128_HMAC_SHA1_32 inline:{KEY}"), "RTP/SAVP without a usable a=crypto"),
        (offer_with("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ="), "wrong size or encoding"),
        (offer_with("x AES_CM_128_HMAC_SHA1_80 inline:abc"), "malformed a=crypto"),
        (offer_with(f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}", profile="UDP/TLS/RTP/SAVPF"), "not supported"),
    ],
)
def test_unanswerable_srtp_offers(body: bytes, why: str) -> None:
    with pytest.raises(SdpError, match=why):
        parse_offer(body)


def test_clear_offer_stays_clear_even_with_crypto_lines() -> None:
    offer = parse_offer(offer_with(f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}", profile="RTP/AVP"))
    assert not offer.encrypted and offer.chosen_crypto is None
    answer = build_answer(address="9.9.9.9", port=5, session_id=1, version=1, offer=offer).decode()
    assert "RTP/AVP 0 101" in answer and "a=crypto" not in answer
