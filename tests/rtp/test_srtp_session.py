"""Two RTP sessions with SRTP over loopback, a UDP relay between them capturing the wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

from realtime_bridge.rtp.packet import HEADER_SIZE, parse_rtp
from realtime_bridge.rtp.session import AudioFrame, RtpSession
from realtime_bridge.rtp.srtp import AUTH_TAG_BYTES, SrtpContext, SrtpKey
from tests.rtp.test_rtp_session import pool

TONE = (Path(__file__).resolve().parents[1] / "fixtures" / "rtp" / "caller_tone.ulaw").read_bytes()
SILENCE = b"\xff" * 160


class Relay(asyncio.DatagramProtocol):
    """Forwards everything to ``dest`` and keeps a copy: what an eavesdropper on the path sees."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.dest: tuple[str, int] = ("127.0.0.1", 9)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen.append(data)
        assert self.transport is not None
        self.transport.sendto(data, self.dest)


def test_audio_crosses_encrypted_and_arrives_clear() -> None:
    async def main() -> tuple[list[bytes], list[AudioFrame], RtpSession]:
        loop = asyncio.get_running_loop()
        relay_t, relay = await loop.create_datagram_endpoint(Relay, local_addr=("127.0.0.1", 0))
        relay_port = relay_t.get_extra_info("sockname")[1]
        a_key, b_key = SrtpKey.generate(), SrtpKey.generate()
        b_sock = pool().bind()
        relay.dest = ("127.0.0.1", b_sock.getsockname()[1])
        sender = await RtpSession.open(
            pool().bind(), ("127.0.0.1", relay_port), srtp=SrtpContext(local=a_key, remote=b_key)
        )
        receiver = await RtpSession.open(b_sock, ("127.0.0.1", 9), srtp=SrtpContext(local=b_key, remote=a_key))
        frames: list[AudioFrame] = []
        try:
            sender.send_audio("turn", TONE[:1600])  # 200 ms

            async def read() -> None:
                async for event in receiver.inbound():
                    if isinstance(event, AudioFrame) and event.payload != SILENCE:
                        frames.append(event)
                        if len(frames) == 10:
                            return

            await asyncio.wait_for(read(), 3)
            assert relay.transport is not None
            relay.transport.sendto(relay.seen[-1], relay.dest)  # an eavesdropper replays a packet
            tampered = bytearray(relay.seen[-2])
            tampered[HEADER_SIZE] ^= 0xFF
            relay.transport.sendto(bytes(tampered), relay.dest)  # and forges one
            await asyncio.sleep(0.1)
        finally:
            sender.close()
            receiver.close()
            relay_t.close()
        return relay.seen, frames, receiver

    seen, frames, receiver = asyncio.run(main())
    assert b"".join(f.payload for f in frames) == TONE[:1600]  # the listener hears the audio exactly
    assert seen and all(len(p) == HEADER_SIZE + 160 + AUTH_TAG_BYTES for p in seen)
    for packet in seen:  # the wire never carries a clear frame, of speech or of silence
        payload = packet[HEADER_SIZE:]
        assert SILENCE[:16] not in payload
        assert not any(TONE[i : i + 160] in payload for i in range(0, 1600, 160))
        assert parse_rtp(packet).payload_type == 0  # the header stays routable
    assert receiver.rejected_in == 2  # the replay and the forgery
    assert receiver.srtp is not None and receiver.srtp.rejected == 2
