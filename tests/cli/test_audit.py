"""`voice-agent audit`: every auditors' query, run locally by DuckDB over the files simulated calls
wrote, answers what the calls did. The same SQL is what the audit stack saves in Athena
(tests/stacks/test_behaviour.py compares them)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest

from voice_agent.audit import load_queries
from voice_agent_cli.main import main

from .conftest import Archive, cli

ALL = {
    "backfilled_fields",
    "gate_denials",
    "caller_hangups_missing_fields",
    "cost_per_call_by_day",
    "post_call_writes",
    "readback_failures",
    "ended_by_system",
    "call_decisions",
    "cost_by_agent",
    "agent_calls",
}


def answer(archive: Archive, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["audit", *args, "--local", str(archive.root), "--format", "json"]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows


def test_every_query_runs_on_the_local_files(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    assert set(load_queries()) == ALL
    demo_id = archive.calls["riverside_demo"].call_id
    for name, query in load_queries().items():
        params = [demo_id] if query.parameters else []
        assert main(["audit", name, *params, "--local", str(archive.root)]) == 0, name
        out = capsys.readouterr().out
        assert out.splitlines()[-1].endswith(("row)", "rows)")), (name, out)


def test_backfilled_fields_and_post_call_writes_name_the_quote(
    archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    call = archive.calls["forgotten_tool_call"]
    backfilled = {n: f for n, f in call.record.fields.items() if f.source == "backfill"}
    assert "date_of_birth" in backfilled  # what the scenario is there to prove

    rows = answer(archive, capsys, "backfilled_fields")
    assert {(r["call_id"], r["field"]) for r in rows} == {(call.call_id, n) for n in backfilled}
    dob = next(r for r in rows if r["field"] == "date_of_birth")
    assert (dob["value"], dob["quote"], dob["quote_turn"]) == (
        backfilled["date_of_birth"].value,
        backfilled["date_of_birth"].quote,
        backfilled["date_of_birth"].turn_seq,
    )
    assert dob["call_date"] == dt.datetime.fromtimestamp(call.record.started_ms / 1000, dt.UTC).date().isoformat()

    writes = answer(archive, capsys, "post_call_writes")
    values = [w for w in writes if w["written_as"] == "value"]
    assert [(w["call_id"], w["field"], w["quote"]) for w in values] == [
        (r["call_id"], r["field"], r["quote"]) for r in rows
    ]
    assert all(w["quote"] for w in writes)


def test_gate_denials_and_readback_failures_are_the_demo_calls(
    archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = archive.calls["riverside_demo"]
    denials = [
        d for c in archive.calls.values() for d in c.decisions if d.decision == "end_call_gate" and d.verdict == "deny"
    ]
    assert demo.call_id in {d.call_id for d in denials}  # the demo's model tries to end the call early
    rows = answer(archive, capsys, "gate_denials")
    assert sorted((r["call_id"], r["reason"]) for r in rows) == sorted((d.call_id, d.reason) for d in denials)
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)  # the latest first
    assert all(r["missing"] for r in rows)  # what was still missing when it tried

    rows = answer(archive, capsys, "readback_failures")
    assert rows and {(r["call_id"], r["field"]) for r in rows} == {(demo.call_id, "callback_number")}
    assert rows[0]["verdict"] in ("retry", "fail") and rows[0]["heard"].startswith("<")  # masked, never the digits


def test_hang_ups_and_system_endings(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    hang_up, refused = archive.calls["caller_hang_up"], archive.calls["model_refuse_connect"]
    rows = answer(archive, capsys, "caller_hangups_missing_fields")
    assert [r["call_id"] for r in rows] == [hang_up.call_id]
    assert (
        rows[0]["missing_required"] == hang_up.record.missing_required
        and "callback_number" in rows[0]["missing_required"]
    )

    rows = answer(archive, capsys, "ended_by_system")
    assert [(r["call_id"], r["ended_reason"]) for r in rows] == [(refused.call_id, refused.record.ended_reason)]


def test_cost_per_day_and_one_calls_decisions_in_order(archive: Archive, capsys: pytest.CaptureFixture[str]) -> None:
    calls = list(archive.calls.values())
    days = {dt.datetime.fromtimestamp(c.record.started_ms / 1000, dt.UTC).date().isoformat() for c in calls}
    rows = answer(archive, capsys, "cost_per_call_by_day")
    assert {r["call_date"] for r in rows} == days
    assert sum(r["calls"] for r in rows) == len(calls)
    costs = [c.record.cost_usd for c in calls if c.record.cost_usd is not None]
    assert costs and sum(r["total_usd"] or 0 for r in rows) == pytest.approx(sum(costs), abs=1e-3)

    demo = archive.calls["riverside_demo"]
    rows = answer(archive, capsys, "call_decisions", demo.call_id)
    expected = sorted(demo.decisions, key=lambda d: d.ts)
    assert [(r["decision"], r["verdict"], r["reason"]) for r in rows] == [
        (d.decision, d.verdict, d.reason) for d in expected
    ]
    assert answer(archive, capsys, "call_decisions", "CAnobody") == []


def test_csv_output_and_the_list_of_queries(archive: Archive) -> None:
    listed = cli("audit")
    assert listed.returncode == 0, listed.stderr
    for name in ALL:
        assert name in listed.stdout
    assert "call_decisions CALL_ID" in listed.stdout

    res = cli("audit", "readback_failures", "--local", str(archive.root), "--format", "csv")
    assert res.returncode == 0, res.stderr
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    assert table and table[0]["field"] == "callback_number"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_query"], "error: no query 'no_such_query'; the queries are: "),
        (["call_decisions"], "error: call_decisions takes CALL_ID, got 0"),
        (["gate_denials", "--local", "/nonexistent/archive"], "error: /nonexistent/archive: no such folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    res = cli("audit", *args)
    assert res.returncode == 2
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith(message)


def test_an_empty_archive_answers_no_rows(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "gate_denials", "--local", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


class FakeAthena:
    """Athena's API shape, in memory: what `--athena` sends, and a result set to page through."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.polls = 0

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.polls += 1
        return {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}

    def get_paginator(self, name: str) -> Any:
        assert name == "get_query_results"
        header = {"Data": [{"VarCharValue": "at"}, {"VarCharValue": "decision"}]}
        row = {"Data": [{"VarCharValue": "2026-12-06 20:51:00.967"}, {"VarCharValue": "end_call_gate"}]}
        page = {"ResultSet": {"ResultSetMetadata": {"ColumnInfo": [{"Name": "at"}, {"Name": "decision"}]},
                              "Rows": [header, row]}}  # fmt: skip
        return type("P", (), {"paginate": lambda self, **kw: iter([page])})()


def test_athena_runs_the_same_sql_text_with_quoted_parameters() -> None:
    from voice_agent_cli.audit import run_athena

    athena = FakeAthena()
    query = load_queries()["call_decisions"]
    columns, rows = run_athena(query, ["CA'x"], "voice-agent-audit", "voice_agent", client=athena)
    (sent,) = athena.started
    assert sent["QueryString"] == query.sql
    assert sent["WorkGroup"] == "voice-agent-audit" and sent["QueryExecutionContext"] == {"Database": "voice_agent"}
    assert sent["ExecutionParameters"] == ["'CA''x'"]
    assert columns == ["at", "decision"] and rows == [("2026-12-06 20:51:00.967", "end_call_gate")]
