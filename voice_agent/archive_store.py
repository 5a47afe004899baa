"""The audit archive in S3: transcripts, final records and decisions, partitioned by date.

Layout (Athena reads it with partition projection):
  transcripts/date=YYYY-MM-DD/<call_id>.jsonl   one turn a line
  records/date=YYYY-MM-DD/<call_id>.json        the final record
  decisions/date=YYYY-MM-DD/<call_id>.jsonl     one decision a line
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from .decisions import DecisionLine
from .record_store import CallMeta, Turn

Kind = Literal["transcripts", "records", "decisions"]


@dataclass(frozen=True)
class CallStamp:
    """Which agent, at which spec version, a call ran with: the header (S3 object metadata,
    `x-amz-meta-agent` and `x-amz-meta-spec-version`) of every archived object of the call."""

    agent: str
    spec_version: str | None

    @classmethod
    def of(cls, meta: CallMeta) -> CallStamp:
        return cls(meta.agent, meta.spec_version)

    def metadata(self) -> dict[str, str]:
        return {"agent": self.agent} | ({"spec-version": self.spec_version} if self.spec_version else {})


def archive_key(kind: Kind, call_id: str, started_ms: int) -> str:
    day = dt.datetime.fromtimestamp(started_ms / 1000, tz=dt.UTC).date().isoformat()
    ext = "json" if kind == "records" else "jsonl"
    return f"{kind}/date={day}/{call_id}.{ext}"


class ArchiveStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3, self._bucket = s3, bucket

    def _put(self, key: str, body: str, content_type: str, stamp: CallStamp | None) -> str:
        extra = {"Metadata": stamp.metadata()} if stamp else {}
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode(), ContentType=content_type, **extra)
        return key

    def put_transcript(
        self, call_id: str, started_ms: int, turns: list[Turn], *, stamp: CallStamp | None = None
    ) -> str:
        body = "".join(json.dumps(t.model_dump(), ensure_ascii=False) + "\n" for t in turns)
        return self._put(archive_key("transcripts", call_id, started_ms), body, "application/x-ndjson", stamp)

    def put_record(
        self, call_id: str, started_ms: int, record: dict[str, Any], *, stamp: CallStamp | None = None
    ) -> str:
        # One object on one line: Athena's JSON reader takes a line per row.
        body = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
        return self._put(archive_key("records", call_id, started_ms), body, "application/json", stamp)

    def put_decisions(
        self, call_id: str, started_ms: int, lines: list[DecisionLine], *, stamp: CallStamp | None = None
    ) -> str:
        body = "".join(line.to_json() + "\n" for line in lines)
        return self._put(archive_key("decisions", call_id, started_ms), body, "application/x-ndjson", stamp)

    def stamp_of(self, key: str) -> CallStamp | None:
        """The agent and spec version an archived object's header names (None: written without)."""
        metadata: dict[str, str] = self._s3.head_object(Bucket=self._bucket, Key=key).get("Metadata", {})
        agent = metadata.get("agent")
        return CallStamp(agent, metadata.get("spec-version")) if agent else None

    def get_text(self, key: str) -> str:
        body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return body.decode()

    def get_transcript(self, call_id: str, started_ms: int) -> list[Turn]:
        text = self.get_text(archive_key("transcripts", call_id, started_ms))
        return [Turn.model_validate_json(line) for line in text.splitlines() if line.strip()]
