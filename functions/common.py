"""What every handler shares: configuration read once, clients at module scope, the decision sinks.

Missing configuration fails at import (cold start), not on the first caller's tool call.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from voice_agent.agent_registry import AgentRegistry
from voice_agent.agent_runtimes import AgentRuntimes
from voice_agent.decisions import CallbackSink, DecisionLine, DecisionLog
from voice_agent.record_store import RecordStore

T = TypeVar("T")

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "voice-agent"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "VoiceAgent"))


class MissingConfiguration(RuntimeError):
    pass


class LambdaSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    calls_table: str  # the calls, and the agent spec versions they run with (agent_registry)


def read_settings() -> LambdaSettings:
    env = {"calls_table": "CALLS_TABLE"}
    missing = [var for var in env.values() if not os.environ.get(var)]
    if missing:
        raise MissingConfiguration(f"missing environment variables: {', '.join(missing)}")
    return LambdaSettings(**{key: os.environ[var] for key, var in env.items()})


def _log_decision(line: DecisionLine) -> None:
    logger.info(line.decision, extra=line.model_dump(exclude_none=True))


def build_runtimes(settings: LambdaSettings) -> AgentRuntimes:
    """Every agent's runtime, each from the spec version on the call's record (cached per version)."""
    table = boto3.resource("dynamodb").Table(settings.calls_table)
    store = RecordStore(table)
    log = DecisionLog(CallbackSink(_log_decision), CallbackSink(store.append_decision))
    registry = AgentRegistry(table, None, None)  # reads specs from their version items: no S3 client
    return AgentRuntimes(registry, store, log)


def validation_message(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "event"
    return f"bad event: {where}: {first['msg']}"


def parse_event(adapter: TypeAdapter[T], event: object) -> T | str:
    """The parsed event, or the one-line reason it is not one (logged and counted)."""
    try:
        return adapter.validate_python(event)
    except ValidationError as err:
        message = validation_message(err)
        logger.warning(message)
        metrics.add_metric(name="BadEvents", unit=MetricUnit.Count, value=1)
        return message


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)
