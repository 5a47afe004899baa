"""The work a call hands off the audio path: tool rounds and policy calls, each turned into the
event call control hears back. An invoke that fails is an answer too (the model is told the
tool could not run; call control retries or hangs up on a failed policy call)."""

from __future__ import annotations

import asyncio
import logging

from realtime_bridge.call_events import CallPolicy, PolicyDone, RunTools, ToolRoundDone
from realtime_bridge.tool_invoker import ToolInvoker
from voice_agent.directives import Directive
from voice_agent.invocation import ToolCall

log = logging.getLogger(__name__)
TOOL_FAILED = "The tool could not run; nothing was recorded. Ask the caller to repeat, then call it again."


async def tool_round(invoker: ToolInvoker, call_id: str, action: RunTools, turn_seq: int | None) -> ToolRoundDone:
    outputs: list[tuple[str, str]] = []
    directives: list[Directive] = []
    for call in action.calls:
        request = ToolCall(
            call_id=call_id, name=call.name, arguments=call.arguments, tool_call_id=call.call_id, turn_seq=turn_seq
        )
        try:
            reply = await invoker.tool(request)
        except Exception:  # one failed invoke must not end the call: the model is told
            log.exception("call %s: tool %s failed", call_id, call.name)
            outputs.append((call.call_id, TOOL_FAILED))
            continue
        outputs.append((call.call_id, reply.output))
        directives.extend(reply.directives)
    return ToolRoundDone(action.response_id, action.session, tuple(outputs), tuple(directives))


async def policy_call(invoker: ToolInvoker, call_id: str, action: CallPolicy) -> PolicyDone:
    if action.delay_s:
        await asyncio.sleep(action.delay_s)
    try:
        reply = await invoker.policy(action.event)
    except Exception:  # call control retries or hangs up: a failed invoke never leaves the line open
        log.exception("call %s: policy %s failed", call_id, action.event.action)
        return PolicyDone(action.event.action, False)
    return PolicyDone(action.event.action, True, tuple(reply.directives))
