"""`voice-agent calls` on the files `make demo` and `voice-agent simulate` write: no stack running.
And the command line itself: it starts without the simulator (the production image has none)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..conftest import ROOT
from .conftest import Archive, cli


def test_list_shows_every_call_most_recent_first(archive: Archive) -> None:
    res = cli("calls", "--local", str(archive.root), "list")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["CALL_ID", "STARTED", "STATUS", "ENDED", "MISSING"]
    listed = [line.split()[0] for line in lines[1:]]
    by_start = sorted(archive.calls.values(), key=lambda c: c.record.started_ms, reverse=True)
    assert listed == [c.call_id for c in by_start]
    hang_up = next(line for line in lines if line.startswith(archive.calls["caller_hang_up"].call_id))
    assert "caller:" in hang_up and "callback_number" in hang_up


def test_show_prints_record_sources_quotes_transcript_and_decisions(archive: Archive) -> None:
    call = archive.calls["forgotten_tool_call"]
    res = cli("calls", "--local", str(archive.root), "show", call.call_id)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    dob = call.record.fields["date_of_birth"]
    row = next(line for line in out.splitlines() if line.strip().startswith("date_of_birth"))
    assert dob.value in row and "backfill" in row and f"(turn {dob.turn_seq})" in row
    assert f"quote: “{dob.quote}”" in out
    assert "Transcript (" in out and "transcripts/date=" in out
    for turn in call.transcript:
        assert turn.text in out
    assert "\nDecisions\n" in out and "backfill" in out.split("\nDecisions\n")[1]
    assert "missing required: none" in out


def test_show_json_is_the_archived_call(archive: Archive) -> None:
    call = archive.calls["riverside_demo"]
    res = cli("calls", "--local", str(archive.root), "--json", "show", call.call_id)
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert shown["record"]["call_id"] == call.call_id
    assert [t["seq"] for t in shown["transcript"]] == [t.seq for t in call.transcript]
    assert len(shown["decisions"]) == len(call.decisions)


def test_unknown_call_and_missing_folder_are_one_line_errors(archive: Archive, tmp_path: Path) -> None:
    res = cli("calls", "--local", str(archive.root), "show", "CAnobody")
    assert res.returncode == 1 and res.stderr.strip() == f"error: no call CAnobody in {archive.root}"
    res = cli("calls", "--local", str(tmp_path / "nothing"), "list")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith(f"error: {tmp_path / 'nothing'}: no such folder") and "Traceback" not in res.stderr


def test_the_command_line_runs_without_the_simulator_as_in_the_image(tmp_path: Path) -> None:
    """The production image copies voice_agent, voice_agent_cli and realtime_bridge, not simulator/."""
    code = (
        "import sys; sys.modules['simulator'] = None\n"  # any import of it now fails
        "from voice_agent_cli.main import build_parser, main\n"
        "build_parser().parse_args(['serve'])\n"
        f"sys.exit(main(['calls', '--local', {str(tmp_path)!r}, 'list']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"no calls in {tmp_path}"
    dockerfile = (ROOT / "realtime_bridge" / "Dockerfile").read_text()
    assert "COPY voice_agent_cli ./voice_agent_cli" in dockerfile and "COPY simulator" not in dockerfile


def test_the_reaper_lambda_never_loads_the_openai_sdk() -> None:
    code = (
        "import os, sys\n"
        "os.environ.update(CALLS_TABLE='t', ARCHIVE_BUCKET='b', EVENT_BUS_NAME='e', AWS_DEFAULT_REGION='us-east-1',"
        " AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x', POWERTOOLS_METRICS_NAMESPACE='t')\n"
        "import functions.reaper.handler\n"
        "print('openai' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_simulate_writes_the_files_calls_reads(tmp_path: Path) -> None:
    out = tmp_path / "archive"
    res = cli("simulate", "scenarios/model_refuse_connect.yaml", "--out", str(out))  # a short call: no model
    assert res.returncode == 0, res.stderr
    [record] = list(out.glob("records/date=*/*.json"))
    call_id = record.stem
    assert "Files (the same layout as the S3 archive):" in res.stdout and call_id in res.stdout
    for kind, ext in (("transcripts", "jsonl"), ("decisions", "jsonl")):
        assert (record.parent.parent.parent / kind / record.parent.name / f"{call_id}.{ext}").is_file()
    listed = cli("calls", "--local", str(out), "list")
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].startswith(call_id)
    assert "system:" in listed.stdout.splitlines()[1]
