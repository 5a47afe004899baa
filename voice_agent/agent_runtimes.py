"""Tools, policy and the post-call pass for many agents: each call runs with the agent and spec
version on its record, never with one from configuration.

A `CallRuntime` (and whatever is built on it: executor, policy service, reconciler) is made once
per (agent, version) and kept, as is the parsed spec: a version's text never changes. Finding a
tool call's version costs no extra read: the executor is handed the META it was found by.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from . import steering
from .agent_registry import AgentRegistry, RegistryError
from .call_runtime import CallRuntime, wall_clock_ms
from .decisions import DecisionLog
from .end_call_gate import UnknownCall
from .invocation import CallStarted, PolicyEvent, PolicyReply, ToolCall, ToolReply
from .policy_service import PolicyService
from .record_store import RecordStore
from .tool_executor import ToolExecutor

T = TypeVar("T")


class AgentRuntimes:
    """One CallRuntime per (agent, spec version), its decision log stamping both."""

    def __init__(
        self,
        registry: AgentRegistry,
        store: RecordStore,
        log: DecisionLog,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.registry, self.store, self._log, self._clock_ms = registry, store, log, clock_ms
        self._made: dict[tuple[str, str], CallRuntime] = {}
        self._lock = threading.Lock()

    def for_version(self, agent: str, version: str) -> CallRuntime:
        with self._lock:
            rt = self._made.get((agent, version))
        if rt is None:
            spec = self.registry.spec(agent, version)  # outside the lock: a table read on first use
            rt = CallRuntime(
                spec=spec,
                store=self.store,
                log=self._log.for_agent(agent, version),
                clock_ms=self._clock_ms,
                spec_version=version,
            )
            with self._lock:
                rt = self._made.setdefault((agent, version), rt)
        return rt

    def for_call(self, call_id: str) -> CallRuntime:
        """The runtime of the version on the call's record; UnknownCall when there is no record."""
        meta = self.store.get_call(call_id)
        if meta is None or meta.spec_version is None:
            raise UnknownCall(call_id)
        return self.for_version(meta.agent, meta.spec_version)


class PerAgent(Generic[T]):
    """Something built on a CallRuntime (an executor, a reconciler), made once per version."""

    def __init__(self, runtimes: AgentRuntimes, make: Callable[[CallRuntime], T]) -> None:
        self.runtimes, self._make = runtimes, make
        self._made: dict[int, T] = {}
        self._lock = threading.Lock()

    def _of(self, rt: CallRuntime) -> T:
        with self._lock:
            made = self._made.get(id(rt))
            if made is None:
                made = self._made[id(rt)] = self._make(rt)
            return made

    def for_call(self, call_id: str) -> T:
        return self._of(self.runtimes.for_call(call_id))

    def for_version(self, agent: str, version: str) -> T:
        return self._of(self.runtimes.for_version(agent, version))


class RoutedTools:
    """The tools function for every agent: the call's record says which executor answers."""

    def __init__(self, runtimes: AgentRuntimes) -> None:
        self._store = runtimes.store
        self._executors = PerAgent(runtimes, ToolExecutor)

    def execute(self, call: ToolCall) -> ToolReply:
        meta = self._store.get_call(call.call_id)  # one read: it picks the version and the executor uses it
        if meta is None or meta.spec_version is None:
            return ToolReply(ok=False, output=steering.call_not_active(), error=f"unknown call {call.call_id}")
        return self._executors.for_version(meta.agent, meta.spec_version).execute(call, meta)


class RoutedPolicy:
    """The policy function for every agent. call_started names the agent and version the bridge
    routed to (the record does not exist yet); every other event finds them on the record."""

    def __init__(self, runtimes: AgentRuntimes) -> None:
        self._services = PerAgent(runtimes, PolicyService)

    def handle(self, event: PolicyEvent) -> PolicyReply:
        if isinstance(event, CallStarted):
            if event.agent is None or event.spec_version is None:
                return PolicyReply(ok=False, error="call_started needs the routed agent and spec_version")
            try:
                service = self._services.for_version(event.agent, event.spec_version)
            except RegistryError as err:
                return PolicyReply(ok=False, error=str(err))
            return service.handle(event)
        return self._services.for_call(event.call_id).handle(event)  # UnknownCall: the handler answers
