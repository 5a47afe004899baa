"""`voice-agent audit [QUERY] [PARAM...] [--local DIR | --athena]`: the auditors' queries.

The queries are the SQL files in voice_agent/audit/queries/, the same text the audit stack saves
as Athena named queries. `--local DIR` (the default, `.local/demo`) runs them with DuckDB over the
archive files in the S3 layout that `make demo` and `voice-agent simulate` write; `--athena` runs
them in the deployed workgroup. Without QUERY it lists the queries.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voice_agent.audit import PARTITION_COLUMN, TABLE_COLUMNS, AuditQuery, load_queries

from .local_archive import DEFAULT_LOCAL_DIR

# Trino (Athena engine 3) functions the queries use, under DuckDB's names. Only these differ; the
# rest of the SQL (map subscripts, struct fields, UNNEST, intervals) reads the same in both.
_TRINO_COMPAT = (
    "CREATE MACRO date_format(d, f) AS strftime(d, f)",
    "CREATE MACRO cardinality(x) AS len(x)",
    "CREATE MACRO from_unixtime(x) AS to_timestamp(x)",
    "CREATE MACRO approx_percentile(x, p) AS approx_quantile(x, p)",
)
_FILE_PATTERN = {"transcripts": "*.jsonl", "records": "*.json", "decisions": "*.jsonl"}


class AuditError(RuntimeError):
    """One line for the user."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "audit",
        help="the auditors' queries (the Athena named queries), locally with DuckDB or in Athena",
        description="Without QUERY: list the queries. With it: run it and print the answer.",
    )
    p.add_argument("query", nargs="?", metavar="QUERY", help="a query name (see `voice-agent audit`)")
    p.add_argument("params", nargs="*", metavar="PARAM", help="the query's parameters, e.g. a CALL_ID")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", metavar="DIR", help=f"the archive files (default {DEFAULT_LOCAL_DIR})")
    where.add_argument("--athena", action="store_true", help="run in the deployed Athena workgroup")
    p.add_argument("--workgroup", default="voice-agent-audit", help="--athena: the workgroup")
    p.add_argument("--database", default="voice_agent", help="--athena: the Glue database")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="how to print the answer")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    queries = load_queries()
    if args.query is None:
        _list(queries)
        return 0
    query = queries.get(args.query)
    if query is None:
        print(f"error: no query {args.query!r}; the queries are: {', '.join(queries)}", file=sys.stderr)
        return 2
    if len(args.params) != len(query.parameters):
        wanted = " ".join(p.upper() for p in query.parameters) or "no parameters"
        print(f"error: {query.name} takes {wanted}, got {len(args.params)}", file=sys.stderr)
        return 2
    try:
        if args.athena:
            columns, rows = run_athena(query, args.params, args.workgroup, args.database)
        else:
            columns, rows = run_local(query, args.params, Path(args.local or DEFAULT_LOCAL_DIR))
    except AuditError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print(columns, rows, args.format)
    return 0


def _list(queries: dict[str, AuditQuery]) -> None:
    width = max(len(q.name) + sum(len(p) + 1 for p in q.parameters) for q in queries.values())
    print("Queries (voice-agent audit QUERY [--local DIR | --athena]):")
    for q in queries.values():
        usage = " ".join([q.name, *(p.upper() for p in q.parameters)])
        print(f"  {usage:<{width}}  {q.description}")


# --- DuckDB over the local archive ---------------------------------------------------------------


def duckdb_type(hive: str) -> str:
    """A Glue (Hive) column type in DuckDB's spelling: map<string,struct<a:int>> -> MAP(VARCHAR, STRUCT(a INTEGER))."""
    hive = hive.strip()
    scalars = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "boolean": "BOOLEAN", "double": "DOUBLE"}
    if hive in scalars:
        return scalars[hive]
    kind, inner = re.fullmatch(r"(array|map|struct)<(.*)>", hive, re.S).groups()  # type: ignore[union-attr]
    parts = _split_top(inner)
    if kind == "array":
        return f"{duckdb_type(parts[0])}[]"
    if kind == "map":
        return f"MAP({duckdb_type(parts[0])}, {duckdb_type(parts[1])})"
    members = (p.split(":", 1) for p in parts)
    return "STRUCT(" + ", ".join(f'"{n.strip()}" {duckdb_type(t)}' for n, t in members) + ")"


def _split_top(text: str) -> list[str]:
    """Split on the commas that are not inside <...>."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"<": 1, ">": -1}.get(c, 0)
        if c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def local_connection(root: Path) -> Any:
    """A DuckDB connection with the three archive tables as views over `root` (the S3 layout)."""
    try:
        import duckdb
    except ImportError:  # a dev dependency: installed by `make setup`, not in the Lambda or image
        raise AuditError("local queries need duckdb: run `make setup` (pip install -r requirements-dev.txt)") from None
    if not root.is_dir():
        raise AuditError(f"{root}: no such folder (run `make demo` or `voice-agent simulate` first)")
    con = duckdb.connect()
    for statement in _TRINO_COMPAT:
        con.execute(statement)
    for table, columns in TABLE_COLUMNS.items():
        spec = ", ".join(f"{name!r}: {duckdb_type(kind)!r}" for name, kind in columns)
        pattern = root.resolve() / table / "date=*" / _FILE_PATTERN[table]
        if not any(root.glob(f"{table}/date=*/{_FILE_PATTERN[table]}")):
            cols = ", ".join(f'"{name}" {duckdb_type(kind)}' for name, kind in columns)
            con.execute(f"CREATE TABLE {table} ({cols}, {PARTITION_COLUMN} VARCHAR)")
            continue
        path = str(pattern).replace("'", "''")
        con.execute(
            f"CREATE VIEW {table} AS SELECT * EXCLUDE (filename), "
            f"regexp_extract(filename, 'date=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})', 1) AS {PARTITION_COLUMN} "
            f"FROM read_json('{path}', columns={{{spec}}}, format='newline_delimited', filename=true)"
        )
    return con


def run_local(query: AuditQuery, params: Sequence[str], root: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    con = local_connection(root)
    try:
        cursor = con.execute(query.sql, list(params))
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    except Exception as err:  # duckdb.Error: a file that is not the archive's JSON, for example
        raise AuditError(f"{query.name} on {root}: {str(err).splitlines()[0]}") from None
    finally:
        con.close()


# --- Athena ---------------------------------------------------------------------------------------


def run_athena(
    query: AuditQuery, params: Sequence[str], workgroup: str, database: str, client: Any = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if client is None:
            import boto3

            client = boto3.client("athena")
        start: dict[str, Any] = {
            "QueryString": query.sql,
            "WorkGroup": workgroup,
            "QueryExecutionContext": {"Database": database},
        }
        if params:
            start["ExecutionParameters"] = [_athena_literal(p) for p in params]
        qid = client.start_query_execution(**start)["QueryExecutionId"]
        while True:
            status = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
            if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(1)
        if status["State"] != "SUCCEEDED":
            raise AuditError(f"{query.name}: Athena {status['State']}: {status.get('StateChangeReason', '')}")
        columns: list[str] = []
        rows: list[tuple[Any, ...]] = []
        for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
            result = page["ResultSet"]
            columns = columns or [c["Name"] for c in result["ResultSetMetadata"]["ColumnInfo"]]
            rows.extend(tuple(d.get("VarCharValue") for d in r["Data"]) for r in result["Rows"])
        return columns, rows[1:] if rows and list(rows[0]) == columns else rows  # the header row comes first
    except (BotoCoreError, ClientError) as err:
        raise AuditError(f"{query.name} in Athena: {err}") from None


def _athena_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- output ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _print(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([dict(zip(columns, map(_plain, r), strict=True)) for r in rows], indent=2, ensure_ascii=False))
        return
    cells = [[_cell(v).replace("\n", " ") for v in r] for r in rows]
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(cells)
        return
    widths = [min(60, max([len(c), *(len(r[i]) for r in cells)])) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        shown = (v if len(v) <= w else v[: w - 1] + "…" for v, w in zip(r, widths, strict=True))
        print("  ".join(v.ljust(w) for v, w in zip(shown, widths, strict=True)).rstrip())
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
