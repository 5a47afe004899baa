"""AWS requests from the event loop: SigV4-signed HTTP/1.1 on kept-alive connections, no thread.

Why not boto3 on a worker thread: at 100 calls a boto3 Lambda invoke cost about 1.5 ms of CPU
(parameter validation, hooks, user-agent strings, response parsing) and handed the GIL back and
forth with the loop that paces every call's audio. The same request signed (sigv4.py: botocore's
signature, byte for byte, with the day's key kept) and written on an asyncio stream costs a small
part of that, on the loop. Lambda's Invoke is one POST whose body is the payload, which is all
this speaks; botocore still owns credentials (refreshed on a worker thread, never on the loop).

The framing and signing are sans-I/O (`request_bytes`, `parse_head`, `signed_headers`);
`SignedHttp` is the loop's shell (Lambda invokes), `BlockingSignedHttp` a worker thread's
(the journal writer's DynamoDB requests, journal_table.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.credentials import ReadOnlyCredentials
from botocore.httpsession import get_cert_path

from realtime_bridge.sigv4 import SigV4Signer

MAX_HEAD = 64 * 1024
CREDENTIALS_TTL_S = 60.0  # botocore's refreshable credentials renew well before they expire


class HttpError(Exception):
    """The connection broke or the peer spoke something that is not HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    region: str

    @classmethod
    def from_url(cls, url: str, region: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {url!r}")
        return cls(parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), region)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host + ("" if self.port == default else f":{self.port}")

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host_header}"

    def signer(self, service: str) -> SigV4Signer:
        return SigV4Signer(service, self.region, self.host_header)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


# ---- sans-I/O framing ---------------------------------------------------------------------------
def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"{method} {path} HTTP/1.1"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers of a response head (the bytes up to and including the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise HttpError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(f"malformed header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return int(code), headers


def keeps_alive(headers: dict[str, str]) -> bool:
    return headers.get("connection", "").lower() != "close"


def signed_headers(
    signer: SigV4Signer, credentials: ReadOnlyCredentials, method: str, path: str, body: bytes, headers: dict[str, str]
) -> dict[str, str]:
    """`headers` plus the SigV4 signature, Host and Content-Length for this request."""
    signed = signer.headers(credentials, method, path, body, headers)
    signed["Host"] = signer.host
    signed["Content-Length"] = str(len(body))
    return signed


# ---- the shell ------------------------------------------------------------------------------------
class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, data: bytes) -> Response:
        self.writer.write(data)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise HttpError("response head too long") from exc
        status, headers = parse_head(head)
        return Response(status, headers, await self._body(headers))

    async def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")  # no trailers from AWS: the final CRLF
                    return b"".join(chunks)
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            raise HttpError("a response without a length")
        return await self.reader.readexactly(int(length))

    def close(self) -> None:
        self.writer.close()


class SignedHttp:
    """Signed requests to one AWS endpoint, at most `max_connections` at once, connections kept."""

    def __init__(
        self,
        endpoint: Endpoint,
        service: str,
        credentials: Callable[[], ReadOnlyCredentials],
        *,
        max_connections: int = 32,
        connect_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint, self._signer = endpoint, endpoint.signer(service)
        self._credentials, self._clock = credentials, clock
        self._frozen: tuple[float, ReadOnlyCredentials] | None = None
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._connect_timeout_s = connect_timeout_s
        self._tls = tls_context() if endpoint.scheme == "https" else None

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
        """One request (`path` already URL-quoted). A kept-alive connection the peer closed while
        idle is retried once on a fresh one, as every HTTP client does; other failures raise."""
        signed = signed_headers(self._signer, await self._current_credentials(), method, path, body, headers)
        data = request_bytes(method, path, signed, body)
        async with self._slots:
            reused = bool(self._idle)
            connection = self._idle.pop() if reused else await self._open()
            try:
                response = await connection.exchange(data)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                connection.close()
                if not reused:
                    raise HttpError(f"{type(exc).__name__}: {exc}") from exc
                connection = await self._open()
                try:
                    response = await connection.exchange(data)
                except (asyncio.IncompleteReadError, ConnectionError, HttpError) as again:
                    connection.close()
                    raise HttpError(f"{type(again).__name__}: {again}") from again
            except BaseException:
                connection.close()  # a timeout or cancel mid-response: the stream is out of step
                raise
            if keeps_alive(response.headers):
                self._idle.append(connection)
            else:
                connection.close()
            return response

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
            with contextlib.suppress(Exception):
                await connection.writer.wait_closed()

    async def _open(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.endpoint.host,
                    self.endpoint.port,
                    ssl=self._tls,
                    server_hostname=self.endpoint.host if self._tls else None,
                    limit=MAX_HEAD,
                ),
                self._connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise HttpError(f"cannot connect to {self.endpoint.base}: {exc}") from exc
        return _Connection(reader, writer)

    async def _current_credentials(self) -> ReadOnlyCredentials:
        # Reading botocore's credentials may refresh them over the network (the container's
        # credentials endpoint): a worker thread does that, once a minute at most.
        now = self._clock()
        if self._frozen is None or now - self._frozen[0] > CREDENTIALS_TTL_S:
            self._frozen = (now, await asyncio.to_thread(self._credentials))
        return self._frozen[1]


class BlockingSignedHttp:
    """The same signed requests for a worker thread (the journal writer's): one kept connection,
    reopened when the peer closed it. botocore refreshes credentials on this thread when due."""

    def __init__(self, endpoint: Endpoint, service: str, credentials: Callable[[], ReadOnlyCredentials],
                 *, timeout_s: float = 10.0) -> None:  # fmt: skip
        self.endpoint, self._signer, self._credentials = endpoint, endpoint.signer(service), credentials
        self._timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
        signed = signed_headers(self._signer, self._credentials(), method, path, body, headers)
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or self._open()
            self._connection = None
            try:
                connection.request(method, path, body, signed)
                raw = connection.getresponse()
                response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
            except (http.client.HTTPException, OSError) as exc:
                connection.close()
                if reused and attempt == 1:
                    continue  # a kept connection the peer closed while idle: once more, fresh
                raise HttpError(f"{type(exc).__name__}: {exc}") from exc
            if keeps_alive(response.headers):
                self._connection = connection
            else:
                connection.close()
            return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> http.client.HTTPConnection:
        e = self.endpoint
        if e.scheme == "https":
            return http.client.HTTPSConnection(e.host, e.port, timeout=self._timeout_s, context=tls_context())
        return http.client.HTTPConnection(e.host, e.port, timeout=self._timeout_s)


def tls_context() -> ssl.SSLContext:
    """The CA bundle boto3 would verify AWS with: AWS_CA_BUNDLE when set, else botocore's default."""
    return ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))


def endpoint_of(session: Any, service: str, endpoint_url: str | None = None) -> Endpoint:
    """The service's endpoint for the session's region (AWS_ENDPOINT_URL and the like as boto3
    reads them; `endpoint_url` overrides)."""
    client = session.client(service, endpoint_url=endpoint_url)  # only to resolve the endpoint
    return Endpoint.from_url(client.meta.endpoint_url, client.meta.region_name)


def frozen_credentials(session: Any) -> Callable[[], ReadOnlyCredentials]:
    """botocore's credential chain of a boto3 session (the task role in ECS), read when called."""
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found for the bridge")
    read: Callable[[], ReadOnlyCredentials] = credentials.get_frozen_credentials
    return read


def lambda_http(session: Any, endpoint_url: str | None = None) -> SignedHttp:
    """Lambda, for the bridge's invokes, with the session's credentials."""
    return SignedHttp(endpoint_of(session, "lambda", endpoint_url), "lambda", frozen_credentials(session))
