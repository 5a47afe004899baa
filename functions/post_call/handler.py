"""Lambda: CallEnded (EventBridge) -> the post-call pass for that call. Parse -> Reconciler -> reply.

Raising sends the event back to Lambda's async retries and then to the DLQ: a failed pass (marked
reconcile_failed), a call still live, or a pass another delivery holds right now.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from openai import OpenAI
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from functions.common import MissingConfiguration, build_runtimes, dump, logger, metrics, parse_event, read_settings
from voice_agent.agent_runtimes import PerAgent
from voice_agent.archive_store import ArchiveStore
from voice_agent.call_runtime import CallRuntime
from voice_agent.cost import prices_from_json
from voice_agent.event_bus import BusPublisher
from voice_agent.post_call import ReconcileInProgress, Reconciler


class CallEndedDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    call_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    ended_by: str | None = None
    reason: str | None = None


class CallEndedEvent(BaseModel):
    """The EventBridge envelope, reduced to what routing guarantees and the pass needs (the
    rest, e.g. `account`, is not read, so its absence in an emulator is no reason to refuse)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str | None = None
    source: Literal["voice-agent"]  # event_bus.EVENT_SOURCE
    detail_type: Literal["CallEnded"] = Field(alias="detail-type")
    detail: CallEndedDetail


EVENTS: TypeAdapter[CallEndedEvent] = TypeAdapter(CallEndedEvent)


def _require(*names: str) -> dict[str, str]:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise MissingConfiguration(f"missing environment variables: {', '.join(missing)}")
    return {n: os.environ[n] for n in names}


def openai_client() -> OpenAI:
    """The key from Secrets Manager in AWS (OPENAI_SECRET_ARN), else OPENAI_API_KEY locally.
    OPENAI_BASE_URL, when set, points the SDK at the local simulator."""
    if arn := os.environ.get("OPENAI_SECRET_ARN"):
        key = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"].strip()
    elif not (key := os.environ.get("OPENAI_API_KEY", "")):
        raise MissingConfiguration("set OPENAI_SECRET_ARN (AWS) or OPENAI_API_KEY (local)")
    return OpenAI(api_key=key, base_url=os.environ.get("OPENAI_BASE_URL") or None, max_retries=0)


AGENT_METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "VoiceAgent")
_ENV = _require("ARCHIVE_BUCKET", "EVENT_BUS_NAME", "POST_CALL_MODEL")
_ARCHIVE = ArchiveStore(boto3.client("s3"), _ENV["ARCHIVE_BUCKET"])
_BUS = BusPublisher(boto3.client("events"), _ENV["EVENT_BUS_NAME"])
LLM = openai_client()


PRICES = prices_from_json(os.environ.get("PRICES"))  # a bad value fails the cold start, in one line


def _reconciler(rt: CallRuntime) -> Reconciler:
    return Reconciler(runtime=rt, archive=_ARCHIVE, bus=_BUS, llm=LLM, model=_ENV["POST_CALL_MODEL"], prices=PRICES)


# One reconciler per agent spec version, chosen by the call's record.
RECONCILERS = PerAgent(build_runtimes(read_settings()), _reconciler)


def _count_for_agent(call_id: str) -> None:
    """The dashboard's calls and cost by agent: one call and its priced cost, per agent (EMF)."""
    meta = RECONCILERS.runtimes.store.get_call(call_id)
    if meta is None:
        return
    for name, unit, value in (
        ("AgentCalls", MetricUnit.Count, 1.0),
        ("AgentCostUsd", MetricUnit.NoUnit, meta.cost_usd or 0.0),
    ):
        with single_metric(name=name, unit=unit, value=value, namespace=AGENT_METRICS_NAMESPACE) as metric:
            metric.add_dimension(name="agent", value=meta.agent)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="detail.call_id")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    parsed = parse_event(EVENTS, event)
    if isinstance(parsed, str):
        raise ValueError(parsed)  # kept for a person in the DLQ; retrying cannot fix it
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    call_id = parsed.detail.call_id
    outcome = RECONCILERS.for_call(call_id).reconcile(call_id, lease_ms=remaining() if remaining else None)
    if outcome.status == "in_progress":
        metrics.add_metric(name="ConcurrentDeliveries", unit=MetricUnit.Count, value=1)
        # Retried later: by then the holder has finished (a no-op) or its lease has lapsed (we take over).
        raise ReconcileInProgress(f"call {outcome.call_id}: another delivery is reconciling it")
    if outcome.status == "reconciled":
        _count_for_agent(call_id)
        metrics.add_metric(name="CallsReconciled", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="LlmRequests", unit=MetricUnit.Count, value=outcome.llm_requests)
        metrics.add_metric(name="FieldsBackfilled", unit=MetricUnit.Count, value=len(outcome.backfilled))
    else:
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
    return dump(outcome)
