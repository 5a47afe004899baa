"""Shared fixtures: the example spec and a moto server on loopback, provisioned like production."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime_bridge.journal_table import DynamoJournalTable, journal_table
from simulator.local_stack import LOCAL_BUCKET, LOCAL_TABLE, LocalStack, start_local_stack
from voice_agent.agent_registry import AgentRegistry
from voice_agent.call_runtime import CallRuntime
from voice_agent.decisions import DecisionLog, ListSink
from voice_agent.record_store import RecordStore
from voice_agent.spec import AgentSpec, load_spec, spec_version

from .scenario_runs import ScenarioRuns

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPEC = ROOT / "agents" / "riverside_clinic.yaml"
_ids = itertools.count(1)


@pytest.fixture(scope="session")
def spec() -> AgentSpec:
    return load_spec(EXAMPLE_SPEC)


@pytest.fixture(scope="session")
def scenario_runs() -> ScenarioRuns:
    """The shipped scenarios' calls, each placed once for the session (tests/bridge, tests/cli)."""
    return ScenarioRuns()


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    stack = start_local_stack()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def store(local_stack: LocalStack) -> RecordStore:
    return RecordStore(local_stack.table)


@pytest.fixture(scope="session")
def journal(local_stack: LocalStack) -> DynamoJournalTable:
    """The same table as the bridge's journal writer reaches it (signed requests of its own)."""
    return journal_table(local_stack.session, LOCAL_TABLE, local_stack.endpoint_url)


EXAMPLE_VERSION = spec_version(EXAMPLE_SPEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")  # module: post_call/ has a stack of its own (package scope)
def registry(local_stack: LocalStack) -> AgentRegistry:
    """The stack's agent registry, holding the example spec (the version EXAMPLE_VERSION)."""
    reg = AgentRegistry(local_stack.table, local_stack.client("s3"), LOCAL_BUCKET)
    assert reg.push(EXAMPLE_SPEC.read_text(encoding="utf-8"), source=str(EXAMPLE_SPEC)).version == EXAMPLE_VERSION
    return reg


class FakeClock:
    def __init__(self, start_ms: int = 1_780_000_000_000) -> None:
        self.now = start_ms

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def decisions() -> ListSink:
    return ListSink()


@pytest.fixture
def runtime(spec: AgentSpec, store: RecordStore, decisions: ListSink, clock: FakeClock) -> CallRuntime:
    return CallRuntime(spec=spec, store=store, log=DecisionLog(decisions), clock_ms=clock)


@pytest.fixture
def call_id(runtime: CallRuntime, clock: FakeClock) -> str:
    """A fresh, started call in the store."""
    cid = f"test-call-{next(_ids)}-{clock.now}"
    runtime.store.create_call(cid, runtime.spec.name, clock.now, runtime.spec.languages.default)
    return cid
