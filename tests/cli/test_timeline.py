"""`voice-agent calls timeline`: the demo call drawn from its files; every decision, every turn, the
barge-in, the BYE and each field's source are in the picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from voice_agent_cli.timeline import decision_label

from .conftest import Archive, cli

SVG = "{http://www.w3.org/2000/svg}"


def _svg(path: Path) -> tuple[set[str], str]:
    """The ids of the drawn groups, and all the picture's text (one string)."""
    root = ET.parse(path).getroot()
    ids = {el.get("id", "") for el in root.iter(f"{SVG}g")}
    text = "\n".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))
    return ids, text


def test_the_demo_call_as_a_picture(archive: Archive, tmp_path: Path) -> None:
    demo = archive.calls["riverside_demo"]
    out = tmp_path / "call.svg"
    res = cli("calls", "--local", str(archive.root), "timeline", demo.call_id, "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    ids, text = _svg(out)

    for lane in ("caller speech", "agent speech", "decisions", "seconds from the start of the call"):
        assert lane in text
    assert demo.decisions
    for i, d in enumerate(demo.decisions):  # each decision: a marker and its label
        assert f"decision-{i}" in ids, d
        assert decision_label(d) in text, d
    for turn in demo.transcript:
        if turn.speaker != "system":
            assert f"turn-{turn.seq}" in ids and f"{turn.seq}: " in text
    cut = [t for t in demo.transcript if t.speaker == "agent" and t.interrupted and t.heard_ms]
    assert cut, "the demo's caller cuts the agent off"
    for t in cut:
        assert f"barge-in: cut at {t.heard_ms} ms" in text
    assert "BYE" in text and "closing" in text
    for name, f in demo.record.fields.items():
        if f.status == "value":
            assert f"{name}: {f.value} — {f.source}" in text
    for legend in ("caller speech", "agent speech never heard", "barge-in (caller cut in)", "end call gate"):
        assert legend in text


def test_a_backfilled_value_shows_its_quote_and_turn(archive: Archive, tmp_path: Path) -> None:
    call = archive.calls["forgotten_tool_call"]
    dob = call.record.fields["date_of_birth"]
    out = tmp_path / "call.html"
    res = cli("calls", "--local", str(archive.root), "timeline", call.call_id, "--out", str(out))
    assert res.returncode == 0, res.stderr
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert f"date_of_birth: {dob.value} — backfill from turn {dob.turn_seq}" in page
    assert f"quote-{dob.turn_seq}" in page and "quoted by backfill: date_of_birth" in page


def test_png_is_an_image_and_a_bad_extension_is_one_line(archive: Archive, tmp_path: Path) -> None:
    call_id = archive.calls["caller_hang_up"].call_id
    png = tmp_path / "call.png"
    res = cli("calls", "--local", str(archive.root), "timeline", call_id, "--out", str(png))
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000

    res = cli("calls", "--local", str(archive.root), "timeline", call_id, "--out", str(tmp_path / "call.gif"))
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: {tmp_path / 'call.gif'}: the picture is written as .svg, .png or .html"


def test_make_demo_ends_with_the_picture_of_the_demo_call(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from voice_agent_cli.main import _draw_demo_call  # what `voice-agent demo` runs once the files are written

    demo = archive.calls["riverside_demo"]
    monkeypatch.chdir(tmp_path)
    _draw_demo_call(archive.root, demo.call_id)
    picture = archive.root / f"{demo.call_id}.timeline.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"The call as a picture: {picture}" in capsys.readouterr().out


def test_a_turn_never_played_is_no_barge_in_and_late_labels_stay_in_the_plot(archive: Archive) -> None:
    from voice_agent_cli.timeline import draw

    demo = archive.calls["riverside_demo"]
    last = max(demo.transcript, key=lambda t: t.seq)
    goodbye = last.model_copy(
        update={
            "seq": last.seq + 1,
            "t_ms": last.t_ms + 500,
            "speaker": "agent",
            "text": "Goodbye now.",
            "interrupted": True,
            "heard_ms": 0,
        }
    )
    fig = draw(demo.record, [*demo.transcript, goodbye], demo.decisions)
    ax = fig.axes[0]
    red = [line for line in ax.get_lines() if line.get_color() == "#d62728" and line.get_linestyle() == "--"]
    barge_ins = [t for t in demo.transcript if t.speaker == "agent" and t.interrupted and t.heard_ms]
    assert len(red) == len(barge_ins)  # one dashed red line per real barge-in, none for the unplayed goodbye
    texts = {t.get_gid(): t for t in ax.texts}
    assert texts[f"cut-{goodbye.seq}"].get_text().strip() == "never played"
    fig.canvas.draw()
    axis = ax.get_window_extent()
    for text in ax.texts:
        box = text.get_window_extent()
        assert axis.x0 - 1 <= box.x0 and box.x1 <= axis.x1 + 1, text.get_text()  # nothing runs off the plot
    labels = [a for a in ax.get_children() if type(a).__name__ == "Annotation"]
    boxes = [a.get_window_extent() for a in labels]
    for i, a in enumerate(boxes):  # and no two decision labels overwrite each other
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (labels[boxes.index(a)].get_text(), labels[boxes.index(b)].get_text())
