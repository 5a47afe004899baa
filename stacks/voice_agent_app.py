"""Builds the CDK app: seven stacks, wired one way, checked by cdk-nag's AwsSolutions pack.

Deploy order (CloudFormation follows the references): Data -> Functions -> Events -> Telephony
-> Bridge -> Audit, Observability. `cdk destroy --all` runs it backwards.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Aspects, Tags
from cdk_nag import AwsSolutionsChecks

from stacks.audit_stack import AuditStack
from stacks.bridge_stack import BridgeStack
from stacks.config import REPO_ROOT, DeployConfig, load_config
from stacks.data_stack import DataStack
from stacks.events_stack import EventsStack
from stacks.functions_stack import FunctionsStack
from stacks.observability_stack import ObservabilityStack
from stacks.telephony_stack import TelephonyStack

STACK_NAMES = ("Data", "Functions", "Events", "Telephony", "Bridge", "Audit", "Observability")


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context: the CLI merges it itself; `python app.py` and the tests read it here."""
    path = REPO_ROOT / "cdk.json"
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {})) if path.exists() else {}


def build_app(overrides: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[App, DeployConfig]:
    """`overrides` win over cdk.json and the CLI's context (tests and `python app.py -c`)."""
    app = App(context=cdk_json_context(), post_cli_context=dict(overrides or {}), outdir=outdir)
    config = load_config(app.node.try_get_context)
    prefix = config.stack_prefix
    bus_name = f"{config.resource_prefix}-bus"

    def describe(what: str) -> str:
        return f"voice-agent ({config.spec.name}): {what}"

    data = DataStack(app, f"{prefix}Data", config=config, description=describe("tables, archive, OpenAI key"))
    functions = FunctionsStack(
        app,
        f"{prefix}Functions",
        config=config,
        calls_table=data.calls_table,
        idempotency_table=data.idempotency_table,
        archive_bucket=data.archive_bucket,
        openai_secret=data.openai_secret,
        event_bus_name=bus_name,
        description=describe("tool, policy, post-call and reaper functions"),
    )
    events = EventsStack(
        app,
        f"{prefix}Events",
        event_bus_name=bus_name,
        post_call=functions.functions["post_call"],
        post_call_role=functions.roles["post_call"],
        reaper=functions.functions["reaper"],
        description=describe("event bus, archive, post-call rule, reaper schedule"),
    )
    telephony = TelephonyStack(
        app, f"{prefix}Telephony", config=config, description=describe("Chime Voice Connector and number")
    )
    bridge = BridgeStack(
        app,
        f"{prefix}Bridge",
        config=config,
        calls_table=data.calls_table,
        archive_bucket=data.archive_bucket,
        openai_secret=data.openai_secret,
        tools_function=functions.live["tools"],
        policy_function=functions.live["policy"],
        event_bus_name=bus_name,
        voice_connector_id=telephony.voice_connector_id,
        description=describe("realtime bridge on Fargate behind a SIP NLB"),
    )
    # Named, not referenced: the bus must exist before a bridge task can put CallEnded on it.
    bridge.add_stack_dependency(events)
    AuditStack(
        app,
        f"{prefix}Audit",
        config=config,
        archive_bucket=data.archive_bucket,
        results_bucket=data.athena_results_bucket,
        description=describe("Glue tables and Athena workgroup for auditors"),
    )
    ObservabilityStack(
        app,
        f"{prefix}Observability",
        functions=dict(functions.functions),
        function_log_groups=dict(functions.log_groups),
        bridge_log_group=bridge.log_group,
        bridge_service=bridge.service,
        target_group=bridge.target_group,
        event_bus=events.bus,
        call_ended_rule=events.call_ended_rule,
        dlq=events.dlq,
        description=describe("dashboard and alarms"),
    )
    # Listener and dashboard tags are newer than the cfn-lint schemas; they carry no cost data.
    untagged = ["AWS::ElasticLoadBalancingV2::Listener", "AWS::CloudWatch::Dashboard"]
    Tags.of(app).add("project", "voice-agent", exclude_resource_types=untagged)
    Tags.of(app).add("agent", config.spec.name, exclude_resource_types=untagged)
    Aspects.of(app).add(AwsSolutionsChecks(reports=True, verbose=True))
    return app, config
