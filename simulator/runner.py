"""One scenario through the whole local stack: a real SIP call over loopback, then the record.

The simulated caller dials the bridge, speaks the scenario's turns as audio and hangs up or waits
for the agent's BYE; the post-call pass runs; the result says what was captured, with which
source and quote, what was said and decided, and whether the scenario's expectations hold.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from simulator.caller import SimulatedCaller
from simulator.caller_call import PhoneCall
from simulator.caller_result import CallerOptions, CallerResult, LatencySummary
from simulator.local_world import LocalAgents, start_local_world
from simulator.loopback_tls import make_loopback_tls
from simulator.scenario import Scenario, ScenarioError, check_against_agent, load_scenario
from voice_agent.decisions import CallbackSink, DecisionLine
from voice_agent.field_values import Valid, validate_value
from voice_agent.record_store import Turn
from voice_agent.record_view import CallRecord, build_record
from voice_agent.spec import AgentSpec, load_spec

CALL_FLUSH_TIMEOUT_S = 60.0


class Expectations(BaseModel):
    passed: bool
    failures: list[str]


class SimulationResult(BaseModel):
    scenario: str
    call_id: str
    record: CallRecord
    transcript: list[Turn]
    decisions: list[DecisionLine]
    goodbyes: int
    ended_by: Literal["agent", "caller", "system"] | None
    latency: LatencySummary
    caller: CallerResult
    expectations: Expectations


def _norm(text: str) -> str:
    return " ".join(
        "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum() or c == " ").split()
    )


def count_goodbyes(spec: AgentSpec, transcript: list[Turn]) -> int:
    """Agent turns the caller heard from the closing onward: 1 means one goodbye, as promised."""
    closing = _norm(spec.closing)
    start = next((i for i, t in enumerate(transcript) if t.speaker == "agent" and _norm(t.text) == closing), None)
    if start is None:
        return 0
    return sum(1 for t in transcript[start:] if t.speaker == "agent" and not (t.interrupted and (t.heard_ms or 0) == 0))


def check_expectations(scenario: Scenario, spec: AgentSpec, result: dict[str, Any]) -> Expectations:
    failures: list[str] = []
    record: CallRecord = result["record"]
    for name, expected in scenario.expect.record.items():
        field = spec.field(name)
        got = record.fields.get(name)
        # Compare in the stored canonical form: "6175550142" is stored as "+16175550142".
        want = validate_value(field, expected) if field else None
        want_value = want.value if isinstance(want, Valid) else expected
        if got is None or got.value != want_value:
            failures.append(f"record.{name}: expected {want_value!r}, got {got.value if got else None!r}")
    for name, source in scenario.expect.sources.items():
        got = record.fields.get(name)
        actual = got.source if got and got.status != "missing" else "missing"
        if actual != source:
            failures.append(f"sources.{name}: expected {source}, got {actual}")
    if scenario.expect.goodbyes is not None and result["goodbyes"] != scenario.expect.goodbyes:
        failures.append(f"goodbyes: expected {scenario.expect.goodbyes}, got {result['goodbyes']}")
    if scenario.expect.ended_by is not None and result["ended_by"] != scenario.expect.ended_by:
        failures.append(f"ended_by: expected {scenario.expect.ended_by}, got {result['ended_by']}")
    return Expectations(passed=not failures, failures=failures)


async def run_scenario(
    scenario_path: str | Path | Scenario,
    *,
    transport: Literal["udp", "tcp", "tls"] = "udp",
    seed: int | None = None,
    agent: str | Path | None = None,
    on_turn: Callable[[Turn], None] | None = None,
    on_decision: Callable[[DecisionLine], None] | None = None,
) -> SimulationResult:
    """``tls``: SIP over TLS and SRTP media, with throwaway loopback certificates. ``seed``: the
    stand-in model's, instead of the scenario's (an evaluation suite's repeats). ``agent``: another
    agent spec to answer the same caller (an evaluation's comparison); checked like the scenario's."""
    # A Scenario object: one built in memory (an evaluation's persona, played for a seed), already checked.
    scenario = scenario_path if isinstance(scenario_path, Scenario) else load_scenario(scenario_path)
    name = f"{scenario.agent.stem}:seed {scenario.seed}" if isinstance(scenario_path, Scenario) else str(scenario_path)
    if agent is not None:
        scenario = scenario.model_copy(update={"agent": Path(agent).resolve()})
        check_against_agent(scenario)
    sinks = (CallbackSink(on_decision),) if on_decision else ()
    return await place_call(
        scenario.agent,
        lambda port, options: SimulatedCaller(scenario, "127.0.0.1", port, options=options),
        lambda _caller: scenario,
        name=name,
        transport=transport,
        scenario=scenario,
        seed=seed,
        decision_sinks=sinks,
        turn_listener=on_turn,
    )


C = TypeVar("C", bound=PhoneCall)


async def place_call(
    agents: LocalAgents | str | Path,
    make_caller: Callable[[int, CallerOptions], C],
    script_of: Callable[[C], Scenario],
    *,
    name: str,
    transport: Literal["udp", "tcp", "tls"] = "udp",
    **world_options: Any,
) -> SimulationResult:
    """One call through a local world of its own (``world_options``: start_local_world's, e.g. the
    stand-in's scenario, or a ``target`` model endpoint): ``make_caller(sip_port, options)`` places
    it; ``script_of(caller)``, once it is over, is what the caller meant turn by turn (what a
    scripted caller was given; what a persona caller said), for the record's expectations."""
    tls = make_loopback_tls() if transport == "tls" else None
    try:
        world = await start_local_world(agents, tls=tls, **world_options)
    except BaseException:
        if tls is not None:
            tls.close()
        raise
    try:
        port = world.sip.tls_port if tls is not None else world.sip_port
        options = CallerOptions.model_validate({"transport": transport} if tls is None else tls.caller_settings())
        caller = make_caller(port, options)
        caller_result = await caller.run()
        call_id = await asyncio.wait_for(world.router.finished.get(), CALL_FLUSH_TIMEOUT_S)
        return await asyncio.to_thread(_collect, world, script_of(caller), name, call_id, caller_result)
    finally:
        await world.close()
        if tls is not None:
            tls.close()


class AgentCall(BaseModel):
    """One call of a side-by-side run: who calls (a scenario) and which number they dial."""

    scenario: Path
    number: str


async def run_side_by_side(
    agents: LocalAgents, calls: Sequence[AgentCall], *, on_turn: Callable[[Turn], None] | None = None
) -> list[SimulationResult]:
    """Several calls at once through ONE bridge, each to its own number and so its own agent (the
    number plan routes them). The stand-in plays each caller's script by the realtime model its
    agent names, so each call must reach a different agent, each on a model of its own."""
    scripts = [load_scenario(c.scenario) for c in calls]
    by_model: dict[str, Scenario] = {}
    by_agent: dict[str, tuple[Scenario, str]] = {}
    for call, script in zip(calls, scripts, strict=True):
        spec = load_spec(script.agent)
        if spec.model in by_model or spec.name in by_agent:
            raise ScenarioError(f"{call.scenario}: each call needs an agent, and a realtime model, of its own")
        by_model[spec.model], by_agent[spec.name] = script, (script, str(call.scenario))
    world = await start_local_world(agents, None, by_model=by_model, turn_listener=on_turn)
    try:
        callers = await asyncio.gather(
            *(
                SimulatedCaller(s, "127.0.0.1", world.sip_port, options=CallerOptions(callee=c.number)).run()
                for c, s in zip(calls, scripts, strict=True)
            )
        )
        results = []
        for caller in callers:
            if not caller.answered:
                raise ScenarioError(f"a call was not answered (SIP {caller.failure_status}): check the number plan")
            call_id = await asyncio.wait_for(world.router.finished.get(), CALL_FLUSH_TIMEOUT_S)
            meta = await asyncio.to_thread(world.store.get_call, call_id)
            assert meta is not None
            script, name = by_agent[meta.agent]
            mine = callers[scripts.index(script)]
            results.append(await asyncio.to_thread(_collect, world, script, name, call_id, mine))
        return results
    finally:
        await world.close()


def _collect(world: Any, scenario: Scenario, name: str, call_id: str, caller: CallerResult) -> SimulationResult:
    store = world.store
    meta = store.get_call(call_id)
    assert meta is not None and meta.spec_version is not None, f"call {call_id} has no record"
    spec = world.registry.spec(meta.agent, meta.spec_version)  # the version the call ran with
    record = build_record(spec, meta, store.get_fields(call_id), store.get_candidates(call_id))
    transcript = store.turns(call_id)
    ended_by = meta.ended_by if meta.ended_by in ("agent", "caller", "system") else None
    parts: dict[str, Any] = {"record": record, "goodbyes": count_goodbyes(spec, transcript), "ended_by": ended_by}
    return SimulationResult(
        scenario=name,
        call_id=call_id,
        transcript=transcript,
        decisions=store.decisions(call_id),
        latency=caller.latency,
        caller=caller,
        expectations=check_expectations(scenario, spec, parts),
        **parts,
    )
