"""The decision log: one JSON line per decision, PII masked, fanned out to sinks.

A decision is a verdict some owner reached (gate, validation, read-back, language, backfill).
Lines carry which field, never its full value: `masked` keeps at most the last two characters.
The model forbids unknown keys, so a value cannot leak in through a stray keyword.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import IO, Literal, Protocol

from pydantic import BaseModel, ConfigDict

DecisionKind = Literal[
    "end_call_gate",
    "tool_validation",
    "readback",
    "language",
    "provider",
    "category",
    "backfill",
    "reconcile",
    "intervention",
    "model_session",  # the bridge's realtime session: opened, dropped, replaced, lost
    "speech",  # a request of ours to the model: dropped, refused, failed, asked again
    "transcription",  # a caller turn whose words were lost
    "routing",  # the dialled number -> agent and spec version, or a rejection (404)
]
Verdict = Literal["allow", "deny", "accept", "reject", "pass", "fail", "unverified", "retry", "ended", "noop", "drop"]


class DecisionLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: float
    call_id: str
    decision: DecisionKind
    # Which agent, and which version of its spec, the call ran with (None: not known, e.g. a
    # number nobody answers).
    agent: str | None = None
    spec_version: str | None = None
    verdict: Verdict
    reason: str
    tool: str | None = None
    field: str | None = None
    masked: str | None = None
    previous_masked: str | None = None
    missing: list[str] | None = None
    state_from: str | None = None
    state_to: str | None = None
    attempt: int | None = None
    language: str | None = None
    turn_seq: int | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), ensure_ascii=False, separators=(",", ":"))


def mask(value: str | None) -> str | None:
    """Which value, not the value: length and the last two characters at most."""
    if value is None:
        return None
    tail = value[-2:] if len(value) >= 6 else ""
    return f"<{len(value)} chars>{'…' + tail if tail else ''}"


class DecisionSink(Protocol):
    def emit(self, line: DecisionLine) -> None: ...


class StreamSink:
    """JSON Lines to a stream (stdout in containers and the CLI's files)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout

    def emit(self, line: DecisionLine) -> None:
        self._stream.write(line.to_json() + "\n")
        self._stream.flush()


class ListSink:
    """Collects lines in memory (a call's decisions for S3; tests)."""

    def __init__(self) -> None:
        self.lines: list[DecisionLine] = []

    def emit(self, line: DecisionLine) -> None:
        self.lines.append(line)


class CallbackSink:
    def __init__(self, fn: Callable[[DecisionLine], None]) -> None:
        self._fn = fn

    def emit(self, line: DecisionLine) -> None:
        self._fn(line)


class DecisionLog:
    """Stamps every line with the call's agent and spec version (when the log knows them)."""

    def __init__(
        self,
        *sinks: DecisionSink,
        clock: Callable[[], float] = time.time,
        agent: str | None = None,
        spec_version: str | None = None,
    ) -> None:
        self._sinks = sinks
        self._clock = clock
        self._stamp = {k: v for k, v in (("agent", agent), ("spec_version", spec_version)) if v}

    def for_agent(self, agent: str, spec_version: str | None) -> DecisionLog:
        """The same sinks and clock, stamping this agent and version."""
        return DecisionLog(*self._sinks, clock=self._clock, agent=agent, spec_version=spec_version)

    def record(
        self,
        call_id: str,
        decision: DecisionKind,
        verdict: Verdict,
        reason: str,
        **details: object,
    ) -> DecisionLine:
        line = DecisionLine.model_validate(
            {"ts": round(self._clock(), 3), "call_id": call_id, "decision": decision, "verdict": verdict}
            | self._stamp
            | {"reason": reason}
            | details
        )
        for sink in self._sinks:
            sink.emit(line)
        return line
