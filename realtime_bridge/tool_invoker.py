"""Calls the tool and policy functions: Lambda's Invoke API in AWS, in-process locally.

Both take and return the same JSON event shapes (voice_agent.invocation), so the bridge has one
code path. Neither blocks the event loop: the audio path never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import TypeAdapter

from realtime_bridge.aws_http import HttpError, Response, SignedHttp
from voice_agent.invocation import PolicyEvent, PolicyReply, ToolCall, ToolReply

_POLICY_EVENT: TypeAdapter[PolicyEvent] = TypeAdapter(PolicyEvent)


class ToolInvoker(Protocol):
    async def tool(self, call: ToolCall) -> ToolReply: ...

    async def policy(self, event: PolicyEvent) -> PolicyReply: ...


class Tools(Protocol):
    def execute(self, call: ToolCall) -> ToolReply: ...


class Policy(Protocol):
    def handle(self, event: PolicyEvent) -> PolicyReply: ...


class InvokeError(RuntimeError):
    pass


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # throttled or Lambda's own trouble: try again
INVOKE_ATTEMPTS = 3  # as botocore's standard retry mode
INVOKE_TIMEOUT_S = 15.0  # above the functions' own 10 s timeout (stacks/functions_stack.py): Lambda answers first


class LambdaInvoker:
    """Production: synchronous (RequestResponse) Lambda invokes, signed and sent from the loop
    (aws_http.py says why not boto3 on a thread). A throttle or a 5xx is retried with backoff;
    a function error or any other refusal raises `InvokeError` with what Lambda said."""

    def __init__(self, http: SignedHttp, tools_function: str, policy_function: str, *, backoff_s: float = 0.05) -> None:
        self._http = http
        self._tools, self._policy = tools_function, policy_function
        self._backoff_s = backoff_s

    async def invoke(self, function: str, payload: dict[str, Any]) -> dict[str, Any]:
        path = f"/2015-03-31/functions/{quote(function, safe='')}/invocations"
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"}
        last = ""
        for attempt in range(INVOKE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(self._backoff_s * 2**attempt * (0.5 + random.random()))
            try:
                async with asyncio.timeout(INVOKE_TIMEOUT_S):
                    response = await self._http.request("POST", path, body, headers)
            except HttpError as exc:
                last = f"{function}: {exc}"
                continue
            if response.status in RETRY_STATUSES:
                last = f"{function}: {_aws_error(response)}"
                continue
            if response.status >= 300:
                raise InvokeError(f"{function} refused: {_aws_error(response)}")
            if "x-amz-function-error" in response.headers:
                raise InvokeError(f"{function} failed: {response.body[:300]!r}")
            reply: dict[str, Any] = json.loads(response.body)  # the handlers always answer a JSON object
            return reply
        raise InvokeError(f"gave up after {INVOKE_ATTEMPTS} attempts: {last}")

    async def tool(self, call: ToolCall) -> ToolReply:
        raw = await self.invoke(self._tools, call.model_dump(mode="json", exclude_none=True))
        return ToolReply.model_validate(raw)

    async def policy(self, event: PolicyEvent) -> PolicyReply:
        raw = await self.invoke(self._policy, event.model_dump(mode="json", exclude_none=True))
        return PolicyReply.model_validate(raw)

    async def close(self) -> None:
        await self._http.close()


def _aws_error(response: Response) -> str:
    """`HTTP 429 TooManyRequestsException: Rate exceeded`, from Lambda's error header and body."""
    kind = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
    message = ""
    with contextlib.suppress(ValueError, AttributeError):
        data = json.loads(response.body)
        kind = kind or str(data.get("Type") or data.get("__type") or "")
        message = str(data.get("message") or data.get("Message") or "")
    return f"HTTP {response.status} {kind}: {message}".rstrip(": ")


class InProcessInvoker:
    """Local: the same library calls the Lambda handlers make, with the same event shapes."""

    def __init__(self, tools: Tools, policy: Policy) -> None:
        self._tools, self._policy = tools, policy

    async def tool(self, call: ToolCall) -> ToolReply:
        event = ToolCall.model_validate(call.model_dump(mode="json"))  # the wire round trip
        return await asyncio.to_thread(self._tools.execute, event)

    async def policy(self, event: PolicyEvent) -> PolicyReply:
        parsed = _POLICY_EVENT.validate_python(event.model_dump(mode="json"))
        return await asyncio.to_thread(self._policy.handle, parsed)
