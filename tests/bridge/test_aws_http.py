"""The bridge's signed AWS requests (aws_http.py) and the Lambda invoker on them, against a small
HTTP server on loopback that answers as scripted: connections kept and reused, a connection the
peer dropped while idle retried, chunked bodies, throttles retried and refusals not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from botocore.credentials import ReadOnlyCredentials

from realtime_bridge.aws_http import Endpoint, HttpError, SignedHttp, parse_head
from realtime_bridge.tool_invoker import INVOKE_ATTEMPTS, InvokeError, LambdaInvoker

Answer = Callable[[int, bytes], bytes]  # (request number, request head) -> raw response


def reply(status: int, body: bytes = b"{}", *, close: bool = False, headers: str = "") -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}{headers}\r\n".encode() + body


class Server:
    def __init__(self, answer: Answer, *, drop_idle: bool = False) -> None:
        self.answer, self.drop_idle = answer, drop_idle
        self.connections = 0
        self.heads: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                _, headers = parse_head(b"HTTP/1.1 200 X\r\n" + head.split(b"\r\n", 1)[1])
                await reader.readexactly(int(headers["content-length"]))
                self.heads.append(head)
                writer.write(self.answer(len(self.heads), head))
                await writer.drain()
                if self.drop_idle:  # the peer closes a kept-alive connection once it is idle
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


READS: list[int] = []


def credentials() -> ReadOnlyCredentials:
    READS.append(1)  # botocore's chain may refresh over the network: read once a minute at most
    return ReadOnlyCredentials("AKIDEXAMPLE", "secret", None)


def run(server: Server, body: Callable[[SignedHttp], Awaitable[None]]) -> None:
    async def main() -> None:
        srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        http = SignedHttp(Endpoint.from_url(f"http://127.0.0.1:{port}", "us-east-1"), "lambda", credentials)
        try:
            await body(http)
        finally:
            await http.close()
            srv.close()

    asyncio.run(main())


def test_requests_are_signed_and_share_one_kept_connection() -> None:
    server = Server(lambda n, head: reply(200, f'{{"n":{n}}}'.encode()))
    READS.clear()

    async def two(http: SignedHttp) -> None:
        for n in (1, 2):
            response = await http.request("POST", "/x", b'{"a":1}', {"Content-Type": "application/json"})
            assert (response.status, json.loads(response.body)) == (200, {"n": n})

    run(server, two)
    assert server.connections == 1 and len(READS) == 1
    head = server.heads[0].decode()
    assert "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" in head and "/us-east-1/lambda/" in head
    assert "secret" not in head


def test_a_connection_dropped_while_idle_is_retried_on_a_fresh_one() -> None:
    server = Server(lambda n, head: reply(200), drop_idle=True)

    async def two(http: SignedHttp) -> None:
        for _ in range(2):
            assert (await http.request("POST", "/x", b"{}", {})).status == 200

    run(server, two)
    assert server.connections == 2 and len(server.heads) == 2


def test_chunked_bodies_and_connection_close() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunked = head + b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    server = Server(lambda n, head: chunked)

    async def two(http: SignedHttp) -> None:
        for _ in range(2):
            assert json.loads((await http.request("GET", "/x", b"", {})).body) == {"a": 1}

    run(server, two)
    assert server.connections == 2  # "Connection: close" is honoured: never reused


def test_what_is_not_http_is_an_error_not_a_crash() -> None:
    with pytest.raises(HttpError):
        parse_head(b"SIP/2.0 200 OK\r\n\r\n")
    with pytest.raises(HttpError):
        parse_head(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")
    assert parse_head(b"HTTP/1.1 404 Not Found\r\nX-Amzn-ErrorType: Foo:bar\r\n\r\n") == (
        404,
        {"x-amzn-errortype": "Foo:bar"},
    )


def invoke_with(answer: Answer) -> tuple[Server, dict[str, object] | Exception]:
    server = Server(answer)
    outcome: list[dict[str, object] | Exception] = []

    async def invoke(http: SignedHttp) -> None:
        invoker = LambdaInvoker(http, "tools", "policy", backoff_s=0.001)
        try:
            outcome.append(await invoker.invoke("voice-agent-tools", {"call_id": "CA1"}))
        except InvokeError as exc:
            outcome.append(exc)

    run(server, invoke)
    return server, outcome[0]


def test_a_throttled_invoke_is_retried_and_answers() -> None:
    server, result = invoke_with(lambda n, head: reply(429, b'{"Type":"User"}') if n == 1 else reply(200, b'{"ok":1}'))
    assert result == {"ok": 1} and len(server.heads) == 2
    assert server.heads[0].startswith(b"POST /2015-03-31/functions/voice-agent-tools/invocations HTTP/1.1")


def test_invokes_give_up_after_the_attempts_and_never_retry_a_refusal() -> None:
    busy = reply(503, b'{"message":"busy"}', headers="X-Amzn-ErrorType: ServiceException:http://x\r\n")
    server, result = invoke_with(lambda n, head: busy)
    assert isinstance(result, InvokeError) and "503 ServiceException: busy" in str(result)
    assert len(server.heads) == INVOKE_ATTEMPTS
    server, result = invoke_with(lambda n, head: reply(403, b'{"message":"denied"}'))
    assert isinstance(result, InvokeError) and "403" in str(result) and len(server.heads) == 1
    raised = reply(200, b'{"errorMessage":"x"}', headers="X-Amz-Function-Error: Unhandled\r\n")
    server, result = invoke_with(lambda n, head: raised)
    assert isinstance(result, InvokeError) and "errorMessage" in str(result) and len(server.heads) == 1


def test_https_endpoints_are_verified_with_the_ca_bundle_boto3_would_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS is https: both clients verify it against AWS_CA_BUNDLE (else botocore's own bundle)."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from realtime_bridge.aws_http import BlockingSignedHttp
    from simulator.loopback_tls import make_loopback_tls

    tls = make_loopback_tls()

    class Ok(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Ok)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.bridge_cert, tls.bridge_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = Endpoint.from_url(f"https://127.0.0.1:{server.server_address[1]}", "us-east-1")
    try:
        with pytest.raises(HttpError):  # a CA nobody configured is not trusted
            BlockingSignedHttp(endpoint, "dynamodb", credentials).request("POST", "/", b"{}", {})
        monkeypatch.setenv("AWS_CA_BUNDLE", tls.ca_file)
        assert BlockingSignedHttp(endpoint, "dynamodb", credentials).request("POST", "/", b"{}", {}).status == 200

        async def signed() -> int:
            http = SignedHttp(endpoint, "lambda", credentials)
            try:
                return (await http.request("POST", "/x", b"{}", {})).status
            finally:
                await http.close()

        assert asyncio.run(signed()) == 200
    finally:
        server.shutdown()
        tls.close()
