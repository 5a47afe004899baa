"""Plumbing for the post-call tests: the simulator's post-call LLM on loopback (its asyncio server
run on a background thread), a tap on the event bus (a rule -> an SQS queue in moto), an ended
call built from a scenario, and an openai client that counts the HTTP requests it really sends."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from openai import DefaultHttpxClient, OpenAI

from simulator import server
from simulator.local_stack import LOCAL_BUCKET, LOCAL_BUS, LocalStack, start_local_stack
from simulator.scenario import Scenario, parse_scenario
from voice_agent.archive_store import ArchiveStore
from voice_agent.call_runtime import CallRuntime
from voice_agent.decisions import CallbackSink, DecisionLog, ListSink
from voice_agent.event_bus import BusPublisher
from voice_agent.post_call import Reconciler, RetryPolicy
from voice_agent.record_store import FieldValue, RecordStore, Turn
from voice_agent.spec import AgentSpec

from ..conftest import EXAMPLE_VERSION, ROOT, FakeClock

SCENARIOS = ROOT / "scenarios"
_ids = itertools.count(1)

# One conversation every test starts from: the agent asks, the caller answers each field once.
CONVERSATION: list[tuple[str, str, dict[str, str]]] = [
    ("agent", "Thanks for calling Riverside Family Clinic. How can I help you today?", {}),
    ("caller", "Hi, I need a refill of my blood pressure prescription.",
     {"reason": "Refill of my blood pressure prescription"}),
    ("agent", "Can I have your full name, please?", {}),
    ("caller", "It's Maria Lopez, L O P E Z.", {"caller_name": "Maria Lopez"}),
    ("agent", "And your date of birth?", {}),
    ("caller", "It's 3/12/1985.", {"date_of_birth": "1985-03-12"}),
    ("agent", "What number should the clinic call you back on?", {}),
    ("caller", "You can reach me at 617 555 0142.", {"callback_number": "6175550142"}),
    ("agent", "Thank you. The clinic team will call you back within one business day. Goodbye.", {}),
]  # fmt: skip
LIVE_VALUES = {
    "reason": "Refill of my blood pressure prescription",
    "caller_name": "Maria Lopez",
    "date_of_birth": "1985-03-12",
    "callback_number": "+16175550142",
}


def scenario_for(**extractor: list[str]) -> Scenario:
    """The scenario the simulated extractor answers from: the caller turns' `say` and `means`."""
    turns = [{"say": text, "means": means} for speaker, text, means in CONVERSATION if speaker == "caller"]
    data = {"agent": "../agents/riverside_clinic.yaml", "caller": {"turns": turns}, "extractor": extractor}
    return parse_scenario(data, SCENARIOS)


class SimulatedLlm:
    """simulator.server on a private event loop in a daemon thread, for synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.handle = self._run(server.start(engine="synthetic"))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def use(self, scenario: Scenario | None) -> None:
        self.handle.config.scenario = scenario  # read per request by the HTTP side

    def close(self) -> None:
        self._run(self.handle.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture(scope="package")
def local_stack() -> Iterator[LocalStack]:
    """This package's own moto server, overriding the session one. tests/sip uses moto's
    in-process `mock_aws`, whose exit resets the backends every moto server in the process
    shares: a session stack first created here (these tests run earlier) would lose its table
    there and fail every later test that uses it."""
    stack = start_local_stack()
    yield stack
    stack.stop()


@pytest.fixture(scope="package")
def store(local_stack: LocalStack) -> RecordStore:
    return RecordStore(local_stack.table)


@pytest.fixture(scope="package")
def llm_server() -> Iterator[SimulatedLlm]:
    sim = SimulatedLlm()
    yield sim
    sim.close()


@dataclass
class CountingClient:
    """An unmodified OpenAI client whose httpx transport records each request body it sends."""

    base_url: str
    on_request: Callable[[dict[str, Any]], None] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        def hook(request: Any) -> None:
            body = json.loads(request.read())
            self.requests.append(body)
            if self.on_request:
                self.on_request(body)

        http = DefaultHttpxClient(event_hooks={"request": [hook]})
        self.client = OpenAI(api_key="sk-test", base_url=self.base_url, http_client=http, max_retries=0)

    def asked_fields(self, index: int = -1) -> list[str]:
        content = json.loads(self.requests[index]["messages"][-1]["content"])
        return [f["name"] for f in content["fields"]]


@pytest.fixture
def llm(llm_server: SimulatedLlm) -> CountingClient:
    llm_server.use(scenario_for())
    return CountingClient(llm_server.handle.http_url)


class BusTap:
    """Everything published on the local bus, via a catch-all rule into an SQS queue."""

    def __init__(self, stack: LocalStack) -> None:
        self.sqs = stack.client("sqs")
        self.url = self.sqs.create_queue(QueueName="post-call-test-tap")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = stack.client("events")
        events.put_rule(
            Name="post-call-test-tap", EventBusName=LOCAL_BUS, EventPattern=json.dumps({"source": ["voice-agent"]})
        )
        events.put_targets(Rule="post-call-test-tap", EventBusName=LOCAL_BUS, Targets=[{"Id": "tap", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def events(self, call_id: str, detail_type: str | None = None) -> list[dict[str, Any]]:
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                break
            for m in messages:
                self.seen.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return [
            e for e in self.seen
            if e["detail"].get("call_id") == call_id and detail_type in (None, e["detail-type"])
        ]  # fmt: skip


@pytest.fixture(scope="package")
def bus_tap(local_stack: LocalStack) -> BusTap:
    return BusTap(local_stack)


@pytest.fixture
def archive(local_stack: LocalStack) -> ArchiveStore:
    return ArchiveStore(local_stack.client("s3"), LOCAL_BUCKET)


@pytest.fixture
def persisted_runtime(spec: AgentSpec, store: RecordStore, decisions: ListSink, clock: FakeClock) -> CallRuntime:
    """Like the handlers' runtime: decisions go to the store (for the S3 file) and to a list (for asserts)."""
    log = DecisionLog(decisions, CallbackSink(store.append_decision))
    return CallRuntime(spec=spec, store=store, log=log, clock_ms=clock)


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def make_reconciler(
    persisted_runtime: CallRuntime, archive: ArchiveStore, local_stack: LocalStack
) -> Callable[..., Reconciler]:
    def build(
        llm: CountingClient | OpenAI, sleep: Callable[[float], None] | None = None, spec: AgentSpec | None = None
    ) -> Reconciler:
        """`spec`: another agent than the example (a scenario's own), same store and decision log."""
        client = llm.client if isinstance(llm, CountingClient) else llm
        runtime = persisted_runtime
        if spec is not None:
            runtime = CallRuntime(spec=spec, store=runtime.store, log=runtime.log, clock_ms=runtime.clock_ms)
        return Reconciler(
            runtime=runtime,
            archive=archive,
            bus=BusPublisher(local_stack.client("events"), LOCAL_BUS),
            llm=client,
            model="gpt-4.1-mini",
            retry=RetryPolicy(attempts=3, base_delay_s=0.5, timeout_s=5),
            sleep=sleep or Sleeps(),
        )

    return build


def new_call(
    store: RecordStore,
    clock: FakeClock,
    live: tuple[str, ...] = (),
    *,
    ended: bool = True,
    archived: bool = False,
    archive: ArchiveStore | None = None,
    started_ms: int | None = None,
) -> str:
    """A call with the standard conversation in the per-turn store, `live` fields recorded live, ENDED."""
    call_id = f"CApc{next(_ids)}x{time.monotonic_ns()}"
    started = clock.now if started_ms is None else started_ms
    store.create_call(call_id, "riverside-clinic", started, "en", EXAMPLE_VERSION)
    for seq, (speaker, text, _) in enumerate(CONVERSATION):
        store.append_turn(Turn(call_id=call_id, seq=seq, t_ms=seq * 1000, speaker=speaker, text=text))  # type: ignore[arg-type]
    seq_of = {name: seq for seq, (_, _, means) in enumerate(CONVERSATION) for name in means}
    for name in live:
        store.put_field(call_id, FieldValue(name=name, status="value", value=LIVE_VALUES[name], source="live",
                                            turn_seq=seq_of[name], recorded_ms=started + 1))  # fmt: skip
    if ended:
        meta = store.get_call(call_id)
        assert meta is not None
        assert store.transition_gate(call_id, meta.gate_version, "ENDED", ended_by="caller", ended_reason="hang-up")
    if archived:
        assert archive is not None
        archive.put_transcript(call_id, started, store.turns(call_id))
    return call_id
