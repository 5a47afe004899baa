"""The load benches' arithmetic: tags survive as audio, and the RTP statistics mean what they say."""

from __future__ import annotations

import sys

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from load_harness import KIND_ANSWER, Arrival, Tag, pct, stream_stats

FRAME_NS = 20_000_000


def test_a_tag_is_found_in_a_frame_even_behind_other_audio() -> None:
    tag = Tag(KIND_ANSWER, 199, 4097)
    frame = tag.frame()
    assert len(frame) == 160 and Tag.find(frame) == tag
    assert Tag.find(b"\xff" * 40 + frame[:120]) == tag  # a tag that starts mid-frame
    assert Tag.find(b"\xff" * 160) is None  # silence carries none


def _stream(n: int, *, gap_after: int | None = None, gap_ms: int = 0, ts_follow_clock: bool = True) -> list[Arrival]:
    out, t, ts = [], 1_000_000_000_000, 1000
    for i in range(n):
        if gap_after is not None and i == gap_after:
            t += gap_ms * 1_000_000
            if ts_follow_clock:
                ts += gap_ms * 8
        out.append(Arrival(t, (65530 + i) % 65536, ts % 2**32, None))  # sequence numbers wrap
        t += FRAME_NS
        ts += 160
    return out


def test_a_perfect_stream_has_no_jitter_drift_or_loss_across_sequence_wrap() -> None:
    s = stream_stats(_stream(100))
    assert s.received == 100 and s.lost == 0
    assert max(s.jitter_ms) < 1e-6 and max(s.drift_ms) < 1e-6


def test_timestamps_that_ignore_a_silence_gap_show_as_drift_not_when_they_follow_the_clock() -> None:
    following = stream_stats(_stream(100, gap_after=50, gap_ms=500))
    frozen = stream_stats(_stream(100, gap_after=50, gap_ms=500, ts_follow_clock=False))
    assert max(following.drift_ms) < 1e-6
    assert abs(max(frozen.drift_ms) - 500) < 1e-6  # the far end's jitter buffer hears 500 ms late


def test_a_missing_packet_is_lost() -> None:
    arrivals = _stream(50)
    del arrivals[20]
    assert stream_stats(arrivals).lost == 1


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (pct(values, 50), pct(values, 99), pct(values, 100)) == (50, 99, 100)
    assert pct([], 50) is None


def test_repeated_runs_are_reduced_to_the_median_of_every_figure() -> None:
    from bridge_load import median_of

    runs = [
        {"calls": 100, "event_loop": "uvloop", "cpu_s_per_call_minute": cpu, "ingress_ms": {"p99": p99, "n": 9}}
        for cpu, p99 in ((0.15, 7.0), (0.12, 9.5), (0.13, None))
    ]
    merged = median_of(runs)
    assert merged["cpu_s_per_call_minute"] == 0.13 and merged["calls"] == 100 and merged["event_loop"] == "uvloop"
    assert merged["ingress_ms"] == {"p99": 8.25, "n": 9}  # the runs that have the figure
    assert median_of(runs[:1]) is runs[0]


def test_an_answer_that_queued_behind_other_audio_is_told_apart() -> None:
    from bridge_load import _line_busy
    from load_harness import KIND_TOOL_ANSWER

    ms = 1_000_000
    tagged = [(100 * ms, KIND_TOOL_ANSWER, 4), (300 * ms, KIND_TOOL_ANSWER, 4), (310 * ms, KIND_ANSWER, 5)]
    assert _line_busy(tagged, 250 * ms, 310 * ms, 5)  # the tool round's follow-up played in between
    assert not _line_busy(tagged, 305 * ms, 310 * ms, 5)  # sent once the line was idle: its own frame only


def test_the_table_shows_the_ratio_of_both_targets_run_at_once_beside_the_runs_alone() -> None:
    from bridge_load import render

    def alone(cpu: float) -> dict[str, object]:
        return {
            "calls": 100,
            "event_loop": "uvloop",
            "onsets": 900,
            "steady_window_s": 20.0,
            "cpu_s_per_call_minute": cpu,
        }

    paired = [
        {"calls": 100, "window_s": 21.0, "null": null, "ours": ours, "ratio": round(ours / null, 3)}
        for null, ours in ((0.130, 0.150), (0.140, 0.154), (0.120, 0.141))
    ]
    text = render({"null": alone(0.12), "ours": alone(0.18), "paired": paired}, (150.0, 350.0))
    row = next(line for line in text.splitlines() if line.startswith("CPU s / call-minute, both at once"))
    assert row.split()[-3:] == ["0.15", "0.13", "1.15x"]  # medians of each target, then their ratio
    assert "both at once, CPU ratio per run: 1.15x, 1.10x, 1.18x" in text
    alone_row = next(line for line in text.splitlines() if line.startswith("CPU s / call-minute, alone"))
    assert alone_row.split()[-1] == "1.50x"  # the runs alone are still shown as measured


def test_latency_measured_with_both_targets_at_once_is_shown_with_each_runs_gap() -> None:
    from bridge_load import render

    def run(ingress_p99: float) -> dict[str, object]:
        return {"ingress_ms": {"p99": ingress_p99}, "egress_ms": {"p99": 2.0}, "onsets_lost": 0}

    alone = {"calls": 100, "event_loop": "uvloop", "onsets": 900, "steady_window_s": 20.0}
    paired = [
        {"null": 0.13, "ours": 0.13, "ratio": 1.0, "ours_run": run(ours), "null_run": run(null)}
        for ours, null in ((1.5, 3.0), (1.2, 3.4), (2.0, 2.5))
    ]
    text = render({"null": alone, "ours": alone, "paired": paired}, (150.0, 350.0))
    row = next(line for line in text.splitlines() if line.startswith("ingress p99 ms, both at once"))
    assert row.split()[-3:] == ["1.5", "3.0", "0.50x"]  # the median of each target over the runs
    assert "ingress p99 ours - null per run: -1.50 ms, -2.20 ms, -0.50 ms" in text
