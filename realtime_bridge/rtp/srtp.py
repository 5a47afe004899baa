"""SRTP (RFC 3711) for one call, sans-I/O: protect outbound packets, unprotect inbound ones.

Keys come from SDES (RFC 4568): each side puts its own master key and salt in its SDP
``a=crypto`` line and encrypts what it sends with that key; the other side decrypts with it.
So one call has two contexts: ours (outbound, the key in our SDP) and theirs (inbound, the key
in the peer's SDP). The one suite Chime and the bridge agree on is AES_CM_128_HMAC_SHA1_80:
AES-128 counter mode, 80-bit HMAC-SHA1 tag, a 30-byte master key + salt.

``pylibsrtp`` (libsrtp 2) does the cryptography, including the replay window: a packet that
fails authentication or repeats an index raises ``SrtpError`` and the caller drops it.
Its API takes and returns ``bytes``: one copy per packet, inside the binding.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

import pylibsrtp

AES_CM_128_HMAC_SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
MASTER_KEY_BYTES = 16
MASTER_SALT_BYTES = 14
KEY_SALT_BYTES = MASTER_KEY_BYTES + MASTER_SALT_BYTES  # 30: what an inline: key carries
AUTH_TAG_BYTES = 10  # 80 bits, appended to every SRTP packet
_PROFILES = {AES_CM_128_HMAC_SHA1_80: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80}
SUPPORTED_SUITES = tuple(_PROFILES)


class SrtpError(ValueError):
    """A packet that cannot be protected or unprotected (authentication, replay, malformed)."""


@dataclass(frozen=True, slots=True)
class SrtpKey:
    """One direction's master key and salt, and the suite it is for."""

    suite: str
    key_salt: bytes = b""

    def __post_init__(self) -> None:
        if self.suite not in _PROFILES:
            raise ValueError(f"unsupported SRTP suite {self.suite}")
        if len(self.key_salt) != KEY_SALT_BYTES:
            raise ValueError(f"{self.suite} needs a {KEY_SALT_BYTES}-byte key and salt, got {len(self.key_salt)}")

    def __repr__(self) -> str:  # the key must never reach a log line
        return f"SrtpKey({self.suite}, <{len(self.key_salt)} bytes>)"

    @classmethod
    def generate(cls, suite: str = AES_CM_128_HMAC_SHA1_80) -> SrtpKey:
        return cls(suite, secrets.token_bytes(KEY_SALT_BYTES))

    @classmethod
    def from_inline(cls, suite: str, inline: str) -> SrtpKey:
        """``inline:`` key material as SDP carries it: base64 of key || salt (RFC 4568 6.1)."""
        try:
            raw = base64.b64decode(inline, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("inline key is not base64") from None
        return cls(suite, raw)

    def inline(self) -> str:
        return base64.b64encode(self.key_salt).decode("ascii")


class SrtpContext:
    """Both directions of one call's SRTP: ``local`` protects what we send, ``remote`` checks
    what we receive. Any SSRC is accepted, as the far end picks its own."""

    def __init__(self, *, local: SrtpKey, remote: SrtpKey) -> None:
        self._tx = pylibsrtp.Session(_policy(local, pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
        self._rx = pylibsrtp.Session(_policy(remote, pylibsrtp.Policy.SSRC_ANY_INBOUND))
        self.rejected = 0  # inbound packets dropped: bad tag, replay or garbage

    def protect(self, rtp: bytes) -> bytes:
        try:
            return self._tx.protect(rtp)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"cannot protect RTP packet: {exc}") from None

    def unprotect(self, srtp: bytes) -> bytes:
        try:
            return self._rx.unprotect(srtp)
        except (pylibsrtp.Error, ValueError) as exc:
            self.rejected += 1
            raise SrtpError(f"SRTP packet rejected: {exc}") from None

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        try:
            return self._tx.protect_rtcp(rtcp)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"cannot protect RTCP packet: {exc}") from None

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        try:
            return self._rx.unprotect_rtcp(srtcp)
        except (pylibsrtp.Error, ValueError) as exc:
            self.rejected += 1
            raise SrtpError(f"SRTCP packet rejected: {exc}") from None


def _policy(key: SrtpKey, ssrc_type: int) -> pylibsrtp.Policy:
    policy = pylibsrtp.Policy(key=key.key_salt, ssrc_type=ssrc_type, srtp_profile=_PROFILES[key.suite])
    # The sender re-anchors but never resends an index; a repeat inbound is a replay.
    policy.allow_repeat_tx = False
    return policy
