"""The post-call and reaper Lambda handlers, imported as Lambda imports them (configuration from
the environment, the OpenAI key from Secrets Manager), against moto and the simulated LLM."""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from simulator.local_stack import LocalStack, local_environment
from voice_agent.agent_registry import AgentRegistry
from voice_agent.agent_runtimes import PerAgent
from voice_agent.archive_store import ArchiveStore, archive_key
from voice_agent.post_call import ReconcileInProgress
from voice_agent.record_store import FieldValue, RecordStore, Turn

from ..conftest import EXAMPLE_VERSION, FakeClock
from .conftest import CONVERSATION, LIVE_VALUES, BusTap, CountingClient, SimulatedLlm, new_call, scenario_for

SECRET_KEY = "sk-from-secrets-manager"


@dataclass
class Context:
    function_name: str = "voice-agent-post-call"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:voice-agent-post-call"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Handlers:
    post_call: ModuleType
    reaper: ModuleType


@pytest.fixture(scope="module")
def handlers(local_stack: LocalStack, llm_server: SimulatedLlm, registry: AgentRegistry) -> Iterator[Handlers]:
    secret = local_stack.client("secretsmanager").create_secret(
        Name=f"openai-{uuid.uuid4().hex}", SecretString=SECRET_KEY
    )
    env = local_environment(local_stack.endpoint_url) | {
        "POST_CALL_MODEL": "gpt-4.1-mini",
        "OPENAI_SECRET_ARN": secret["ARN"],
        "OPENAI_BASE_URL": llm_server.handle.http_url,
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("OPENAI_API_KEY", raising=False)
        yield Handlers(
            importlib.import_module("functions.post_call.handler"), importlib.import_module("functions.reaper.handler")
        )


@pytest.fixture
def counted(handlers: Handlers, llm_server: SimulatedLlm) -> Iterator[CountingClient]:
    """The handler's own client stays as built; requests are counted through an identical one."""
    llm_server.use(scenario_for())
    module = handlers.post_call
    built, reconcilers = module.LLM, module.RECONCILERS
    counting = CountingClient(llm_server.handle.http_url)
    module.LLM = counting.client
    module.RECONCILERS = PerAgent(reconcilers.runtimes, module._reconciler)  # built with the counting client
    yield counting
    module.LLM, module.RECONCILERS = built, reconcilers


def call_ended(call_id: str, reason: str = "hang-up") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CallEnded",
        "source": "voice-agent",
        "account": "123456789012",
        "time": "2026-11-25T14:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"call_id": call_id, "ended_by": "caller", "reason": reason},
    }


def test_the_openai_key_comes_from_secrets_manager(handlers: Handlers, llm_server: SimulatedLlm) -> None:
    client = handlers.post_call.LLM
    assert client.api_key == SECRET_KEY and str(client.base_url).rstrip("/") == llm_server.handle.http_url


def test_a_duplicate_event_makes_one_llm_call_and_changes_nothing(
    handlers: Handlers, counted: CountingClient, store: RecordStore, clock: FakeClock, bus_tap: BusTap
) -> None:
    call_id = new_call(store, clock, live=("caller_name",))
    event = call_ended(call_id)
    first = handlers.post_call.handler(event, Context())
    snapshot = (store.get_call(call_id), store.get_fields(call_id), store.decisions(call_id))
    second = handlers.post_call.handler(event, Context())
    assert (first["status"], second["status"], len(counted.requests)) == ("reconciled", "duplicate", 1)
    assert sorted(first["backfilled"]) == ["callback_number", "date_of_birth", "reason"]
    assert (store.get_call(call_id), store.get_fields(call_id), store.decisions(call_id)) == snapshot
    assert len(bus_tap.events(call_id, "RecordReconciled")) == 1


def test_two_concurrent_deliveries_make_one_llm_call(
    handlers: Handlers, counted: CountingClient, store: RecordStore, clock: FakeClock
) -> None:
    counted.on_request = lambda _: time.sleep(0.3)  # the winner is still extracting when the loser arrives
    for _ in range(3):
        call_id = new_call(store, clock, live=("caller_name",))
        requests_before = len(counted.requests)
        results: list[Any] = []
        barrier = threading.Barrier(2)

        def deliver(call_id: str = call_id, barrier: threading.Barrier = barrier, results: list[Any] = results) -> None:
            barrier.wait()
            try:
                results.append(handlers.post_call.handler(call_ended(call_id), Context())["status"])
            except ReconcileInProgress as err:
                results.append(type(err).__name__)

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["ReconcileInProgress", "reconciled"]  # the loser is retried by Lambda
        assert len(counted.requests) - requests_before == 1
        fields = store.get_fields(call_id)
        assert {n: f.source for n, f in fields.items()} == {
            "caller_name": "live", "reason": "backfill", "date_of_birth": "backfill", "callback_number": "backfill",
        }  # fmt: skip
        # The retried delivery finds the pass done: nothing changes, no LLM call.
        snapshot = (store.get_call(call_id), fields, store.decisions(call_id))
        assert handlers.post_call.handler(call_ended(call_id), Context())["status"] == "duplicate"
        assert (store.get_call(call_id), store.get_fields(call_id), store.decisions(call_id)) == snapshot
        assert len(counted.requests) - requests_before == 1


def test_a_bad_event_is_refused_loudly(handlers: Handlers, counted: CountingClient) -> None:
    event = call_ended("x y")
    with pytest.raises(ValueError, match=r"bad event: detail\.call_id"):
        handlers.post_call.handler(event, Context())
    assert counted.requests == []


def test_reaper_finalises_a_call_whose_bridge_died_and_reconciliation_then_runs(
    handlers: Handlers, counted: CountingClient, store: RecordStore, local_stack: LocalStack, bus_tap: BusTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # A call far in the past, so no other test's live call is stale at the sweep's "now".
    started = 1_000_000_000_000 + uuid.uuid4().int % 1_000_000
    call_id = f"CAreap{uuid.uuid4().hex[:12]}"
    store.create_call(call_id, "riverside-clinic", started, "en", EXAMPLE_VERSION)
    for seq, (speaker, text, _) in enumerate(CONVERSATION[:8]):  # killed before the goodbye
        store.append_turn(Turn(call_id=call_id, seq=seq, t_ms=seq * 1000, speaker=speaker, text=text))  # type: ignore[arg-type]
        store.heartbeat(call_id, started + seq * 1000)
    live = FieldValue(name="caller_name", status="value", value=LIVE_VALUES["caller_name"], recorded_ms=started)
    store.put_field(call_id, live)
    # The bridge stops heart-beating here. The first sweep is within the stale window, the second past it.
    last_beat = started + 7_000
    reaper = handlers.reaper.REAPER
    monkeypatch.setattr(reaper, "clock_ms", lambda: last_beat + reaper.stale_after_ms - 1)
    assert call_id not in handlers.reaper.handler({"source": "aws.events"}, Context())["reaped"]
    monkeypatch.setattr(reaper, "clock_ms", lambda: last_beat + reaper.stale_after_ms + 1)
    assert call_id in handlers.reaper.handler({"source": "aws.events"}, Context())["reaped"]

    meta = store.get_call(call_id)
    assert meta is not None
    assert (meta.status, meta.ended_by, meta.ended_reason) == ("ENDED", "system", "bridge_lost")
    assert call_id not in [c.call_id for c in store.stale_live_calls(last_beat + 10 * reaper.stale_after_ms)]
    archive = ArchiveStore(local_stack.client("s3"), handlers.reaper.os.environ["ARCHIVE_BUCKET"])
    assert [t.seq for t in archive.get_transcript(call_id, started)] == list(range(8))
    [gate] = [d for d in store.decisions(call_id) if d.decision == "end_call_gate"]
    assert (gate.verdict, gate.state_to) == ("ended", "ENDED") and gate.reason.startswith("bridge_lost")
    assert (gate.agent, gate.spec_version) == ("riverside-clinic", EXAMPLE_VERSION)  # from the record
    assert call_id not in handlers.reaper.handler({"source": "aws.events"}, Context())["reaped"]  # once only

    # The CallEnded the reaper put on the bus, exactly as EventBridge delivers it, drives the post-call pass.
    [ended] = bus_tap.events(call_id, "CallEnded")
    assert ended["detail"] == {"call_id": call_id, "ended_by": "system", "reason": "bridge_lost"}
    outcome = handlers.post_call.handler(ended, Context())
    assert outcome["status"] == "reconciled" and len(counted.requests) == 1
    assert sorted(outcome["backfilled"]) == ["callback_number", "date_of_birth", "reason"]
    record = json.loads(archive.get_text(archive_key("records", call_id, started)))
    assert record["ended_reason"] == "bridge_lost" and record["missing_required"] == []
    assert (record["agent"], record["spec_version"]) == ("riverside-clinic", EXAMPLE_VERSION)
    # No realtime usage reached the record (the bridge died); the pass still prices its own tokens.
    assert record["usage"]["post_call_in"] > 0 and record["cost"]["post_call_usd"] == record["cost_usd"] > 0
    decisions = archive.get_text(archive_key("decisions", call_id, started)).splitlines()
    assert all('"agent":"riverside-clinic"' in line for line in decisions)
    assert [e["detail"]["call_id"] for e in bus_tap.events(call_id, "RecordReconciled")] == [call_id]
