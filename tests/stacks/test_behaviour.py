"""What each stack promises the rest of the system: handler paths and environment from
docs/CONTRACTS-internal.md, event routing, the SIP network shape, telephony wiring, audit
tables and alarms."""

from __future__ import annotations

import json
from typing import Any

from stacks.config import load_config
from tests.conftest import ROOT
from tests.stacks.conftest import CONTEXT, MEDIA, PHONE, SIGNALING, Synth

CONTRACT_ENV = {
    "functions.tools.handler.handler": {"CALLS_TABLE"},
    "functions.policy.handler.handler": {"CALLS_TABLE"},
    "functions.post_call.handler.handler": {
        "CALLS_TABLE",
        "ARCHIVE_BUCKET",
        "EVENT_BUS_NAME",
        "PRICES",
        "IDEMPOTENCY_TABLE",
        "OPENAI_SECRET_ARN",
        "POST_CALL_MODEL",
    },
    "functions.reaper.handler.handler": {"CALLS_TABLE", "ARCHIVE_BUCKET", "EVENT_BUS_NAME"},
}


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    return {p["Handler"]: p for _, _, p in synth.resources("AWS::Lambda::Function", "Functions")}


def test_handlers_match_the_contract(synth: Synth) -> None:
    fns = _functions(synth)
    assert set(fns) == set(CONTRACT_ENV)
    for handler, keys in CONTRACT_ENV.items():
        p = fns[handler]
        assert p["Runtime"] == "python3.12" and p["Architectures"] == ["arm64"], handler
        assert keys <= set(p["Environment"]["Variables"]), handler
        # No spec from configuration: each call's agent and version come from its record.
        assert "AGENT_SPEC_PATH" not in p["Environment"]["Variables"], handler
        assert "POWERTOOLS_SERVICE_NAME" in p["Environment"]["Variables"]


def test_timeouts_and_concurrency_are_deliberate(synth: Synth) -> None:
    fns = _functions(synth)
    live = [fns["functions.tools.handler.handler"], fns["functions.policy.handler.handler"]]
    assert all(p["Timeout"] <= 10 and "ReservedConcurrentExecutions" not in p for p in live)
    assert fns["functions.post_call.handler.handler"]["ReservedConcurrentExecutions"] == 5
    assert fns["functions.reaper.handler.handler"]["ReservedConcurrentExecutions"] == 1
    assert all(p["LoggingConfig"]["LogGroup"] for p in fns.values())


def test_every_log_group_has_a_retention(synth: Synth) -> None:
    groups = list(synth.resources("AWS::Logs::LogGroup"))
    assert len(groups) >= 6
    assert all(p.get("RetentionInDays") for _, _, p in groups)


def test_call_ended_goes_to_post_call_with_retries_and_a_dlq(synth: Synth) -> None:
    rules = {lid: p for _, lid, p in synth.resources("AWS::Events::Rule", "Events")}
    (call_ended,) = [p for p in rules.values() if "EventPattern" in p]
    assert call_ended["EventPattern"] == {"source": ["voice-agent"], "detail-type": ["CallEnded"]}
    (target,) = call_ended["Targets"]
    assert "PostCall" in json.dumps(target["Arn"])
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert "DeadLetterConfig" in target
    (invoke_config,) = [p for _, _, p in synth.resources("AWS::Lambda::EventInvokeConfig", "Events")]
    assert "OnFailure" in invoke_config["DestinationConfig"]
    (schedule,) = [p for p in rules.values() if "ScheduleExpression" in p]
    assert "Reaper" in json.dumps(schedule["Targets"])
    (archive,) = [p for _, _, p in synth.resources("AWS::Events::Archive", "Events")]
    assert archive["EventPattern"] == {"source": ["voice-agent"]}


def test_bridge_network_shape(synth: Synth) -> None:
    (tg,) = [p for _, _, p in synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup", "Bridge")]
    attrs = {a["Key"]: a["Value"] for a in tg["TargetGroupAttributes"]}
    assert attrs["stickiness.enabled"] == "true" and attrs["stickiness.type"] == "source_ip"
    assert tg["HealthCheckProtocol"] == "TCP" and tg["HealthCheckPort"] == "5061"  # SIP over TLS
    assert int(attrs["deregistration_delay.timeout_seconds"]) >= 900  # the spec's longest call
    (lb,) = [p for _, _, p in synth.resources("AWS::ElasticLoadBalancingV2::LoadBalancer", "Bridge")]
    assert lb["Scheme"] == "internet-facing" and lb["Type"] == "network"
    assert not list(synth.resources("AWS::EC2::NatGateway"))
    (svc,) = [p for _, _, p in synth.resources("AWS::ECS::Service", "Bridge")]
    assert svc["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert svc["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert svc["DesiredCount"] == 3
    (task,) = [p for _, _, p in synth.resources("AWS::ECS::TaskDefinition", "Bridge")]
    assert task["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    (container,) = task["ContainerDefinitions"]
    assert {"ContainerPortRange": "10000-10999", "Protocol": "udp"} in container["PortMappings"]
    assert container["StopTimeout"] == 120
    assert [s["Name"] for s in container["Secrets"]] == ["OPENAI_API_KEY", "SIP_TLS_CERT", "SIP_TLS_KEY", "SIP_TLS_CA"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert not {"OPENAI_API_KEY", "SIP_TLS_CERT", "SIP_TLS_KEY"} & set(env)
    assert (env["ENCRYPTION"], env["SIP_TRANSPORTS"], env["SIP_TLS_PORT"]) == ("required", "tls", "5061")
    assert {"ContainerPort": 5061, "Protocol": "tcp", "Name": "sip"} in container["PortMappings"]
    assert env["AGENT_SPEC_PATH"] == "/app/agents/riverside_clinic.yaml"
    # One agent, on the one number: the number plan is explicit even for a single-spec deployment.
    assert json.loads(env["NUMBER_PLAN"]) == {"numbers": {PHONE: "riverside-clinic"}}
    assert json.loads(env["PRICES"])["set_on"] and "REALTIME_MODEL" not in env  # each agent's own model
    assert env["CHIME_SIGNALING_CIDRS"] == ",".join(SIGNALING) and env["CHIME_MEDIA_CIDRS"] == ",".join(MEDIA)
    (cluster,) = [p for _, _, p in synth.resources("AWS::ECS::Cluster", "Bridge")]
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]


def test_bridge_image_is_built_at_deploy_time_from_the_dockerfile(synth: Synth) -> None:
    manifest = json.loads((synth.outdir / f"{synth.prefix}Bridge.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    assert image["source"]["dockerFile"] == "realtime_bridge/Dockerfile"
    assert image["source"]["platform"] == "linux/arm64"
    context = synth.outdir / image["source"]["directory"]
    staged = {p.name for p in context.iterdir()}
    # .dockerignore keeps the context to what the image needs: no venv, tests or cdk.out.
    assert {"voice_agent", "realtime_bridge", "agents", "requirements.txt"} <= staged
    assert not staged & {".venv", "tests", "cdk.out", ".git", "stacks"}


def test_telephony_associates_the_number_and_routes_to_the_nlb(synth: Synth) -> None:
    (vc,) = [p for _, _, p in synth.resources("AWS::Chime::VoiceConnector", "Telephony")]
    assert vc["RequireEncryption"] is True and vc["AwsRegion"] == "us-east-1"  # TLS + SRTP by default
    calls = {lid: p for _, lid, p in synth.resources("Custom::AWS", "Telephony")}
    (assoc,) = [p for lid, p in calls.items() if lid.startswith("PhoneNumberAssociation")]
    (check,) = [p for lid, p in calls.items() if lid.startswith("PhoneNumberCheck")]
    assert "getPhoneNumber" in json.dumps(check["Create"])  # a failed association stops the deploy
    assert "associatePhoneNumbersWithVoiceConnector" in json.dumps(assoc["Create"])
    assert PHONE in json.dumps(assoc["Create"])
    assert "disassociatePhoneNumbersFromVoiceConnector" in json.dumps(assoc["Delete"])
    (origination,) = [p for _, _, p in synth.resources("Custom::AWS", "Bridge")]
    create = json.dumps(origination["Create"])
    assert "putVoiceConnectorOrigination" in create and "DNSName" in create
    assert '\\"Port\\":5061' in create and '\\"Protocol\\":\\"TCP\\"' in create  # TLS over the TCP route
    assert "deleteVoiceConnectorOrigination" in json.dumps(origination["Delete"])


def test_no_phone_number_means_no_association() -> None:
    config = load_config({k: v for k, v in CONTEXT.items() if k != "phone_number"})
    assert config.phone_number is None


def test_audit_tables_use_partition_projection_and_encrypted_results(synth: Synth) -> None:
    tables = {p["TableInput"]["Name"]: p["TableInput"] for _, _, p in synth.resources("AWS::Glue::Table", "Audit")}
    assert set(tables) == {"transcripts", "records", "decisions"}
    for name, t in tables.items():
        params = t["Parameters"]
        assert params["projection.enabled"] == "true"
        assert params["projection.call_date.type"] == "date"
        assert params["projection.call_date.format"] == "yyyy-MM-dd"
        assert f"/{name}/date=${{call_date}}/" in json.dumps(params["storage.location.template"])
    (wg,) = [p for _, _, p in synth.resources("AWS::Athena::WorkGroup", "Audit")]
    cfg = wg["WorkGroupConfiguration"]
    assert cfg["EnforceWorkGroupConfiguration"] is True
    assert cfg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"


def test_athena_named_queries_are_the_sql_files_voice_agent_audit_runs_locally(synth: Synth) -> None:
    from voice_agent.audit import load_queries

    saved = {p["Name"]: p for _, _, p in synth.resources("AWS::Athena::NamedQuery", "Audit")}
    local = load_queries()
    assert {"backfilled_fields", "gate_denials", "caller_hangups_missing_fields", "cost_per_call_by_day"} <= set(saved)
    assert set(saved) == set(local)
    folder = ROOT / "voice_agent" / "audit" / "queries"
    for name, query in local.items():
        assert saved[name]["QueryString"] == query.sql  # the very text the local runner executes
        assert query.sql in (folder / f"{name}.sql").read_text()  # ...which is the file's, unchanged
        assert saved[name]["Description"] == query.description


def test_alarms_cover_errors_dlq_and_unhealthy_targets(synth: Synth) -> None:
    alarms = [p for _, _, p in synth.resources("AWS::CloudWatch::Alarm", "Observability")]
    metrics = {(a.get("Namespace"), a.get("MetricName")) for a in alarms}
    assert ("AWS/Lambda", "Errors") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("AWS/NetworkELB", "UnHealthyHostCount") in metrics
    assert sum(1 for a in alarms if a.get("MetricName") == "Errors") == 4
    assert all(a["AlarmActions"] for a in alarms)
    (dash,) = [p for _, _, p in synth.resources("AWS::CloudWatch::Dashboard", "Observability")]
    body = json.dumps(dash["DashboardBody"])
    for title in ("Calls", "Gate denials", "Backfilled fields", "Tool latency", "Bridge CPU"):
        assert title in body
    for title, metric in (("Calls by agent", "AgentCalls"), ("Cost by agent (USD)", "AgentCostUsd")):
        assert title in body and metric in body
    assert body.count("SEARCH('{VoiceAgent,agent,service} MetricName=") == 2  # one line per agent


def test_calls_table_matches_the_layout_the_code_provisions_locally(synth: Synth) -> None:
    """The deployed table is the one the library's own tests run against (moto, same definition)."""
    from voice_agent.record_store import TABLE_DEFINITION

    tables = [p for _, lid, p in synth.resources("AWS::DynamoDB::Table", "Data") if lid.startswith("Calls")]
    (table,) = tables
    assert table["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(TABLE_DEFINITION["AttributeDefinitions"], key=str)
    deployed = [
        {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection")} for gsi in table["GlobalSecondaryIndexes"]
    ]
    local = TABLE_DEFINITION["GlobalSecondaryIndexes"]
    assert sorted(deployed, key=str) == sorted(local, key=str)
    assert {g["IndexName"] for g in deployed} == {"live-calls", "agent-calls"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    (idem,) = [p for _, lid, p in synth.resources("AWS::DynamoDB::Table", "Data") if lid.startswith("Idempotency")]
    assert idem["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idem["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_athena_columns_cover_what_the_archive_writes() -> None:
    """Every key the library writes to transcripts/, records/ and decisions/ is a queryable column."""
    from voice_agent.audit import TABLE_COLUMNS
    from voice_agent.decisions import DecisionLine
    from voice_agent.record_store import Turn
    from voice_agent.record_view import CallRecord

    for table, model in (("transcripts", Turn), ("records", CallRecord), ("decisions", DecisionLine)):
        columns = {name for name, _ in TABLE_COLUMNS[table]}
        assert set(model.model_fields) <= columns, (table, set(model.model_fields) - columns)


def test_bridge_refuses_a_region_it_was_not_synthesized_for(synth: Synth) -> None:
    rule = synth.templates["Bridge"]["Rules"]["RegionMatchesChimeRanges"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_cdk_json_has_no_unknown_settings() -> None:
    """A typo in cdk.json would silently fall back to a default."""
    from stacks.config import CONTEXT_KEYS
    from stacks.voice_agent_app import cdk_json_context

    ours = {k for k in cdk_json_context() if not k.startswith("@aws-cdk")}
    assert ours <= set(CONTEXT_KEYS)
