"""What a tool or policy call needs to run: the spec, the store, the decision log, a clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .decisions import DecisionLog
from .end_call_gate import EndCallGate
from .record_store import RecordStore
from .spec import AgentSpec


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class CallRuntime:
    spec: AgentSpec
    store: RecordStore
    log: DecisionLog
    clock_ms: Callable[[], int] = wall_clock_ms
    spec_version: str | None = None  # the version of `spec` (None: a spec not from the registry)
    gate: EndCallGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = EndCallGate(self.spec, self.store, self.log, self.clock_ms)
