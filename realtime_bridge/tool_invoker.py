"""Calls the tool and policy functions: boto3 Lambda invoke in AWS, in-process locally.

Both take and return the same JSON event shapes (voice_agent.invocation), so the bridge has one
code path. Both run off the event loop (a worker thread): the audio path never waits on them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from pydantic import TypeAdapter

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


class LambdaInvoker:
    """Production: synchronous Lambda invokes (RequestResponse) on a worker thread."""

    def __init__(self, lambda_client: Any, tools_function: str, policy_function: str) -> None:
        self._client = lambda_client
        self._tools, self._policy = tools_function, policy_function

    def _invoke(self, function: str, payload: dict[str, Any]) -> dict[str, Any]:
        res = self._client.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        body = res["Payload"].read()
        if res.get("FunctionError"):
            raise InvokeError(f"{function} failed: {body[:300]!r}")
        reply: dict[str, Any] = json.loads(body)  # the handlers always answer a JSON object
        return reply

    async def tool(self, call: ToolCall) -> ToolReply:
        raw = await asyncio.to_thread(self._invoke, self._tools, call.model_dump(mode="json", exclude_none=True))
        return ToolReply.model_validate(raw)

    async def policy(self, event: PolicyEvent) -> PolicyReply:
        raw = await asyncio.to_thread(self._invoke, self._policy, event.model_dump(mode="json", exclude_none=True))
        return PolicyReply.model_validate(raw)


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
