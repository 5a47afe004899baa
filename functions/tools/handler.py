"""Lambda: every tool call from the bridge. Parse -> ToolExecutor -> reply."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter

from functions.common import build_runtimes, dump, logger, metrics, parse_event, read_settings
from voice_agent.agent_runtimes import RoutedTools
from voice_agent.invocation import ToolCall, ToolReply
from voice_agent.tool_catalog import END_CALL

EXECUTOR = RoutedTools(build_runtimes(read_settings()))
EVENTS = TypeAdapter(ToolCall)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="call_id")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    call = parse_event(EVENTS, event)
    if isinstance(call, str):
        return dump(ToolReply(ok=False, output="The tool call was not understood; nothing was recorded.", error=call))
    reply = EXECUTOR.execute(call)
    metrics.add_metric(name="ToolCalls", unit=MetricUnit.Count, value=1)
    if not reply.ok:
        metrics.add_metric(name="ToolCallsRejected", unit=MetricUnit.Count, value=1)
        if call.name == END_CALL:
            metrics.add_metric(name="GateDenials", unit=MetricUnit.Count, value=1)
    return dump(reply)
