"""The SDP the bridge understands (RFC 4566/3264 subset): one audio stream, PCMU + telephone-event,
over RTP/AVP (clear) or RTP/SAVP (SRTP with SDES keys, RFC 4568)."""

from __future__ import annotations

from dataclasses import dataclass

from realtime_bridge.rtp.srtp import SUPPORTED_SUITES, SrtpKey

PCMU = 0
RTP_AVP = "RTP/AVP"
RTP_SAVP = "RTP/SAVP"
# Session parameters (RFC 4568 6.3) the bridge can honour; any other one (UNENCRYPTED_SRTP,
# UNAUTHENTICATED_SRTP, KDR, FEC_ORDER...) makes that a=crypto line unusable.
_KNOWN_SESSION_PARAMS = ("WSH=",)


class SdpError(ValueError):
    """The offer cannot be answered (unparseable, no audio, no PCMU, no usable SRTP key)."""


@dataclass(frozen=True, slots=True)
class CryptoOffer:
    """One usable ``a=crypto`` line: its tag (echoed in the answer) and the sender's key."""

    tag: int
    key: SrtpKey


@dataclass(frozen=True, slots=True)
class AudioOffer:
    address: str  # where to send RTP: the c= address (media-level wins over session-level)
    port: int
    payload_types: tuple[int, ...]
    telephone_event_pt: int | None
    ptime: int | None
    direction: str  # sendrecv | sendonly | recvonly | inactive
    profile: str = RTP_AVP  # RTP/AVP (clear) or RTP/SAVP (SRTP)
    crypto: tuple[CryptoOffer, ...] = ()  # usable a=crypto lines, in the offerer's order

    @property
    def encrypted(self) -> bool:
        return self.profile == RTP_SAVP

    @property
    def chosen_crypto(self) -> CryptoOffer | None:
        """The first usable key of an SRTP offer (RFC 4568 7.1.2: the answerer picks one)."""
        return self.crypto[0] if self.encrypted and self.crypto else None


def parse_crypto(value: str) -> CryptoOffer | None:
    """``<tag> <suite> inline:<key||salt>[|lifetime][;more keys] [session params]``, or None
    when the line is well formed but unusable here (unknown suite, MKI, weakening parameters)."""
    fields = value.split()
    if len(fields) < 3 or not fields[0].isdigit() or len(fields[0]) > 9:
        raise SdpError(f"malformed a=crypto line: {value[:60]!r}")
    tag, suite, key_params, session_params = int(fields[0]), fields[1], fields[2], fields[3:]
    if suite not in SUPPORTED_SUITES:
        return None
    if any(not p.startswith(_KNOWN_SESSION_PARAMS) for p in session_params):
        return None
    method, colon, info = key_params.split(";")[0].partition(":")  # one master key is enough
    if method != "inline" or not colon:
        return None
    key_salt, *extras = info.split("|")
    if any(":" in extra for extra in extras):  # an MKI (RFC 4568 6.1): libsrtp here runs without
        return None
    try:
        return CryptoOffer(tag, SrtpKey.from_inline(suite, key_salt))
    except ValueError:
        raise SdpError(f"a=crypto:{tag} has a key of the wrong size or encoding") from None


def parse_offer(body: bytes) -> AudioOffer:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    session_c: str | None = None
    media_c: str | None = None
    port: int | None = None
    profile = RTP_AVP
    pts: tuple[int, ...] = ()
    rtpmap: dict[int, str] = {}
    crypto: list[CryptoOffer] = []
    ptime: int | None = None
    direction = "sendrecv"
    in_audio = False
    seen_audio = False
    for line in text.splitlines():
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1:
            continue
        if kind == "m":
            in_audio = False
            fields = value.split()
            if not seen_audio and len(fields) >= 4 and fields[0] == "audio":
                if not fields[1].isdigit() or not all(f.isdigit() for f in fields[3:]):
                    raise SdpError(f"malformed m= line: {value[:60]!r}")
                if fields[2] not in (RTP_AVP, RTP_SAVP):
                    raise SdpError(f"media profile {fields[2][:30]} not supported (RTP/AVP or RTP/SAVP)")
                in_audio = seen_audio = True
                port, profile, pts = int(fields[1]), fields[2], tuple(int(f) for f in fields[3:])
        elif kind == "c":
            fields = value.split()
            if len(fields) < 3 or fields[0] != "IN" or fields[1] not in ("IP4", "IP6"):
                raise SdpError(f"malformed c= line: {value[:60]!r}")
            address = fields[2].split("/")[0]
            if in_audio:
                media_c = address
            elif not seen_audio:
                session_c = address
        elif kind == "a" and (in_audio or not seen_audio):
            name, _, arg = value.partition(":")
            if name == "rtpmap" and in_audio:
                pt, _, encoding = arg.partition(" ")
                if pt.isdigit():
                    rtpmap[int(pt)] = encoding.strip().lower()
            elif name == "crypto" and in_audio:
                offered = parse_crypto(arg)
                if offered is not None:
                    crypto.append(offered)
            elif name == "ptime" and arg.strip().isdigit():
                ptime = int(arg.strip())
            elif name in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = name
    if port is None:
        raise SdpError("no audio m= line")
    target = media_c or session_c
    if target is None:
        raise SdpError("no c= connection address")
    if PCMU not in pts:
        raise SdpError("PCMU (payload type 0) not offered")
    if profile == RTP_SAVP and not crypto:
        raise SdpError(f"RTP/SAVP without a usable a=crypto line ({', '.join(SUPPORTED_SUITES)}, inline key)")
    te = next((pt for pt in pts if rtpmap.get(pt, "").startswith("telephone-event/8000")), None)
    return AudioOffer(target, port, pts, te, ptime, direction, profile, tuple(crypto))


def answer_direction(offered: str) -> str:
    return {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly"}.get(offered, "inactive")


def build_answer(
    *,
    address: str,
    port: int,
    session_id: int,
    version: int,
    offer: AudioOffer | None,
    crypto: CryptoOffer | None = None,
) -> bytes:
    """Our answer (or our offer, when a re-INVITE came without SDP): PCMU, DTMF, ptime 20.
    With ``crypto`` (our own key, under the tag of the offer's chosen line) it is RTP/SAVP."""
    te = offer.telephone_event_pt if offer is not None else 101
    pts = "0" if te is None else f"0 {te}"
    lines = [
        "v=0",
        f"o=- {session_id} {version} IN IP4 {address}",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} {RTP_AVP if crypto is None else RTP_SAVP} {pts}",
        "a=rtpmap:0 PCMU/8000",
    ]
    if te is not None:
        lines += [f"a=rtpmap:{te} telephone-event/8000", f"a=fmtp:{te} 0-15"]
    if crypto is not None:
        lines.append(f"a=crypto:{crypto.tag} {crypto.key.suite} inline:{crypto.key.inline()}")
    lines += ["a=ptime:20", f"a={answer_direction(offer.direction) if offer else 'sendrecv'}"]
    return ("\r\n".join(lines) + "\r\n").encode()
