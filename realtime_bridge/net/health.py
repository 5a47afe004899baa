"""HTTP health endpoint for the container: ``GET /health`` -> 200 healthy, 503 draining.

A few lines of asyncio instead of a web framework: one route, one JSON body, no dependency.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from pydantic import BaseModel

log = logging.getLogger(__name__)


class HealthStatus(BaseModel):
    healthy: bool
    draining: bool
    active_calls: int


def render(status: HealthStatus, path: str) -> bytes:
    if path.split("?")[0] not in ("/health", "/"):
        code, body = 404, b'{"error":"not found"}'
    else:
        code = 200 if status.healthy and not status.draining else 503
        body = json.dumps(status.model_dump()).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
    head = (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class HealthServer:
    def __init__(self, status: Callable[[], HealthStatus]) -> None:
        self._status = status
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else "/"
            writer.write(render(self._status(), path))
            await writer.drain()
        except (TimeoutError, ConnectionError) as exc:
            log.debug("health request dropped: %s", exc)
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
