"""The stand-in's network face: Realtime over websocket and the post-call chat
completions over HTTP, on one loopback port, in one process.

Thin by design: every protocol decision lives in RealtimeSession; this file only moves
bytes and time. The public port is a FrontDoor (http_api.py) that relays websocket
upgrades to a websockets server on an internal port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from simulator import protocol_errors, speech
from simulator.http_api import FrontDoor, HttpApi
from simulator.realtime_session import Close, RealtimeSession
from simulator.scenario import Scenario, load_scenario
from simulator.scripted_model import ScriptedModel
from simulator.transcriber import SpokenAudio

log = logging.getLogger("simulator")
DEFAULT_MODEL = "gpt-realtime-2.1"


@dataclass
class SessionLog:
    """Everything one websocket session sent and received, for tests and debugging."""

    model: str
    received: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None


@dataclass
class SimulatorConfig:
    scenario: Scenario | None = None
    # Several agents behind one bridge: a session opened for one of these realtime models plays
    # that model's scenario (each agent names its model in its spec); others play `scenario`.
    by_model: dict[str, Scenario] = field(default_factory=dict)
    seed: int = 0
    speed: float = 4.0  # audio generated this many times faster than real time
    session_limit_s: float = 3600.0
    engine: speech.Engine = "auto"
    first_audio_ms: int | None = None  # overrides the scenario knob when set
    # Stand-ins for other chat-completions LLMs, by their response_format json_schema name: the
    # request body in (validated as the SDK's), the reply's content out (an evaluation's judge, persona).
    chat_answerers: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    # Every utterance the sessions rendered, for POST /v1/audio/transcriptions to recognise.
    spoken: SpokenAudio = field(default_factory=SpokenAudio)


class SimulatorHandle:
    def __init__(
        self, config: SimulatorConfig, ws_server: Server, http_server: asyncio.Server, front: FrontDoor, host: str
    ) -> None:
        self.config = config
        self.sessions: list[SessionLog] = []
        self.refused: list[int] = []  # HTTP statuses of handshakes refused by `refuse_connect`
        self.accepted = 0  # handshakes let through (refuse_connect_after counts these)
        self.next_response_index = itertools.count().__next__  # across sessions: failed_responses etc.
        self._ws = ws_server
        self._http = http_server
        self._front = front
        port = http_server.sockets[0].getsockname()[1]
        self.port = port
        self.url = f"ws://{host}:{port}/v1"  # AsyncOpenAI(websocket_base_url=...)
        self.http_url = f"http://{host}:{port}/v1"  # AsyncOpenAI(base_url=...); enough on its own

    @property
    def http_requests(self) -> list[dict[str, Any]]:
        """Every chat-completions request body received, in order."""
        return list(self._front.api.requests)

    @property
    def transcription_requests(self) -> list[dict[str, Any]]:
        """Every transcription request's form fields (and the file's name and content type), in order."""
        return list(self._front.api.transcriptions)

    async def close(self) -> None:
        self._ws.close()
        self._http.close()
        self._front.close_all()
        await self._ws.wait_closed()
        await self._http.wait_closed()

    async def __aenter__(self) -> SimulatorHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _reject(connection: ServerConnection, status: HTTPStatus, message: str) -> Response:
    body = json.dumps({"error": {"type": "invalid_request_error", "code": None, "message": message}})
    response = connection.respond(status, body)
    response.headers["Content-Type"] = "application/json"
    return response


def _process_request(handle: SimulatorHandle, connection: ServerConnection, request: Request) -> Response | None:
    path = urlsplit(request.path).path
    if not path.rstrip("/").endswith("/realtime"):
        return _reject(connection, HTTPStatus.NOT_FOUND, f"Invalid URL (GET {path})")
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return _reject(connection, HTTPStatus.UNAUTHORIZED, "You didn't provide an API key.")
    knobs = handle.config.scenario.model if handle.config.scenario else None
    if knobs is not None and knobs.refuse_connect is not None and handle.accepted >= knobs.refuse_connect_after:
        handle.refused.append(knobs.refuse_connect)
        body = json.dumps(protocol_errors.handshake_refusal(knobs.refuse_connect))
        response = connection.respond(HTTPStatus(knobs.refuse_connect), body)
        response.headers["Content-Type"] = "application/json"
        return response
    handle.accepted += 1
    return None


async def start(
    scenario: Scenario | str | Path | None = None,
    seed: int | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> SimulatorHandle:
    """Start the stand-in on loopback (port 0 = a free port). Returns a handle with
    `.url` (websocket base), `.http_url` (HTTP base, same port), `.sessions` and `.close()`."""
    if isinstance(scenario, str | Path):
        scenario = load_scenario(scenario)
    if seed is None:
        seed = scenario.seed if scenario is not None else 0
    config = SimulatorConfig(scenario=scenario, seed=seed, **options)
    holder: list[SimulatorHandle] = []

    async def handler(connection: ServerConnection) -> None:
        await _serve_session(connection, holder[0])

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        return _process_request(holder[0], connection, request)

    ws_server = await serve(handler, host, 0, process_request=process_request, max_size=None, compression=None)
    ws_port = next(iter(ws_server.sockets)).getsockname()[1]
    front = FrontDoor(HttpApi(config), host, ws_port)
    http_server = await asyncio.start_server(front.handle, host, port)
    holder.append(SimulatorHandle(config, ws_server, http_server, front, host))
    return holder[0]


def _new_session(handle: SimulatorHandle, model_name: str, index: int) -> RealtimeSession:
    config = handle.config
    scenario = config.by_model.get(model_name, config.scenario)
    first_audio = config.first_audio_ms
    if first_audio is None:
        first_audio = scenario.model.first_audio_ms if scenario else 200
    engine = config.engine
    drop = scenario.model.drop_session_at_s if scenario and index == 0 else None  # the first session only
    return RealtimeSession(
        model=ScriptedModel(scenario, seed=config.seed),
        seed=config.seed * 1000 + index,
        model_name=model_name,
        now_ms=_now_ms(),
        epoch_s=int(time.time()),
        render=lambda text, language: _render(config.spoken, text, engine, language),
        language=scenario.caller.language if scenario else "en",
        limit_s=config.session_limit_s,
        speed=config.speed,
        first_audio_ms=first_audio,
        drop_after_s=drop,
        next_response_index=handle.next_response_index,
    )


def _render(spoken: SpokenAudio, text: str, engine: speech.Engine, language: str) -> bytes:
    audio = speech.synthesize(text, engine, language)
    spoken.add(text, audio)
    return audio


def _now_ms() -> float:
    return time.monotonic() * 1000


async def _serve_session(connection: ServerConnection, handle: SimulatorHandle) -> None:
    request = connection.request
    assert request is not None
    query = parse_qs(urlsplit(request.path).query)
    model_name = (query.get("model") or [DEFAULT_MODEL])[0]
    record = SessionLog(model=model_name)
    handle.sessions.append(record)
    session = _new_session(handle, model_name, len(handle.sessions) - 1)
    outs = session.open()
    if _beta_header(request.headers):
        outs = session.reject_beta()
    try:
        while True:
            for out in outs:
                if isinstance(out, Close):
                    record.close_code = out.code
                    await connection.close(out.code, out.reason)
                    return
                record.sent.append(out)
                await connection.send(json.dumps(out, separators=(",", ":")))
            timeout = max(0.0, (session.next_deadline_ms() - _now_ms()) / 1000)
            try:
                message = await asyncio.wait_for(connection.recv(), timeout)
            except TimeoutError:
                outs = session.poll(_now_ms())
                continue
            try:
                record.received.append(json.loads(message))
            except ValueError:
                record.received.append({"unparsed": str(message)[:200]})
            outs = session.receive(message, _now_ms())
    except ConnectionClosed:
        record.close_code = connection.close_code
    except Exception:
        log.exception("simulator session failed")  # e.g. a WireViolation: close so the client sees it
        record.close_code = 1011
        await connection.close(1011, "simulator internal error")
        raise


def _beta_header(headers: Headers) -> bool:
    return any("realtime=v1" in value for value in headers.get_all("OpenAI-Beta"))
