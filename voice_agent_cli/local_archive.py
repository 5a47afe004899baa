"""The call archive on local disk, in the S3 layout: what `make demo` and `voice-agent simulate` write.

  DIR/transcripts/date=YYYY-MM-DD/<call_id>.jsonl   one turn a line
  DIR/records/date=YYYY-MM-DD/<call_id>.json        the final record (one JSON object)
  DIR/decisions/date=YYYY-MM-DD/<call_id>.jsonl     one decision a line

`voice-agent calls`, `calls timeline` and `audit --local` read it; nothing here needs AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voice_agent.decisions import DecisionLine
from voice_agent.record_store import Turn
from voice_agent.record_view import CallRecord

DEFAULT_LOCAL_DIR = ".local/demo"


class LocalArchiveError(ValueError):
    """A folder that is not a local archive, or a file in it that cannot be read: one line for the user."""


@dataclass(frozen=True)
class LocalCall:
    record: CallRecord
    reconciliation: dict[str, Any] | None  # the post-call pass's summary, when the archive has it
    transcript: list[Turn]
    decisions: list[DecisionLine]
    record_path: Path


class LocalArchive:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise LocalArchiveError(f"{root}: no such folder (run `make demo` or `voice-agent simulate` first)")

    def _files(self, kind: str, call_id: str = "*") -> list[Path]:
        ext = "json" if kind == "records" else "jsonl"
        return sorted(self.root.glob(f"{kind}/date=*/{call_id}.{ext}"))

    def has_calls(self) -> bool:
        return any(self._files(kind) for kind in ("records", "transcripts", "decisions"))

    def _record(self, path: Path) -> tuple[CallRecord, dict[str, Any] | None]:
        try:
            data = json.loads(path.read_text())
            reconciliation = data.pop("reconciliation", None) if isinstance(data, dict) else None
            return CallRecord.model_validate(data), reconciliation
        except (OSError, ValueError, ValidationError) as err:
            raise LocalArchiveError(f"{path}: not a call record ({str(err).splitlines()[0]})") from None

    def records(self) -> list[CallRecord]:
        """Every archived record, the most recent call first."""
        return sorted((self._record(p)[0] for p in self._files("records")), key=lambda r: r.started_ms, reverse=True)

    def _lines(self, kind: str, call_id: str) -> list[str]:
        paths = self._files(kind, call_id)
        return [line for p in paths for line in p.read_text().splitlines() if line.strip()]

    def get(self, call_id: str) -> LocalCall | None:
        if not call_id or any(c in call_id for c in "*?[]/\\"):
            return None
        paths = self._files("records", call_id)
        if not paths:
            return None
        record, reconciliation = self._record(paths[0])
        try:
            turns = [Turn.model_validate_json(line) for line in self._lines("transcripts", call_id)]
            decisions = [DecisionLine.model_validate_json(line) for line in self._lines("decisions", call_id)]
        except ValidationError as err:
            why = err.errors()[0]["msg"]
            raise LocalArchiveError(f"call {call_id}: unreadable transcript or decisions ({why})") from None
        return LocalCall(record, reconciliation, sorted(turns, key=lambda t: t.seq), decisions, paths[0])
