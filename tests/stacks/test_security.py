"""Security properties a deployer relies on: what can reach the bridge, how the archive is
protected, and that no IAM policy grants a wildcard action or an unjustified wildcard resource."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.stacks.conftest import MEDIA, RETENTION_DAYS, SIGNALING, Synth

# Where AWS requires Resource "*": the action supports no resource-level permissions.
WILDCARD_RESOURCE_ALLOWED = {
    "ec2:DescribeNetworkInterfaces": "bridge public-IP discovery; no resource-level permissions",
    "ecr:GetAuthorizationToken": "image pull token; no resource-level permissions",
    "chime:PutVoiceConnectorOrigination": "Voice Connector addressed by ID in the request",
    "chime:DeleteVoiceConnectorOrigination": "Voice Connector addressed by ID in the request",
    "chime:AssociatePhoneNumbersWithVoiceConnector": "account-level phone numbers",
    "chime:DisassociatePhoneNumbersFromVoiceConnector": "account-level phone numbers",
    "chime:GetPhoneNumber": "account-level phone numbers (reads the association back)",
}


def _ingress_rules(synth: Synth) -> Iterator[tuple[str, dict[str, Any]]]:
    for stack, lid, props in synth.resources("AWS::EC2::SecurityGroup"):
        for rule in props.get("SecurityGroupIngress", []):
            yield f"{stack}/{lid}", rule
    for stack, lid, props in synth.resources("AWS::EC2::SecurityGroupIngress"):
        yield f"{stack}/{lid}", props


def test_ingress_comes_only_from_configured_chime_ranges(synth: Synth) -> None:
    seen = []
    nlb_groups = {lid for _, lid, p in synth.resources("AWS::EC2::SecurityGroup") if "NLB" in p["GroupDescription"]}
    assert len(nlb_groups) == 1
    for where, rule in _ingress_rules(synth):
        assert "CidrIpv6" not in rule, where
        port = (rule["IpProtocol"], rule["FromPort"], rule["ToPort"])
        if "CidrIp" in rule:
            cidr = rule["CidrIp"]
            if port == ("tcp", 5061, 5061):  # SIP over TLS: the only signalling port
                assert cidr in SIGNALING, f"{where}: SIP open to {cidr}"
            elif port == ("udp", 10000, 10999):
                assert cidr in MEDIA, f"{where}: RTP open to {cidr}"
            else:
                raise AssertionError(f"{where}: unexpected ingress {port} from {cidr}")
            seen.append((cidr, port))
        else:
            # The only group-to-group rule: SIP and health checks from the NLB, whose own
            # ingress is checked above.
            assert rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] in nlb_groups, where
            assert port == ("tcp", 5061, 5061), where
    assert {c for c, p in seen if p[0] == "tcp"} == set(SIGNALING)
    assert {c for c, p in seen if p[0] == "udp"} == set(MEDIA)


def test_the_nlb_passes_sip_over_tls_on_5061_only(synth: Synth) -> None:
    listeners = [p for _, _, p in synth.resources("AWS::ElasticLoadBalancingV2::Listener")]
    # TCP, not TLS: the task terminates TLS, so the SRTP keys in the SDP are never clear on any hop.
    assert [(p["Protocol"], p["Port"]) for p in listeners] == [("TCP", 5061)]


def _bucket_policies(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for _, _, props in synth.resources("AWS::S3::BucketPolicy"):
        out.setdefault(props["Bucket"]["Ref"], []).extend(props["PolicyDocument"]["Statement"])
    return out


def test_every_bucket_is_encrypted_private_and_tls_only(synth: Synth) -> None:
    policies = _bucket_policies(synth)
    buckets = list(synth.resources("AWS::S3::Bucket"))
    assert len(buckets) >= 3
    for stack, lid, props in buckets:
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}, lid
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, lid
        denies_plain_http = [
            s
            for s in policies.get(lid, [])
            if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert denies_plain_http, f"{stack}/{lid} does not enforce TLS"


def test_archive_is_versioned_logged_and_object_locked(synth: Synth) -> None:
    (archive,) = [p for _, lid, p in synth.resources("AWS::S3::Bucket", "Data") if lid.startswith("Archive")]
    assert archive["VersioningConfiguration"] == {"Status": "Enabled"}
    assert archive["ObjectLockEnabled"] is True
    assert archive["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "GOVERNANCE",
        "Days": RETENTION_DAYS,
    }
    assert "DestinationBucketName" in archive["LoggingConfiguration"]
    classes = {t["StorageClass"] for r in archive["LifecycleConfiguration"]["Rules"] for t in r.get("Transitions", [])}
    assert classes == {"STANDARD_IA", "GLACIER_IR"}  # both still readable by Athena


def _statements(synth: Synth) -> Iterator[tuple[str, dict[str, Any]]]:
    for stack, lid, props in synth.resources("AWS::IAM::Policy"):
        for s in props["PolicyDocument"]["Statement"]:
            yield f"{stack}/{lid}", s
    for stack, lid, props in synth.resources("AWS::IAM::Role"):
        for policy in props.get("Policies", []):
            for s in policy["PolicyDocument"]["Statement"]:
                yield f"{stack}/{lid}", s
    for stack, lid, props in synth.resources("AWS::IAM::ManagedPolicy"):
        for s in props["PolicyDocument"]["Statement"]:
            yield f"{stack}/{lid}", s


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_grants_a_wildcard_action(synth: Synth) -> None:
    statements = list(_statements(synth))
    assert len(statements) > 20
    for where, s in statements:
        assert "NotAction" not in s, where
        for action in _as_list(s["Action"]):
            assert "*" not in action, f"{where}: wildcard action {action}"


def test_wildcard_resources_only_where_aws_requires_them(synth: Synth) -> None:
    for where, s in _statements(synth):
        if s["Effect"] == "Allow" and "*" in _as_list(s["Resource"]):
            for action in _as_list(s["Action"]):
                assert action in WILDCARD_RESOURCE_ALLOWED, f"{where}: {action} on Resource '*'"


def _role_actions(synth: Synth, stack: str, role_prefix: str) -> set[str]:
    roles = [lid for _, lid, _ in synth.resources("AWS::IAM::Role", stack) if lid.startswith(role_prefix)]
    assert len(roles) == 1, roles
    actions: set[str] = set()
    for _, _, props in synth.resources("AWS::IAM::Policy", stack):
        if any(r.get("Ref") == roles[0] for r in props["Roles"]):
            for s in props["PolicyDocument"]["Statement"]:
                actions |= set(_as_list(s["Action"]))
    for _, lid, props in synth.resources("AWS::IAM::Role", stack):
        if lid == roles[0]:
            assert "ManagedPolicyArns" not in props
            for policy in props.get("Policies", []):
                for s in policy["PolicyDocument"]["Statement"]:
                    actions |= set(_as_list(s["Action"]))
    return actions


def test_bridge_task_role_can_only_do_its_four_jobs(synth: Synth) -> None:
    assert _role_actions(synth, "Bridge", "TaskRole") == {
        "lambda:InvokeFunction",  # the tool and policy functions
        "dynamodb:GetItem",  # its transcript data
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "s3:PutObject",  # transcripts, decisions, and the spec versions it installs at boot
        "events:PutEvents",  # CallEnded
        "ecs:DescribeTasks",  # public IP discovery
        "ec2:DescribeNetworkInterfaces",
    }
    (policy,) = [p for _, lid, p in synth.resources("AWS::IAM::Policy", "Bridge") if lid.startswith("TaskRole")]
    by_action = {a: s["Resource"] for s in policy["PolicyDocument"]["Statement"] for a in _as_list(s["Action"])}
    invoked = json.dumps(by_action["lambda:InvokeFunction"])
    assert "Tools" in invoked and "Policy" in invoked and "PostCall" not in invoked and "Reaper" not in invoked
    prefixes = json.dumps(by_action["s3:PutObject"])
    assert "/transcripts/*" in prefixes and "/decisions/*" in prefixes and "/records/" not in prefixes
    assert "/agents/*" in prefixes  # it installs the image's specs at boot (it reads them from the table)


def test_no_lambda_role_uses_a_managed_policy_we_wrote_around(synth: Synth) -> None:
    """Our four functions log through hand-written grants on their own log groups only."""
    for key in ("Tools", "Policy", "PostCall", "Reaper"):
        actions = _role_actions(synth, "Functions", f"{key}Role")
        assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= actions
        assert not any(a.startswith(("iam:", "s3:Delete", "dynamodb:Scan", "dynamodb:DeleteTable")) for a in actions)


def _s3_grants(synth: Synth, stack: str, role_prefix: str) -> dict[str, str]:
    grants: dict[str, str] = {}
    for _, lid, props in synth.resources("AWS::IAM::Role", stack):
        if lid.startswith(role_prefix):
            for policy in props.get("Policies", []):
                for s in policy["PolicyDocument"]["Statement"]:
                    for action in _as_list(s["Action"]):
                        if action.startswith("s3:"):
                            grants[action] = grants.get(action, "") + json.dumps(s["Resource"])
    return grants


def test_archive_prefixes_per_function(synth: Synth) -> None:
    """Each function touches only the archive prefixes its job needs; nothing deletes."""
    post_call = _s3_grants(synth, "Functions", "PostCallRole")
    assert set(post_call) == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    assert "/transcripts/*" in post_call["s3:GetObject"] and "/records/" not in post_call["s3:GetObject"]
    assert "/records/*" in post_call["s3:PutObject"] and "/transcripts/" not in post_call["s3:PutObject"]
    assert "/agents/" not in post_call["s3:GetObject"] + post_call["s3:PutObject"]  # specs come from the table
    reaper = _s3_grants(synth, "Functions", "ReaperRole")
    assert set(reaper) == {"s3:PutObject"} and "/records/" not in reaper["s3:PutObject"]
    # Tools and policy read the spec version on the call's record from the calls table: no archive at all.
    for role in ("ToolsRole", "PolicyRole"):
        assert _s3_grants(synth, "Functions", role) == {}
