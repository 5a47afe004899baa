"""Which agent answers a dialled number: the registry's answer, cached for a few seconds.

Resolved once per INVITE, before the call is answered, on a worker thread: never on the audio
path. A push is seen by calls that start at most `ttl_s` after it; a call keeps the version it was
routed to. Unknown numbers are cached too, so a burst of them does not become a burst of reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from voice_agent.agent_registry import AgentRegistry
from voice_agent.spec import AgentSpec

ROUTE_TTL_S = 5.0


@dataclass(frozen=True)
class Route:
    agent: str
    spec_version: str
    spec: AgentSpec


class AgentRoutes:
    def __init__(
        self, registry: AgentRegistry, ttl_s: float = ROUTE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._registry, self._ttl_s, self._clock = registry, ttl_s, clock
        self._cache: dict[str, tuple[float, Route | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, number: str) -> Route | None:
        """Blocking (DynamoDB reads on a cache miss): call it from a worker thread."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(number)
        if hit is not None and hit[0] > now:
            return hit[1]
        current = self._registry.route(number)  # no number at all: only the default route answers
        route = (
            Route(current.agent, current.version, self._registry.spec(current.agent, current.version))
            if current
            else None
        )
        with self._lock:
            self._cache[number] = (now + self._ttl_s, route)
        return route
