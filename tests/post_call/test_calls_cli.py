"""`voice-agent calls list|show` against the local stack, after a reconciled call."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import pytest

from simulator.local_stack import LocalStack
from voice_agent.agent_registry import AgentRegistry
from voice_agent.archive_store import ArchiveStore
from voice_agent.post_call import Reconciler
from voice_agent.record_store import RecordStore
from voice_agent_cli import calls as calls_cli

from ..conftest import EXAMPLE_SPEC, FakeClock
from .conftest import CountingClient, new_call


def run(local_stack: LocalStack, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="voice-agent")
    calls_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["calls", "--endpoint-url", local_stack.endpoint_url, *argv])
    return int(args.run(args))


@pytest.fixture
def reconciled(
    make_reconciler: Callable[..., Reconciler], llm: CountingClient, store: RecordStore, clock: FakeClock,
    archive: ArchiveStore,
) -> str:  # fmt: skip
    call_id = new_call(store, clock, live=("reason", "caller_name", "callback_number"), archive=archive, archived=True)
    make_reconciler(llm).reconcile(call_id)
    return call_id


def test_show_prints_sources_quotes_transcript_and_decisions(
    local_stack: LocalStack, reconciled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(local_stack, "--spec", str(EXAMPLE_SPEC), "show", reconciled) == 0
    out = capsys.readouterr().out
    assert "reconciliation reconciled" in out
    dob = next(line for line in out.splitlines() if line.strip().startswith("date_of_birth"))
    assert "1985-03-12" in dob and "backfill" in dob and "(turn 5)" in dob
    assert "quote: “It's 3/12/1985.”" in out and "missing required: none" in out
    assert "Transcript (transcripts/date=" in out and "caller It's Maria Lopez, L O P E Z." in out
    assert "backfill       accept  date_of_birth turn 5: structure: the caller's numerals prove the value" in out


def test_show_json_and_list(
    local_stack: LocalStack, reconciled: str, capsys: pytest.CaptureFixture[str], registry: AgentRegistry
) -> None:
    assert run(local_stack, "--json", "show", reconciled) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["missing_required"] == []  # no --spec: the version on the record, from the registry
    assert shown["fields"]["date_of_birth"]["source"] == "backfill" and len(shown["transcript"]) == 9
    assert any(d["decision"] == "backfill" for d in shown["decisions"])
    assert run(local_stack, "list", "--limit", "1000") == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(reconciled))
    assert "ENDED" in row and row.endswith("reconciled")


def test_show_unknown_call_is_one_clear_error(local_stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(local_stack, "show", "CAnobody") == 1
    assert capsys.readouterr().err.strip() == "error: no call CAnobody"
