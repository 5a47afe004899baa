"""The sans-I/O caller against the sans-I/O UAS, wired back to back in memory."""

from __future__ import annotations

from realtime_bridge.sip.build import Peer
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.events import CallAnswered, CallEnded, CallOffered, EndReason, Output, Transmit
from realtime_bridge.sip.uac import Answered, Failed, Hungup, Ringing, UacCall, UacOutput, UacState
from realtime_bridge.sip.uas import UasCore

BRIDGE = Peer("127.0.0.1", 5060, "udp")
CALLER = Peer("127.0.0.1", 5070, "udp")


class Pair:
    def __init__(self) -> None:
        config = SipConfig(voice_connector_id="vc-1", t1=0.5)
        self.uas = UasCore(config, contact_host="127.0.0.1", contact_port=5060)
        self.uac = UacCall(
            target=BRIDGE,
            callee="+15557654321",
            caller="+15551230000",
            local_host="127.0.0.1",
            local_port=5070,
            media_host="127.0.0.1",
            media_port=40000,
            extra_headers=[("X-VoiceConnector-ID", "vc-1")],
        )
        self.uas_events: list[Output] = []
        self.uac_events: list[UacOutput] = []
        self.now = 0.0

    def to_uas(self, outputs: list[UacOutput]) -> None:
        for out in outputs:
            if isinstance(out, Transmit):
                assert out.dest == BRIDGE
                self.to_uac(self.uas.receive(out.data, CALLER, self.now))
            else:
                self.uac_events.append(out)

    def to_uac(self, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, Transmit):
                assert out.dest == CALLER
                self.to_uas(self.uac.receive(out.data, BRIDGE, self.now))
            else:
                self.uas_events.append(out)


def connected() -> tuple[Pair, str]:
    p = Pair()
    p.to_uas(p.uac.invite(0.0))
    (offer,) = [e for e in p.uas_events if isinstance(e, CallOffered)]
    assert offer.call.voice_connector_id == "vc-1" and offer.call.remote_media.port == 40000
    assert p.uac_events == [Ringing()]
    p.to_uac(p.uas.answer(offer.call.call_id, 10002, 0.1))
    return p, offer.call.call_id


def test_call_answer_and_caller_hangs_up() -> None:
    p, call_id = connected()
    (answered,) = [e for e in p.uac_events if isinstance(e, Answered)]
    assert answered.remote_media.port == 10002 and answered.remote_media.telephone_event_pt == 101
    assert CallAnswered(call_id) in p.uas_events  # the caller's ACK reached the dialog
    assert p.uac.state is UacState.CONFIRMED
    p.to_uas(p.uac.hang_up(1.0))
    assert p.uas_events[-1] == CallEnded(call_id, EndReason.REMOTE_BYE)
    assert p.uac_events[-1] == Hungup(by_remote=False) and p.uac.state is UacState.ENDED


def test_bridge_hangs_up() -> None:
    p, call_id = connected()
    p.to_uac(p.uas.hang_up(call_id, 1.0))
    assert p.uac_events[-1] == Hungup(by_remote=True)
    assert p.uas_events[-1] == CallEnded(call_id, EndReason.LOCAL_BYE)
    assert p.uas.state(call_id) is None


def test_cancel_while_ringing() -> None:
    p = Pair()
    p.to_uas(p.uac.invite(0.0))
    p.to_uas(p.uac.cancel(0.5))
    assert p.uac_events[-1] == Failed(487)
    assert isinstance(p.uas_events[-1], CallEnded) and p.uas_events[-1].reason is EndReason.CANCELLED
    assert p.uas.next_deadline() is None or p.uas.on_timer(p.uas.next_deadline() or 0) == []  # ACKed


def test_lost_invite_is_retransmitted_with_timer_a_then_times_out() -> None:
    uac = Pair().uac
    uac.invite(0.0)
    resent = []
    while uac.state is not UacState.ENDED:
        deadline = uac.next_deadline()
        assert deadline is not None
        out = uac.on_timer(deadline)
        resent += [round(deadline, 3) for o in out if isinstance(o, Transmit)]
    assert resent[:4] == [0.5, 1.5, 3.5, 7.5]
    assert uac.on_timer(100) == [] and uac.state is UacState.ENDED
