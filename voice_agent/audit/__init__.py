"""The audit archive's tables and the auditors' queries: one source for Athena and for local runs.

The archive (archive_store.py) is three tables of JSON lines, partitioned by the day the call
started (`<table>/date=YYYY-MM-DD/`), read as `call_date`. `TABLE_COLUMNS` is their schema: the
audit stack declares it in Glue, and `voice-agent audit --local` gives DuckDB the same columns.

Each query is one file in `queries/`: `-- description: ...` (and `-- parameters: a, b` for `?`
placeholders) on top, then the SQL. The audit stack saves that SQL as an Athena named query,
and `voice-agent audit` runs the very same text, in Athena or locally. The SQL keeps to what both
engines read the same way (Athena engine 3 is Trino; the local runner defines the few Trino
functions DuckDB names differently).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass

PARTITION_COLUMN = "call_date"  # `date` is a reserved word in Athena SQL

# One JSON object per line; unknown keys are ignored, so newer writers never break older tables.
TABLE_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "transcripts": [
        ("call_id", "string"),
        ("seq", "int"),
        ("t_ms", "bigint"),
        ("speaker", "string"),
        ("text", "string"),
        ("item_id", "string"),
        ("interrupted", "boolean"),
        ("heard_ms", "bigint"),
        ("untranscribed", "boolean"),
    ],
    "records": [
        ("call_id", "string"),
        ("agent", "string"),
        ("spec_version", "string"),
        ("started_ms", "bigint"),
        ("ended_ms", "bigint"),
        ("status", "string"),
        ("ended_by", "string"),
        ("ended_reason", "string"),
        ("language", "string"),
        ("category", "string"),
        ("provider", "string"),
        (
            "fields",
            "map<string,struct<status:string,value:string,source:string,quote:string,turn_seq:int,corrections:int,"
            "evidence:string,candidate:struct<value:string,quote:string,turn_seq:int,reason:string,numerals:string>>>",
        ),
        ("missing_required", "array<string>"),
        ("cost_usd", "double"),
        (
            "cost",
            "struct<realtime_usd:double,transcription_usd:double,post_call_usd:double,telephony_usd:double,"
            "total_usd:double,prices_set_on:string>",
        ),
        (
            "usage",
            "struct<audio_in:bigint,audio_in_cached:bigint,audio_out:bigint,text_in:bigint,text_in_cached:bigint,"
            "text_out:bigint,responses:int,transcription_ms:bigint,transcription_in:bigint,transcription_out:bigint,"
            "post_call_in:bigint,post_call_out:bigint,call_ms:bigint>",
        ),
        ("call_seconds", "double"),
    ],
    "decisions": [
        ("ts", "double"),
        ("call_id", "string"),
        ("agent", "string"),
        ("spec_version", "string"),
        ("decision", "string"),
        ("verdict", "string"),
        ("reason", "string"),
        ("tool", "string"),
        ("field", "string"),
        ("masked", "string"),  # which value, never the value: length and last two characters
        ("previous_masked", "string"),
        ("missing", "array<string>"),
        ("state_from", "string"),
        ("state_to", "string"),
        ("attempt", "int"),
        ("language", "string"),
        ("turn_seq", "int"),
    ],
}


class QueryFileError(ValueError):
    pass


@dataclass(frozen=True)
class AuditQuery:
    name: str  # the file's stem: `voice-agent audit NAME`, and the Athena named query's name
    description: str
    parameters: tuple[str, ...]  # one per `?`, in order
    sql: str  # exactly what runs, in Athena and locally


def parse_query(name: str, text: str) -> AuditQuery:
    header: dict[str, str] = {}
    lines = text.strip().splitlines()
    while lines and lines[0].startswith("--"):
        key, _, value = lines.pop(0).removeprefix("--").partition(":")
        header[key.strip()] = value.strip()
    sql = "\n".join(lines).strip()
    if not header.get("description") or not sql:
        raise QueryFileError(f"{name}.sql: needs a `-- description:` line and a query")
    parameters = tuple(p.strip() for p in header.get("parameters", "").split(",") if p.strip())
    if sql.count("?") != len(parameters):
        raise QueryFileError(f"{name}.sql: {sql.count('?')} placeholders but parameters {list(parameters)}")
    return AuditQuery(name, header["description"], parameters, sql)


def load_queries() -> dict[str, AuditQuery]:
    """Every query in `queries/`, by name, in name order."""
    folder = importlib.resources.files(__package__).joinpath("queries")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return {q.name: q for q in (parse_query(f.name.removesuffix(".sql"), f.read_text()) for f in files)}
