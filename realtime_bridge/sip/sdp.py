"""The SDP the bridge understands (RFC 4566/3264 subset): one audio stream, PCMU + telephone-event."""

from __future__ import annotations

from dataclasses import dataclass

PCMU = 0


class SdpError(ValueError):
    """The offer cannot be answered (unparseable, no audio, no PCMU)."""


@dataclass(frozen=True, slots=True)
class AudioOffer:
    address: str  # where to send RTP: the c= address (media-level wins over session-level)
    port: int
    payload_types: tuple[int, ...]
    telephone_event_pt: int | None
    ptime: int | None
    direction: str  # sendrecv | sendonly | recvonly | inactive


def parse_offer(body: bytes) -> AudioOffer:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    session_c: str | None = None
    media_c: str | None = None
    port: int | None = None
    pts: tuple[int, ...] = ()
    rtpmap: dict[int, str] = {}
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
                in_audio = seen_audio = True
                port, pts = int(fields[1]), tuple(int(f) for f in fields[3:])
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
            elif name == "ptime" and arg.strip().isdigit():
                ptime = int(arg.strip())
            elif name in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = name
    if port is None:
        raise SdpError("no audio m= line")
    address = media_c or session_c
    if address is None:
        raise SdpError("no c= connection address")
    if PCMU not in pts:
        raise SdpError("PCMU (payload type 0) not offered")
    te = next((pt for pt in pts if rtpmap.get(pt, "").startswith("telephone-event/8000")), None)
    return AudioOffer(address, port, pts, te, ptime, direction)


def answer_direction(offered: str) -> str:
    return {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly"}.get(offered, "inactive")


def build_answer(*, address: str, port: int, session_id: int, version: int, offer: AudioOffer | None) -> bytes:
    """Our answer (or our offer, when a re-INVITE came without SDP): PCMU, DTMF, ptime 20."""
    te = offer.telephone_event_pt if offer is not None else 101
    pts = "0" if te is None else f"0 {te}"
    lines = [
        "v=0",
        f"o=- {session_id} {version} IN IP4 {address}",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {pts}",
        "a=rtpmap:0 PCMU/8000",
    ]
    if te is not None:
        lines += [f"a=rtpmap:{te} telephone-event/8000", f"a=fmtp:{te} 0-15"]
    lines += ["a=ptime:20", f"a={answer_direction(offer.direction) if offer else 'sendrecv'}"]
    return ("\r\n".join(lines) + "\r\n").encode()
