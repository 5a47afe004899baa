"""The whole product on one machine: moto (AWS), the OpenAI stand-in, and the real bridge.

Same code as production; only endpoints differ: boto3 talks to moto's server on loopback, the
openai SDK to the simulator's base URL, tool and policy calls go in-process with the Lambda
event shapes, and CallEnded goes to the post-call pass in-process instead of through the bus.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai

from realtime_bridge.agent_routes import ROUTE_TTL_S, AgentRoutes
from realtime_bridge.aws_http import lambda_http
from realtime_bridge.bridge_app import HEARTBEAT_S, BridgeDeps, CallRouter
from realtime_bridge.call import CallSettings
from realtime_bridge.call_finalizer import CallEndedSink
from realtime_bridge.journal_table import journal_table
from realtime_bridge.realtime.client import OpenAIRealtimeClient
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.server import SipServer
from realtime_bridge.tool_invoker import InProcessInvoker, LambdaInvoker, ToolInvoker
from simulator import server as simulator_server
from simulator.local_lambda import POLICY_FUNCTION, TOOLS_FUNCTION
from simulator.local_stack import (
    LOCAL_BUCKET,
    LOCAL_BUS,
    LOCAL_TABLE,
    LocalStack,
    attach_local_stack,
    start_local_stack,
)
from simulator.loopback_tls import LoopbackTls
from simulator.scenario import Scenario
from voice_agent.agent_registry import DEFAULT_ROUTE, AgentRegistry, NumberPlan, load_number_plan, read_agents_dir
from voice_agent.agent_runtimes import AgentRuntimes, PerAgent, RoutedPolicy, RoutedTools
from voice_agent.archive_store import ArchiveStore
from voice_agent.decisions import CallbackSink, DecisionLog, DecisionSink, StreamSink
from voice_agent.event_bus import BusPublisher
from voice_agent.post_call import Reconciler
from voice_agent.record_store import RecordStore, Turn
from voice_agent.spec import parse_spec_text, read_spec_text

log = logging.getLogger(__name__)
LOCAL_KEY = "sk-local-simulator"  # the stand-in wants a bearer token; never a real key
POST_CALL_MODEL = "gpt-4.1-mini"


class LocalPostCall:
    """CallEnded, locally: the event goes on the (moto) bus and the post-call pass runs in-process,
    with the spec version on the call's record."""

    def __init__(self, bus: BusPublisher, reconcilers: PerAgent[Reconciler]) -> None:
        self._bus, self._reconcilers = bus, reconcilers

    def publish(self, detail_type: str, detail: dict[str, object]) -> None:
        self._bus.publish(detail_type, detail)
        if detail_type == "CallEnded":
            call_id = str(detail["call_id"])
            outcome = self._reconcilers.for_call(call_id).reconcile(call_id)
            log.info("post-call pass for %s: %s", call_id, outcome.status)


@dataclass(frozen=True)
class LocalAgents:
    """The specs a local stack installs, and its number plan."""

    texts: dict[str, str]  # source -> exact spec text
    plan: NumberPlan

    @classmethod
    def single(cls, spec_path: str | Path) -> LocalAgents:
        """One spec answering every number: the plan's explicit default route, as a one-agent
        deployment configures it (`simulate`, `demo`, a scenario)."""
        text = read_spec_text(spec_path)
        spec = parse_spec_text(text, str(spec_path))
        return cls({str(spec_path): text}, NumberPlan(default=spec.name))

    @classmethod
    def from_files(cls, agents_dir: str | Path, numbers: str | Path) -> LocalAgents:
        """`serve --local --agents DIR --numbers numbers.yaml`: every spec in DIR, and the plan."""
        return cls(read_agents_dir(agents_dir), load_number_plan(numbers))


@dataclass
class LocalWorld:
    registry: AgentRegistry
    stack: LocalStack
    simulator: Any  # simulator.server.SimulatorHandle
    router: CallRouter
    sip: SipServer
    store: RecordStore

    @property
    def sip_port(self) -> int:
        return self.sip.sip_port

    async def close(self) -> None:
        await self.sip.close()
        await self.router.close()
        if self.simulator is not None:  # None when the model is another endpoint (`target`)
            await self.simulator.close()
        await asyncio.to_thread(self.stack.stop)


@dataclass(frozen=True)
class ModelTarget:
    """Where `serve --local` sends model traffic when it is not the embedded stand-in."""

    base_url: str | None  # None: the real service
    api_key: str = field(repr=False)

    @property
    def label(self) -> str:
        return self.base_url or "the real service (OPENAI_API_KEY)"


def model_target(base_url: str | None, env: Mapping[str, str] = os.environ) -> ModelTarget | None:
    """`--openai-base-url` wins; else OPENAI_API_KEY means the real service; else None (the stand-in).
    A real key is never sent to a loopback URL (a bench's fake model, a developer's proxy in a test)."""
    key = env.get("OPENAI_API_KEY") or ""
    if base_url:
        host = urlsplit(base_url).hostname or ""
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        return ModelTarget(base_url, LOCAL_KEY if loopback or not key else key)
    return ModelTarget(None, key) if key else None


@dataclass
class LocalParts:
    registry: AgentRegistry
    stack: LocalStack
    simulator: Any
    deps: BridgeDeps


async def start_local_parts(
    agents: LocalAgents | str | Path,
    scenario: Scenario | None = None,
    *,
    seed: int | None = None,
    decision_sinks: tuple[DecisionSink, ...] = (),
    speed: float = 4.0,
    model: str | None = None,
    turn_listener: Callable[[Turn], None] | None = None,
    aws_endpoint: str | None = None,
    target: ModelTarget | None = None,
    lambda_endpoint: str | None = None,
    heartbeat_s: float = 5.0,
    by_model: Mapping[str, Scenario] | None = None,
    route_ttl_s: float = ROUTE_TTL_S,
    registry_scope: str | None = None,
) -> LocalParts:
    """moto + the OpenAI stand-in, and the bridge's dependencies wired to them. With
    `aws_endpoint`, an already running moto server (another process) holds the state; with
    `target`, the model (realtime and post-call) is that endpoint and no stand-in starts; with
    `lambda_endpoint` (simulator/local_lambda.py on that moto), tools, policy and the post-call
    pass run there, invoked as in AWS, and the bridge only publishes CallEnded. `agents`: the
    specs and number plan to install, or one spec's path (then it answers every number);
    `by_model`: the stand-in's scenario per realtime model (one per agent). `registry_scope`: the
    namespace of this world's number plan; None: one of its own, as moto's state is shared by every
    world in a process (serve --local uses "", where `voice-agent agents push` finds it)."""
    if not isinstance(agents, LocalAgents):
        agents = LocalAgents.single(agents)
    stack = (
        await asyncio.to_thread(attach_local_stack, aws_endpoint)
        if aws_endpoint
        else await asyncio.to_thread(start_local_stack)
    )
    sim = None
    if target is not None:
        base_url, api_key = target.base_url, target.api_key
    else:
        sim = await simulator_server.start(
            scenario=scenario, seed=seed, port=0, speed=speed, by_model=dict(by_model or {})
        )
        base_url, api_key = sim.http_url, LOCAL_KEY
    store = RecordStore(stack.table)
    s3 = stack.client("s3")
    archive = ArchiveStore(s3, LOCAL_BUCKET)
    scope = f"world-{uuid.uuid4().hex[:12]}" if registry_scope is None else registry_scope
    registry = AgentRegistry(stack.table, s3, LOCAL_BUCKET, scope=scope)
    await asyncio.to_thread(registry.install, agents.texts, agents.plan, keep_existing=False)
    runtimes = AgentRuntimes(registry, store, DecisionLog(CallbackSink(store.append_decision), *decision_sinks))
    bus = BusPublisher(stack.client("events"), LOCAL_BUS)
    llm = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0)
    reconcilers = PerAgent(
        runtimes, lambda rt: Reconciler(runtime=rt, archive=archive, bus=bus, llm=llm, model=POST_CALL_MODEL)
    )

    # One SDK client for every call, as in production: a client per call builds its own TLS
    # context (about 50 ms on the loop, at every call's connect).
    model_client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url)

    def realtime() -> OpenAIRealtimeClient:
        return OpenAIRealtimeClient(model_client)

    invoker: ToolInvoker = InProcessInvoker(RoutedTools(runtimes), RoutedPolicy(runtimes))
    sink: CallEndedSink = LocalPostCall(bus, reconcilers)
    if lambda_endpoint:  # production's wiring: only the endpoints differ
        http = lambda_http(stack.session, lambda_endpoint)
        invoker, sink = LambdaInvoker(http, TOOLS_FUNCTION, POLICY_FUNCTION), bus
    deps = BridgeDeps(
        routes=AgentRoutes(registry, ttl_s=route_ttl_s),
        store=store,
        journal=journal_table(stack.session, LOCAL_TABLE, stack.endpoint_url),
        archive=archive,
        sink=sink,
        invoker=invoker,
        realtime=realtime,
        call_settings=CallSettings(model=model),
        heartbeat_s=heartbeat_s,
        decision_sinks=decision_sinks,
        turn_listener=turn_listener,
    )
    return LocalParts(registry=registry, stack=stack, simulator=sim, deps=deps)


async def start_local_world(
    agents: LocalAgents | str | Path,
    scenario: Scenario | None = None,
    *,
    sip_port: int = 0,
    transports: tuple[str, ...] = ("udp", "tcp"),
    tls: LoopbackTls | None = None,
    **options: Any,
) -> LocalWorld:
    """With ``tls`` the bridge takes only SIP over TLS (on ``sip.tls_port``) with SRTP."""
    parts = await start_local_parts(agents, scenario, **options)
    router = CallRouter(parts.deps)
    sip_settings = {"transports": transports} if tls is None else tls.bridge_settings()
    config = SipConfig.model_validate({"bind_host": "127.0.0.1", "sip_port": sip_port, **sip_settings})
    sip = SipServer(config, router, public_ip="127.0.0.1")
    router.sip = sip
    await sip.start()
    return LocalWorld(
        registry=parts.registry,
        stack=parts.stack,
        simulator=parts.simulator,
        router=router,
        sip=sip,
        store=parts.deps.store,
    )


def _plan_line(registry: AgentRegistry) -> str:
    current = {v.agent: v for v in registry.agents()}
    routes = registry.routes()
    return "; ".join(
        f"{number} -> {agent} @ {current[agent].version if agent in current else '?'}"
        for number, agent in sorted(routes.items())
    )


def _dial_hint(registry: AgentRegistry) -> str:
    """With a number plan and no default route, the caller must dial one of its numbers."""
    routes = registry.routes()
    numbers = sorted(n for n in routes if n != DEFAULT_ROUTE)
    return "" if DEFAULT_ROUTE in routes or not numbers else f" --number {numbers[0]}"


async def serve_local(
    agents: LocalAgents | str | Path,
    sip_port: int,
    health_port: int,
    *,
    scenario: str | None = None,
    aws_endpoint: str | None = None,
    drain_deadline_s: float = 30.0,
    openai_base_url: str | None = None,
    max_calls: int | None = None,
    lambda_endpoint: str | None = None,
    json_decisions: bool = True,
) -> None:
    """`voice-agent serve --local`: the production serving loop on the embedded stand-ins (or on
    the model endpoint `model_target` picks)."""
    from realtime_bridge.main import run_bridge  # the same loop production runs
    from simulator.scenario import load_scenario

    script = load_scenario(scenario) if scenario else None
    target = None if script else model_target(openai_base_url)  # a scenario drives the stand-in
    parts = await start_local_parts(
        script.agent if script else agents,
        script,
        aws_endpoint=aws_endpoint,
        # The operator sees every decision as a JSON line (or in the CLI's readable view instead).
        decision_sinks=(StreamSink(sys.stdout),) if json_decisions else (),
        target=target,
        lambda_endpoint=lambda_endpoint,
        heartbeat_s=HEARTBEAT_S,  # the serving loop as production runs it
        registry_scope="",  # the deployment's plan: `voice-agent agents push --endpoint-url` changes it
    )
    limits = {"max_calls": max_calls} if max_calls else {}
    config = SipConfig(bind_host="127.0.0.1", sip_port=sip_port, transports=("udp", "tcp"), **limits)
    model_line = (
        f"  OpenAI:        {target.label}"
        if target
        else f"  OpenAI (simulated, {'scenario ' + scenario if scenario else 'free mode'}): {parts.simulator.http_url}"
    )
    print(
        f"Local stack up: SIP on 127.0.0.1:{sip_port} (UDP and TCP), health on 127.0.0.1:{health_port}/health\n"
        f"  AWS (moto):    {parts.stack.endpoint_url}\n"
        f"  Lambda:        {lambda_endpoint or 'in-process (the same handlers code, on worker threads)'}\n"
        f"  Agents:        {_plan_line(parts.registry)}\n"
        f"{model_line} (max {config.max_calls} calls)\n"
        f"Call it with: python -m simulator.caller --scenario scenarios/riverside_happy_path.yaml --port {sip_port}"
        f"{_dial_hint(parts.registry)}\n"
        "Ctrl-C drains and stops.",
        flush=True,
    )
    try:
        await run_bridge(parts.deps, config, "127.0.0.1", health_port, drain_deadline_s=drain_deadline_s)
    finally:
        if parts.simulator is not None:
            await parts.simulator.close()
        await asyncio.to_thread(parts.stack.stop)
