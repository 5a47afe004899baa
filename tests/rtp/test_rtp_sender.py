"""The outgoing buffer and the paced sender, sans-I/O with a fake clock."""

from __future__ import annotations

import random
from pathlib import Path

from realtime_bridge.rtp.packet import parse_rtp
from realtime_bridge.rtp.playout import PlayoutBuffer
from realtime_bridge.rtp.sender import RtpSender

TONE = (Path(__file__).resolve().parents[1] / "fixtures" / "rtp" / "caller_tone.ulaw").read_bytes()


def sender(seq: int = 65534, ts: int = 2**32 - 320) -> RtpSender:
    return RtpSender(PlayoutBuffer(), ssrc=0x11223344, sequence=seq, timestamp=ts)


def test_playout_frames_items_and_counts_ms_per_item() -> None:
    buf = PlayoutBuffer()
    buf.push("a", TONE[:250])
    buf.push("b", TONE[250:400])
    frame = bytearray(160)
    view = memoryview(frame)
    assert buf.fill_frame(view) == 160 and bytes(frame) == TONE[:160]
    assert buf.fill_frame(view) == 160 and bytes(frame) == TONE[160:320]  # crosses from a into b
    assert (buf.played_ms("a"), buf.played_ms("b")) == (250 // 8, 70 // 8)
    assert buf.fill_frame(view) == 80 and bytes(frame) == TONE[320:400] + b"\xff" * 80
    assert buf.fill_frame(view) == 0 and bytes(frame) == b"\xff" * 160
    assert buf.played_ms("b") == 150 // 8 and buf.played_ms("never") == 0


def test_clear_drops_everything_and_reports_ms_sent_per_cut_item() -> None:
    buf = PlayoutBuffer()
    buf.push("a", TONE[:800])
    buf.push("b", TONE[800:1600])
    frame = memoryview(bytearray(160))
    for _ in range(3):
        buf.fill_frame(frame)
    assert buf.clear() == {"a": 60, "b": 0}
    assert buf.queued_bytes == 0 and buf.fill_frame(frame) == 0
    assert buf.played_ms("a") == 60  # still answerable after the clear


def test_idle_stream_sends_silence_every_20ms_with_continuous_seq_and_ts() -> None:
    s = sender()
    s.start(100.0)
    packets, dues = [], []
    for _ in range(5):
        due = s.due()
        assert due is not None
        dues.append(round(due - 100.0, 6))
        packets.append(parse_rtp(bytes(s.frame(due))))
    assert dues == [0.0, 0.02, 0.04, 0.06, 0.08]
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1, 2]  # wraps
    assert [p.timestamp for p in packets] == [2**32 - 320, 2**32 - 160, 0, 160, 320]
    assert all(p.payload == b"\xff" * 160 and not p.marker and p.ssrc == 0x11223344 for p in packets)
    assert s.due() == 100.0 + 5 * 0.02


def test_talkspurt_starts_the_moment_audio_arrives() -> None:
    s = sender(seq=10, ts=1000)
    s.start(0.0)
    s.frame(0.0)  # silence at t=0, ts 1000
    s.frame(0.02)  # silence at t=20ms, ts 1160
    s.playout.push("item", TONE[:480])
    assert s.should_start_talkspurt()
    first = parse_rtp(bytes(s.frame(0.027, talkspurt_now=True)))  # 7 ms after the last tick
    assert first.marker and first.sequence == 12
    assert first.timestamp == 1160 + 56  # advanced by the 56 samples that elapsed
    assert first.payload == TONE[:160]
    assert s.due() == 0.027 + 0.02  # the pacing clock re-anchored on the first audio
    second = parse_rtp(bytes(s.frame(0.047)))
    third = parse_rtp(bytes(s.frame(0.067)))
    assert not second.marker and second.timestamp == first.timestamp + 160 and second.payload == TONE[160:320]
    assert third.payload == TONE[320:480] and not s.should_start_talkspurt()
    idle = parse_rtp(bytes(s.frame(0.087)))
    assert idle.payload == b"\xff" * 160 and not idle.marker
    s.playout.push("next", TONE[:160])
    again = parse_rtp(bytes(s.frame(0.090, talkspurt_now=True)))
    assert again.marker and again.timestamp == idle.timestamp + 24  # 3 ms later: 24 samples
    assert s.playout.played_ms("item") == 60


def test_audio_arriving_at_a_tick_in_a_talkspurt_does_not_restart_it() -> None:
    s = sender()
    s.start(0.0)
    s.playout.push("x", TONE[:160])
    first = parse_rtp(bytes(s.frame(0.0, talkspurt_now=True)))
    s.playout.push("x", TONE[160:320])
    assert not s.should_start_talkspurt()  # still talking: wait for the tick
    second = parse_rtp(bytes(s.frame(0.02)))
    assert first.marker and not second.marker and second.timestamp - first.timestamp == 160


def test_a_stalled_loop_reanchors_instead_of_bursting() -> None:
    s = sender(ts=0)
    s.start(0.0)
    s.frame(0.0)
    late = parse_rtp(bytes(s.frame(0.5)))  # the tick due at 20 ms ran at 500 ms
    assert late.timestamp == 4000  # timestamps follow real time
    assert s.due() == 0.52  # one frame per 20 ms from now, not 24 frames at once


def test_timestamps_follow_the_clock_across_talkspurts_however_late_the_ticks_run() -> None:
    """Timestamp-vs-arrival drift: a far end's jitter buffer maps timestamps to play times, so a
    stream whose timestamps fall behind the clock a little more at every talkspurt is heard as
    gaps. Late ticks must stay jitter (bounded by how late they are), never accumulate."""
    rng = random.Random(7)
    s = sender(ts=123_456)
    s.start(0.0)
    now, lateness_s = 0.0, 0.005
    markers, worst = 0, 0.0
    for spurt in range(200):  # ~ 200 turns of a call: silence, then a burst of agent audio
        for _ in range(rng.randint(3, 40)):  # silence ticks, each run up to 5 ms late
            due = s.due()
            assert due is not None
            now = max(now, due + rng.uniform(0, lateness_s))
            packet = parse_rtp(bytes(s.frame(now)))
            worst = max(worst, _behind_s(packet.timestamp, now))
            assert not packet.marker
        now += rng.uniform(0.0005, 0.019)  # the answer's first audio, between ticks
        s.playout.push(f"item-{spurt}", TONE[: 160 * rng.randint(1, 6)])
        assert s.should_start_talkspurt()
        first = parse_rtp(bytes(s.frame(now, talkspurt_now=True)))
        markers += first.marker
        assert _behind_s(first.timestamp, now) < 1 / 8000  # the first frame is stamped with the clock
        while not s.idle:
            due = s.due()
            assert due is not None
            now = max(now, due + rng.uniform(0, lateness_s))
            packet = parse_rtp(bytes(s.frame(now)))
            assert not packet.marker
            worst = max(worst, _behind_s(packet.timestamp, now))
    assert markers == 200  # a marker on every talkspurt's first frame, on no other
    assert 0 <= worst <= lateness_s + 1 / 8000  # 200 talkspurts later, no more than one tick's lateness


def _behind_s(timestamp: int, now: float, ts0: int = 123_456) -> float:
    """How far a packet's timestamp is behind the clock (the sender started at 0.0 with ts0)."""
    elapsed = (timestamp - ts0) % 2**32
    return now - elapsed / 8000
