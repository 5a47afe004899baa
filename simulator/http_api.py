"""HTTP side of the stand-in: POST /v1/chat/completions for the post-call extraction (and other
stand-in LLMs by schema name), POST /v1/audio/transcriptions for what the stand-in itself said
(transcriber.py), and the front door that shares one port between HTTP and the websocket.

A deliberately tiny HTTP/1.1 server (Content-Length bodies, keep-alive) on asyncio
streams: the SDK's httpx client is the only caller. The request is checked against
the SDK's own request type and the reply against its ChatCompletion (Transcription) model.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hashlib
import json
import time
import wave
from typing import TYPE_CHECKING, Any

from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from pydantic import TypeAdapter, ValidationError

from simulator import mulaw, transcriber
from simulator.extractor import ExtractionRequest, extract

if TYPE_CHECKING:
    from simulator.server import SimulatorConfig

_REQUEST = TypeAdapter(CompletionCreateParamsNonStreaming)
MAX_BODY = 8 * 1024 * 1024


class HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class HttpApi:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.requests: list[dict[str, Any]] = []
        self.transcriptions: list[dict[str, Any]] = []  # each request's form fields, the file's name and type

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes | None = None
    ) -> None:
        """Serve requests until the client closes; `head` is a first request head already read."""
        try:
            while True:
                if head is None:
                    head = await reader.readuntil(b"\r\n\r\n")
                method, path, headers = _parse_head(head)
                length = int(headers.get("content-length", "0"))
                if length > MAX_BODY:
                    break
                body = await reader.readexactly(length) if length else b""
                status, payload = self._route(method, path, headers, body)
                _write(writer, status, payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
                head = None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass  # client went away or sent garbage: drop the connection
        finally:
            writer.close()

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            if not headers.get("authorization", "").startswith("Bearer "):
                raise HttpError(401, "You didn't provide an API key.")
            route = (method, path.split("?")[0].rstrip("/"))
            if route == ("POST", "/v1/audio/transcriptions"):
                return 200, self.transcribe(headers.get("content-type", ""), body)
            if route != ("POST", "/v1/chat/completions"):
                raise HttpError(404, f"Invalid URL ({method} {path})")
            return 200, self.chat_completion(json.loads(body))
        except HttpError as exc:
            return exc.status, {
                "error": {"message": str(exc), "type": "invalid_request_error", "param": None, "code": exc.code}
            }
        except ValueError as exc:
            return 400, {
                "error": {
                    "message": f"Invalid JSON body: {exc}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }

    def transcribe(self, content_type: str, body: bytes) -> dict[str, Any]:
        """multipart/form-data as the SDK sends it: the fields, and `file` (a 16-bit PCM WAV)."""
        if not content_type.startswith("multipart/form-data"):
            raise HttpError(400, "Expected multipart/form-data.")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        fields: dict[str, Any] = {}
        upload: tuple[str, str, bytes] | None = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(data, bytes):
                continue
            if name == "file":
                upload = (str(part.get_filename() or ""), part.get_content_type(), data)
            else:
                fields[name] = data.decode()
        self.transcriptions.append(
            {**fields, "filename": upload[0] if upload else None, "file_type": upload[1] if upload else None}
        )
        try:
            transcriber.FORM.validate_python(fields)
        except ValidationError as exc:
            raise HttpError(400, f"Invalid request: {exc}", "invalid_value") from exc
        if upload is None:
            raise HttpError(400, "Missing the `file` part.")
        try:
            audio = mulaw.from_wav(upload[2])
        except (wave.Error, EOFError) as exc:
            raise HttpError(
                400, f"The simulated transcriber reads 16-bit PCM WAV only: {exc}", "invalid_value"
            ) from exc
        text = self.config.spoken.recognise(audio)
        return transcriber.transcription(text, mulaw.duration_ms(audio))

    def chat_completion(self, data: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(data)
        try:
            _REQUEST.validate_python(data)
        except ValidationError as exc:
            raise HttpError(400, f"Invalid request: {exc}", "invalid_value") from exc
        response_format = data.get("response_format") or {}
        if response_format.get("type") != "json_schema":
            raise HttpError(400, "The simulated extractor answers only response_format json_schema.", "invalid_value")
        users = [m for m in data["messages"] if m.get("role") == "user"]
        if not users or not isinstance(users[-1].get("content"), str):
            raise HttpError(400, "The last user message must carry the request as JSON text.")
        schema = str((response_format.get("json_schema") or {}).get("name", ""))
        answer = self.config.chat_answerers.get(schema)
        if answer is not None:  # another stand-in LLM registered by its schema name (an eval's judge, persona)
            try:
                content = answer(data)
            except ValidationError as exc:
                raise HttpError(400, f"Request does not match the {schema} contract: {exc}") from exc
        else:
            try:
                request = ExtractionRequest.model_validate_json(users[-1]["content"])
            except ValidationError as exc:
                raise HttpError(400, f"Extraction request does not match the contract: {exc}") from exc
            content = extract(request, self.config.scenario).model_dump_json()
        digest = hashlib.sha256(users[-1]["content"].encode()).hexdigest()[:24]
        reply = {
            "id": f"chatcmpl-{digest}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": data["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                }
            ],
            "usage": {
                "prompt_tokens": len(users[-1]["content"]) // 4,
                "completion_tokens": len(content) // 4,
                "total_tokens": (len(users[-1]["content"]) + len(content)) // 4,
            },
        }
        ChatCompletion.model_validate(reply)
        return reply


def last_user_text(body: dict[str, Any]) -> str:
    """A chat request's last user message (the stand-ins' requests carry their JSON there)."""
    users = [m for m in body["messages"] if m.get("role") == "user"]
    return str(users[-1]["content"])


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


def _write(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


class FrontDoor:
    """One port for both SDK base URLs: websocket upgrades are relayed byte for byte to
    the websockets server on an internal port (its handshake parser takes GET only);
    everything else is plain HTTP for HttpApi. With one port, OPENAI_BASE_URL alone
    routes the SDK's realtime and chat calls here (it derives the ws URL from it)."""

    def __init__(self, api: HttpApi, host: str, ws_port: int) -> None:
        self.api, self.host, self.ws_port = api, host, ws_port
        self._open: set[asyncio.StreamWriter] = set()

    def close_all(self) -> None:
        """Drop idle keep-alive clients so shutdown never waits on them."""
        for writer in list(self._open):
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            await self._handle(reader, writer)
        finally:
            self._open.discard(writer)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        _method, _path, headers = _parse_head(head)
        if headers.get("upgrade", "").lower() != "websocket":
            await self.api.handle_connection(reader, writer, head)
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.ws_port)
        up_writer.write(head)
        tasks = [asyncio.create_task(_pipe(reader, up_writer)), asyncio.create_task(_pipe(up_reader, writer))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (ConnectionError, OSError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            up_writer.close()
            writer.close()
