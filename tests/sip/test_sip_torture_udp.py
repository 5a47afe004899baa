"""Every RFC 4475/5118 torture message over real loopback UDP to a running SipServer, while a
call is up: each gets the answer in ``torture_table``, none reaches the call handler unless
the RFC calls it a valid INVITE, and the call in progress carries on (media, then BYE).

The messages are sent as they are. Their Via headers name no rport, so RFC 3261 18.2.2 sends
the replies to the source address at the sent-by port (5060 when none is given): the test
sends from 127.0.0.77:5060 and also listens on the other sent-by ports the fixtures name.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import pytest

from realtime_bridge.sip.build import Peer, scan_request
from realtime_bridge.sip.events import CallInfo, EndReason
from realtime_bridge.sip.fields import parse_cseq
from realtime_bridge.sip.message import Headers, SipParseError, SipRequest, SipResponse, parse_message, serialize
from realtime_bridge.sip.server import Decision, Reject, SipServer
from simulator.caller_sip import CallerSipLeg
from tests.sip.sipp_harness import RecordingHandler, bridge_config, open_sink
from tests.sip.torture_table import CALL, TABLE, Torture

TORTURER = "127.0.0.77"  # a loopback address of its own, so port 5060 is free to bind
SENT_BY_PORTS = (5060, 5050, 6050, 19823)  # ports the fixtures' top Via values name (5060 implied)
QUIET = 0.3  # how long to listen for a reply that must not come


@dataclass
class OnlyOurCall(RecordingHandler):
    """Answers the test's own call; declines anything else the RFCs call a valid INVITE."""

    ours: str = ""
    declined: list[str] = field(default_factory=list)

    async def on_offer(self, call: CallInfo) -> Decision:
        if call.call_id == self.ours:
            return await super().on_offer(call)
        self.offers.append(call)
        self.declined.append(call.call_id)
        return Reject(603)


class Inbox(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[SipResponse]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = parse_message(data)
        except SipParseError as exc:  # the bridge must only ever send well-formed SIP
            raise AssertionError(f"unparseable reply from the bridge: {exc}") from None
        assert isinstance(message, SipResponse), "the bridge sent a request to the torturer"
        self.queue.put_nowait(message)


async def final_for(queue: asyncio.Queue[SipResponse], row: Torture, timeout: float) -> SipResponse | None:
    """The first final response to ``row``'s request (matched on Call-ID and CSeq), or None."""
    sent = _head(row.data)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        try:
            resp = await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            return None
        if resp.status >= 200 and all(resp.headers.get(n) == sent.get(n) for n in ("call-id", "cseq")):
            return resp
    return None


def _head(data: bytes) -> Headers:
    request = scan_request(data)
    return request.headers if request is not None else Headers()


def ack_for(row: Torture, resp: SipResponse) -> bytes:
    """The ACK a client sends for a non-2xx final to its INVITE (RFC 3261 17.1.1.3)."""
    invite = parse_message(row.data)
    assert isinstance(invite, SipRequest)
    headers = Headers()
    headers.add("Via", invite.headers.values("via")[0])
    for name in ("From", "To", "Call-ID"):
        headers.add(name, (resp if name == "To" else invite).headers.get(name) or "")
    headers.add("CSeq", f"{parse_cseq(invite.headers.get('cseq')).number} ACK")
    headers.add("Max-Forwards", "70")
    headers.add("Content-Length", "0")
    return serialize(SipRequest("ACK", invite.uri, headers))


def test_torture_over_udp_never_disturbs_the_call_in_progress() -> None:
    try:
        probes = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in SENT_BY_PORTS]
        for probe, port in zip(probes, SENT_BY_PORTS, strict=True):
            probe.bind((TORTURER, port))
    except OSError as exc:
        pytest.skip(f"cannot bind {TORTURER} on the fixtures' Via ports: {exc}")
    finally:
        for probe in probes:
            probe.close()

    async def main() -> None:
        handler = OnlyOurCall()
        server = SipServer(bridge_config(check_voice_connector_id=False), handler, public_ip="127.0.0.1")
        await server.start()
        loop = asyncio.get_running_loop()
        sink_transport, sink = await open_sink(0)
        sink_port = sink_transport.get_extra_info("sockname")[1]
        queue: asyncio.Queue[SipResponse] = asyncio.Queue()
        inboxes = [
            (await loop.create_datagram_endpoint(lambda: Inbox(queue), local_addr=(TORTURER, port)))[0]
            for port in SENT_BY_PORTS
        ]
        sender = inboxes[0]  # 127.0.0.77:5060
        leg = CallerSipLeg(
            target=Peer("127.0.0.1", server.sip_port, "udp"),
            local_host="127.0.0.1",
            callee="+15557654321",
            caller="+15551230000",
            media_port=sink_port,
            extra_headers=[],
            t1=0.1,
            on_change=lambda: None,
        )
        try:
            await leg.open()
            handler.ours = leg.call_id
            leg.invite()
            assert not isinstance(await asyncio.wait_for(leg.outcome, 5), int)
            await asyncio.wait_for(handler.answered_event.wait(), 5)
            (_, media) = handler.answered[0]

            answers: dict[str, int | str | None] = {}
            for row in TABLE:
                sender.sendto(row.data, ("127.0.0.1", server.sip_port))
                expect_reply = row.outcome is not None
                resp = await final_for(queue, row, 3.0 if expect_reply else QUIET)
                answers[row.name] = resp.status if resp is not None else None
                if resp is not None and row.outcome == CALL:
                    answers[row.name] = CALL if resp.status == 603 else resp.status
                if resp is not None and _is_invite(row) and resp.status >= 300:
                    sender.sendto(ack_for(row, resp), ("127.0.0.1", server.sip_port))

            assert answers == {row.name: row.outcome for row in TABLE}
            # Only the valid INVITEs reached the handler (and were declined); the rest never did.
            valid_invites = sorted(_head(r.data).get("call-id") or "" for r in TABLE if r.outcome == CALL)
            assert sorted(handler.declined) == valid_invites
            assert [c.call_id for c in handler.offers if c.call_id == leg.call_id] == [leg.call_id]
            assert [reason for cid, reason in handler.ended if cid == leg.call_id] == []

            # The call is intact: confirmed, its media still flows, and it ends cleanly.
            assert str(server.core.state(leg.call_id)) == "confirmed"
            before = len(sink.packets)
            media.send_audio("after-torture", b"\xff" * 1600)
            await asyncio.sleep(0.3)
            assert len(sink.packets) - before >= 5
            leg.hang_up()
            assert await asyncio.wait_for(leg.hungup, 5) is False
            await asyncio.wait_for(server.wait_idle(), 5)
            assert (leg.call_id, EndReason.REMOTE_BYE) in handler.ended
        finally:
            leg.close()
            for inbox in inboxes:
                inbox.close()
            sink_transport.close()
            await server.close()

    asyncio.run(main())


def _is_invite(row: Torture) -> bool:
    try:
        message = parse_message(row.data)
    except SipParseError:
        return False
    return isinstance(message, SipRequest) and message.method == "INVITE"
