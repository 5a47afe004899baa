"""Lambda: policy events from the bridge (call start, hang-up, escapes, closing, read-back)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter

from functions.common import build_runtimes, dump, logger, metrics, parse_event, read_settings
from voice_agent.agent_runtimes import RoutedPolicy
from voice_agent.end_call_gate import UnknownCall
from voice_agent.invocation import PolicyEvent, PolicyReply

SERVICE = RoutedPolicy(build_runtimes(read_settings()))
EVENTS: TypeAdapter[PolicyEvent] = TypeAdapter(PolicyEvent)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="call_id")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    parsed = parse_event(EVENTS, event)
    if isinstance(parsed, str):
        return dump(PolicyReply(ok=False, error=parsed))
    try:
        reply = SERVICE.handle(parsed)
    except UnknownCall as err:
        metrics.add_metric(name="UnknownCalls", unit=MetricUnit.Count, value=1)
        return dump(PolicyReply(ok=False, error=f"unknown call {err}"))
    metrics.add_metric(name="PolicyEvents", unit=MetricUnit.Count, value=1)
    if reply.verdict == "deny":
        metrics.add_metric(name="GateDenials", unit=MetricUnit.Count, value=1)
    return dump(reply)
