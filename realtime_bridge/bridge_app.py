"""The bridge process: SIP calls in, one `Call` per answered call, flushed when it ends.

This is the composition root of the container. Production and local runs differ only in what
`BridgeDeps` holds (Lambda vs in-process invoker, AWS vs moto endpoints, OpenAI vs simulator).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from realtime_bridge.agent_routes import AgentRoutes, Route
from realtime_bridge.call import Call, CallSettings
from realtime_bridge.call_finalizer import CallEndedSink, finalize_call
from realtime_bridge.call_journal import CallJournal
from realtime_bridge.journal_table import JournalTable
from realtime_bridge.journal_writer import JournalWriter
from realtime_bridge.realtime.client import RealtimeClient
from realtime_bridge.rtp.session import RtpSession
from realtime_bridge.sip.events import CallInfo, EndReason
from realtime_bridge.sip.server import Accept, Decision, Reject, SipServer
from realtime_bridge.tool_invoker import ToolInvoker
from voice_agent.archive_store import ArchiveStore
from voice_agent.cost import Prices
from voice_agent.decisions import CallbackSink, DecisionLog, DecisionSink, StreamSink, mask
from voice_agent.invocation import CallerHungUp, CallStarted
from voice_agent.record_store import RecordStore, Turn
from voice_agent.spec import AgentSpec

log = logging.getLogger(__name__)
HEARTBEAT_S = 15.0  # a live call's heartbeat; the reaper waits for several missed ones


@dataclass
class BridgeDeps:
    routes: AgentRoutes  # dialled number -> agent and spec version
    store: RecordStore
    journal: JournalTable  # the same table, for the journal writer's batches and heartbeats
    archive: ArchiveStore
    sink: CallEndedSink
    invoker: ToolInvoker
    realtime: Callable[[], RealtimeClient]
    call_settings: CallSettings
    prices: Prices = field(default_factory=Prices)
    heartbeat_s: float = HEARTBEAT_S
    decision_sinks: tuple[DecisionSink, ...] = field(default_factory=lambda: (StreamSink(sys.stdout),))
    turn_listener: Callable[[Turn], None] | None = None  # e.g. the demo printing the call as it happens


def record_state(spec: AgentSpec, store: RecordStore, call_id: str) -> str:
    """What a reconnected session is told about the record: captured and still missing, per field
    (from the store, never from the old session's claims)."""
    fields = store.get_fields(call_id)
    lines = []
    for f in spec.fields:
        value = fields.get(f.name)
        if value is None:
            lines.append(f"- {f.name}: not yet recorded{' (required)' if f.required else ''}")
        elif value.status == "declined":
            lines.append(f"- {f.name}: the caller declined to give it")
        else:
            lines.append(f"- {f.name}: recorded ({value.value})")
    return "\n".join(lines)


class CallRouter:
    """The SIP server's CallHandler: it owns the map from SIP dialogs to running calls, and the
    one journal writer every call's turns, decisions and heartbeats go through."""

    def __init__(self, deps: BridgeDeps) -> None:
        self.deps = deps
        self.writer = JournalWriter(deps.journal, heartbeat_s=deps.heartbeat_s)
        self.sip: SipServer | None = None
        self.calls: dict[str, Call] = {}  # by SIP Call-ID
        self.ids: dict[str, str] = {}  # SIP Call-ID -> our call id
        self.routed: dict[str, Route] = {}  # SIP Call-ID -> the agent it was routed to, until answered
        self.finished: asyncio.Queue[str] = asyncio.Queue()  # our call ids, as their flush completes
        self.running: set[str] = set()  # answered calls not yet flushed

    async def on_offer(self, info: CallInfo) -> Decision:
        # SIP Call-IDs carry hosts and odd characters; the record gets an id of our own.
        call_id = f"CA{uuid.uuid4().hex}"
        number = info.dialled_number
        try:
            route = await asyncio.to_thread(self.deps.routes.resolve, number)
        except Exception:
            log.exception("could not route %s", call_id)
            return Reject(503)
        if route is None:
            # No record: nobody answers this number. The line names the number masked, as any value.
            DecisionLog(*self.deps.decision_sinks).record(
                call_id, "routing", "reject", "no agent for the dialled number: 404", masked=mask(number or None)
            )
            return Reject(404)
        self.ids[info.call_id] = call_id
        self.routed[info.call_id] = route
        try:
            started = CallStarted(call_id=call_id, agent=route.agent, spec_version=route.spec_version)
            reply = await self.deps.invoker.policy(started)
        except Exception:
            log.exception("could not start the record for %s", call_id)
            return Reject(503)
        return Accept() if reply.ok else Reject(503)

    async def on_answered(self, info: CallInfo, media: RtpSession) -> None:
        deps, call_id = self.deps, self.ids[info.call_id]
        route = self.routed.pop(info.call_id)
        self.running.add(call_id)
        self.writer.start()  # once, with the first call
        journal = CallJournal(call_id, self.writer, on_turn=deps.turn_listener)
        decisions = DecisionLog(
            *deps.decision_sinks,
            CallbackSink(journal.add_decision),
            agent=route.agent,
            spec_version=route.spec_version,
        )
        decisions.record(call_id, "routing", "accept", "the dialled number's agent answers")
        call = Call(
            call_id,
            route.spec,
            media,
            deps.realtime,
            deps.invoker,
            journal,
            decisions,
            hang_up=lambda: self._hang_up(info.call_id),
            settings=deps.call_settings,
            record_state=lambda: record_state(route.spec, deps.store, call_id),
        )
        self.calls[info.call_id] = call
        try:
            await call.run()
        finally:
            self.calls.pop(info.call_id, None)
            self.ids.pop(info.call_id, None)
            try:
                await asyncio.to_thread(
                    finalize_call, call_id, deps.store, deps.archive, deps.sink, call.usage, deps.prices
                )
            except Exception:  # the reaper and the per-turn store still hold the call
                log.exception("could not finalise %s", call_id)
            self.running.discard(call_id)
            self.finished.put_nowait(call_id)

    async def on_ended(self, info: CallInfo, reason: EndReason) -> None:
        call = self.calls.get(info.call_id)
        if call is not None:
            await call.sip_ended(by_caller=reason is EndReason.REMOTE_BYE)
            return
        call_id = self.ids.pop(info.call_id, None)
        self.routed.pop(info.call_id, None)
        if call_id is not None and reason is EndReason.CANCELLED:
            # Started but never answered: the caller gave up while it rang.
            await self.deps.invoker.policy(CallerHungUp(call_id=call_id))

    def _hang_up(self, sip_call_id: str) -> None:
        if self.sip is not None:
            self.sip.hang_up(sip_call_id)

    async def close(self) -> None:
        """After the last call: stop the journal writer (every call flushed its own entries)."""
        await self.writer.stop()

    @property
    def closing_teardown_s(self) -> float:
        """The longest closing teardown among the calls still running (their agents' limits)."""
        return max((c.spec.limits.closing_teardown_ms for c in self.calls.values()), default=0) / 1000

    async def drain_calls(self) -> None:
        """Past the drain deadline: ask the gate to close every call still running."""
        await asyncio.gather(*(call.drain() for call in list(self.calls.values())), return_exceptions=True)
