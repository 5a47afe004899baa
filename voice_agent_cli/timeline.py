"""`voice-agent calls timeline CALL_ID`: one call as a picture a person can read.

Two lanes on a time axis (seconds from the call's start): what the caller said and what the agent
said, from the transcript's `t_ms`; an agent turn the caller cut off is solid up to `heard_ms` and
hatched where it was never heard. Below them, the decisions, one marker each at the moment it was
taken (gate verdicts, tool validations, read-back checks, language, backfill...), barge-ins where
the caller cut in, the closing and the BYE. Under the plot, the record: each field with its value's
source (live, or backfill with the quote's turn). SVG, PNG or HTML (the SVG inside a page).
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voice_agent.decisions import DecisionLine
from voice_agent.record_store import Turn
from voice_agent.record_view import CallRecord

FORMATS = (".svg", ".png", ".html")
_MS_PER_CHAR = 65  # a turn's length when nothing says it: about 15 characters a second of speech
_LANES = {"caller": 3.1, "agent": 1.95}
_DECISION_LANE = 0.9  # the decisions sit under the speech, in a few staggered rows
_DECISION_ROWS = 6
# One color and marker per kind of decision, so the legend reads at a glance.
_STYLE: dict[str, tuple[str, str]] = {
    "end_call_gate": ("#d62728", "s"),
    "tool_validation": ("#1f77b4", "o"),
    "readback": ("#9467bd", "D"),
    "language": ("#8c564b", "P"),
    "provider": ("#e7ba52", "o"),
    "category": ("#17becf", "o"),
    "backfill": ("#2ca02c", "*"),
    "reconcile": ("#2ca02c", "X"),
    "intervention": ("#ff7f0e", "v"),
    "model_session": ("#7f7f7f", "^"),
    "speech": ("#bcbd22", "^"),
    "transcription": ("#e377c2", "x"),
}
_BAD_VERDICTS = {"deny", "reject", "fail", "retry", "drop"}


class TimelineError(ValueError):
    """One line for the user."""


def decision_label(d: DecisionLine) -> str:
    """What a decision's marker says: kind, verdict and what it was about."""
    about = d.field or d.tool or ""
    return f"{d.decision} {d.verdict}" + (f" {about}" if about else "")


def _end_ms(turns: Sequence[Turn], i: int, call_end_ms: int) -> int:
    t = turns[i]
    said = max(600, len(t.text) * _MS_PER_CHAR)
    following = [u.t_ms for u in turns[i + 1 :] if u.speaker == t.speaker and u.t_ms > t.t_ms]
    limit = min([call_end_ms, *following[:1]])
    return max(t.t_ms + 200, min(t.t_ms + said, limit))


def draw(record: CallRecord, turns: Sequence[Turn], decisions: Sequence[DecisionLine]) -> Any:
    """The picture as a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    turns = sorted(turns, key=lambda t: t.seq)
    start = record.started_ms
    call_end_ms = (record.ended_ms - start) if record.ended_ms else max([t.t_ms for t in turns] or [0]) + 3000
    in_call = [((d.ts * 1000) - start) for d in decisions]
    span_s = max([call_end_ms / 1000, *(ms / 1000 for ms in in_call)]) + 2

    fields = sorted(record.fields.items())
    fig_h = 5.8 + 0.26 * len(fields)
    fig = plt.figure(figsize=(max(14.0, min(30.0, span_s / 5)), fig_h))
    ax = fig.add_axes((0.08, 1 - 4.9 / fig_h, 0.74, 4.3 / fig_h))
    ax.set_xlim(-1, span_s)
    ax.set_ylim(-0.55, 3.95)
    ax.set_yticks([_LANES["caller"], _LANES["agent"], _DECISION_LANE], ["caller speech", "agent speech", "decisions"])
    ax.set_xlabel("seconds from the start of the call")
    ax.grid(axis="x", alpha=0.3)
    ended = f", ended by {record.ended_by or '-'} ({record.ended_reason or '-'})" if record.ended_by else ""
    ax.set_title(f"call {record.call_id} · agent {record.agent}{ended}", loc="left", fontsize=11)

    quoted: dict[int, list[str]] = {}  # caller turns a backfilled value quotes -> those fields
    for name, f in record.fields.items():
        if f.source == "backfill" and f.turn_seq is not None:
            quoted.setdefault(f.turn_seq, []).append(name)
    shown_in_lane: dict[str, list[int]] = {}
    for i, t in enumerate(turns):
        y = _LANES.get(t.speaker)
        if y is None:
            continue
        x0, x1 = t.t_ms / 1000, _end_ms(turns, i, call_end_ms) / 1000
        color = "#4c72b0" if t.speaker == "caller" else "#dd8452"
        text = t.text if len(t.text) <= 34 else t.text[:33] + "…"
        if t.speaker == "agent" and t.interrupted:
            heard = (t.heard_ms or 0) / 1000
            cut = x0 + heard
            if heard > 0:
                ax.broken_barh([(x0, heard)], (y - 0.3, 0.6), color=color)
            ax.broken_barh([(cut, max(0.3, x1 - cut))], (y - 0.3, 0.6), facecolor="white", edgecolor=color, hatch="//")
            # A turn cut before its first frame (the call ended, or the caller spoke first) is no barge-in.
            cut_color = "#d62728" if heard > 0 else "#666666"
            if heard > 0:
                ax.axvline(cut, color=cut_color, lw=1, ls="--", alpha=0.8)
            cut_label = f"barge-in: cut at {t.heard_ms} ms" if heard > 0 else "never played"
            late = cut > 0.8 * span_s  # near the right edge the label reads leftwards from the cut
            ax.text(cut, y, f"{cut_label} " if late else f" {cut_label}", fontsize=7, color=cut_color,
                    ha="right" if late else "left", va="center", gid=f"cut-{t.seq}",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})  # fmt: skip
            text = f"[never heard: {text}]" if heard == 0 else text
        else:
            ax.broken_barh([(x0, x1 - x0)], (y - 0.3, 0.6), color=color, alpha=0.35 if t.untranscribed else 0.9)
        # Labels above each lane, on two alternating rows so neighbours do not overwrite each other.
        row = 0.33 + 0.2 * (shown_in_lane.setdefault(t.speaker, [0])[0] % 2)
        shown_in_lane[t.speaker][0] += 1
        # Near the right edge a label ends at its turn's end instead of running out of the plot.
        right = x0 > 0.75 * span_s
        ax.text(x1 if right else x0, y + row, f"{t.seq}: {text}", fontsize=6.5, va="bottom", clip_on=True,
                ha="right" if right else "left", gid=f"turn-{t.seq}")  # fmt: skip
        if t.seq in quoted:
            ax.broken_barh([(x0, x1 - x0)], (y - 0.34, 0.68), facecolor="none", edgecolor="#2ca02c", lw=2)
            ax.text(x0, y - 0.38, "quoted by backfill: " + ", ".join(quoted[t.seq]), fontsize=7, color="#2ca02c",
                    va="top", gid=f"quote-{t.seq}")  # fmt: skip

    seen: set[str] = set()
    # Each label takes the highest row where it does not run into the previous label in that row.
    char_s = span_s / (fig.get_figwidth() * 0.74 * fig.dpi) * 5.2  # seconds of axis one character takes
    row_free_at = [-1e9] * _DECISION_ROWS
    for i, (d, ms) in enumerate(zip(decisions, in_call, strict=True)):
        color, marker = _STYLE.get(d.decision, ("black", "o"))
        x = ms / 1000
        right = x > 0.8 * span_s  # read leftwards near the edge, so the label stays inside the plot
        width = (len(decision_label(d)) + 4) * char_s
        taken_from = x - width if right else x  # the stretch of axis the marker and its label take
        row = next(
            (r for r, free in enumerate(row_free_at) if free <= taken_from),
            min(range(_DECISION_ROWS), key=row_free_at.__getitem__),
        )
        row_free_at[row] = x + char_s if right else x + width
        y = _DECISION_LANE + 0.55 - row * 0.27
        edge = "black" if d.verdict in _BAD_VERDICTS else color
        ax.plot(
            [x], [y], marker=marker, color=color, markeredgecolor=edge, markersize=9, ls="none", gid=f"decision-{i}"
        )
        ax.annotate(decision_label(d), (x, y), xytext=(-6 if right else 6, -3), textcoords="offset points",
                    fontsize=7, ha="right" if right else "left",
                    color="#b00000" if d.verdict in _BAD_VERDICTS else "#222222")  # fmt: skip
        seen.add(d.decision)
        if d.decision == "end_call_gate" and d.verdict == "allow":
            ax.axvline(x, color="#2ca02c", lw=1, ls=":")
            ax.text(x, 3.9, " closing", fontsize=8, color="#2ca02c", va="top")
    ax.axvline(call_end_ms / 1000, color="black", lw=1.5)
    ax.text(call_end_ms / 1000, 3.9, " BYE", fontsize=8, va="top", fontweight="bold")

    handles: list[Any] = [
        Patch(color="#4c72b0", label="caller speech"),
        Patch(color="#dd8452", label="agent speech (heard)"),
        Patch(facecolor="white", edgecolor="#dd8452", hatch="//", label="agent speech never heard"),
        Line2D([], [], color="#d62728", ls="--", label="barge-in (caller cut in)"),
        Line2D([], [], color="black", lw=1.5, label="BYE (call ended)"),
    ]
    handles += [
        Line2D([], [], marker=_STYLE.get(k, ("black", "o"))[1], color=_STYLE.get(k, ("black", "o"))[0], ls="none",
               label=k.replace("_", " "))
        for k in sorted(seen)
    ]  # fmt: skip
    handles.append(
        Line2D(
            [], [], marker="o", color="white", markeredgecolor="black", ls="none", label="black edge: deny/fail/retry"
        )
    )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)

    lines = ["Record (field: value, source)"]
    for name, f in fields:
        if f.status == "missing":
            cand = (
                f" — candidate {f.candidate.value!r} (turn {f.candidate.turn_seq}), unverified" if f.candidate else ""
            )
            lines.append(f"{name}: (missing){cand}")
            continue
        value = f.value if f.status == "value" else "(declined)"
        source = f.source or "live"
        where = f" from turn {f.turn_seq}" if f.turn_seq is not None else ""
        quote = f" quote “{f.quote}”" if source == "backfill" and f.quote else ""
        lines.append(f"{name}: {value} — {source}{where}{quote}")
    if record.missing_required:
        lines.append(f"missing required: {', '.join(record.missing_required)}")
    fig.text(0.08, 1 - 5.45 / fig_h, "\n".join(lines), fontsize=8.5, va="top", family="monospace", gid="record")
    return fig


def write_timeline(record: CallRecord, turns: Sequence[Turn], decisions: Sequence[DecisionLine], out: Path) -> Path:
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise TimelineError(f"{out}: the picture is written as .svg, .png or .html")
    try:
        import matplotlib
    except ImportError:
        raise TimelineError(
            "the picture needs matplotlib: run `make setup` (pip install -r requirements-dev.txt)"
        ) from None
    from matplotlib import pyplot as plt

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "voice-agent"}):  # text stays text
        fig = draw(record, turns, decisions)
        try:
            if out.parent and not out.parent.is_dir():
                raise TimelineError(f"{out.parent}: no such folder")
            if suffix == ".png":
                fig.savefig(out, format="png", dpi=110)
            else:
                buf = io.StringIO()
                fig.savefig(buf, format="svg")
                svg = buf.getvalue()
                if suffix == ".html":
                    title = html.escape(f"call {record.call_id}")
                    head = f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>"
                    svg = f"{head}\n<body>\n{svg}\n</body></html>\n"
                out.write_text(svg, encoding="utf-8")
        except OSError as err:
            raise TimelineError(f"{out}: cannot write ({err.strerror})") from None
        finally:
            plt.close(fig)
    return out
