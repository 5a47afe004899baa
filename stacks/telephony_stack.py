"""Telephony: the Chime SDK Voice Connector, its phone number, and its origination route.

CloudFormation has types for neither origination nor number association, so both are
AwsCustomResource calls to the ChimeSDKVoice API. The Voice Connector is created first (this
stack) so the bridge can be told its ID and check `X-VoiceConnector-ID`; the origination route
needs the NLB, so `ChimeOrigination` is placed in the bridge stack. Deletion runs in reverse:
origination goes with the bridge, then the number is disassociated, then the Voice Connector.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_chime as chime
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.config import SIP_PORT, DeployConfig
from stacks.nag import suppress, suppress_path

# Where getPhoneNumber reports the Voice Connector a number is attached to.
ASSOCIATED_VC = "PhoneNumber.PhoneNumberAssociations.0.Value"
# AwsCustomResource's singleton provider function (a fixed construct ID in CDK).
PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
# Chime SDK Voice actions act on account-level phone numbers and Voice Connectors addressed by
# ID in the request; the stack lists the exact actions and nothing else.
_CHIME_RESOURCES = ["*"]


def _chime_policy(*actions: str) -> cr.AwsCustomResourcePolicy:
    return cr.AwsCustomResourcePolicy.from_statements(
        [iam.PolicyStatement(actions=[f"chime:{a}" for a in actions], resources=_CHIME_RESOURCES)]
    )


def provider_log_group(scope: Construct) -> logs.ILogGroup:
    """One log group with retention for the stack's AwsCustomResource provider (a singleton)."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("CustomResourceLogs")
    if isinstance(existing, logs.LogGroup):
        return existing
    return logs.LogGroup(
        stack, "CustomResourceLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
    )


def suppress_custom_resource_provider(stack: Stack) -> None:
    """AwsCustomResource's shared provider function belongs to CDK; say why it is accepted."""
    path = f"/{stack.stack_name}/{PROVIDER_ID}"
    suppress_path(
        stack,
        path,
        "IAM4",
        "CDK's AwsCustomResource provider uses AWSLambdaBasicExecutionRole for its own logs.",
        applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    )
    suppress_path(stack, path, "L1", "CDK manages the AwsCustomResource provider's Node.js runtime.")


def _suppress_chime_wildcard(resource: cr.AwsCustomResource) -> None:
    suppress(
        resource,
        "IAM5",
        "Chime SDK Voice origination and number actions address the Voice Connector and "
        "account-level numbers by ID in the request; only the listed chime: actions are granted.",
        applies_to=["Resource::*"],
        children=True,
    )


class ChimeOrigination(Construct):
    """Point the Voice Connector's inbound calls at `host` (the bridge's NLB, or a name for it):
    TCP 5060, or 5061 on an encrypted Voice Connector, which runs TLS over the TCP route."""

    def __init__(
        self, scope: Construct, construct_id: str, *, voice_connector_id: str, host: str, port: int = SIP_PORT
    ) -> None:
        super().__init__(scope, construct_id)
        origination = {
            "VoiceConnectorId": voice_connector_id,
            "Origination": {
                "Routes": [{"Host": host, "Port": port, "Protocol": "TCP", "Priority": 1, "Weight": 1}],
                "Disabled": False,
            },
        }
        put = cr.AwsSdkCall(
            service="ChimeSDKVoice",
            action="putVoiceConnectorOrigination",
            parameters=origination,
            physical_resource_id=cr.PhysicalResourceId.of(f"{voice_connector_id}-origination"),
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Resource",
            on_create=put,
            on_update=put,
            on_delete=cr.AwsSdkCall(
                service="ChimeSDKVoice",
                action="deleteVoiceConnectorOrigination",
                parameters={"VoiceConnectorId": voice_connector_id},
            ),
            policy=_chime_policy("PutVoiceConnectorOrigination", "DeleteVoiceConnectorOrigination"),
            log_group=provider_log_group(self),
            install_latest_aws_sdk=False,
        )
        _suppress_chime_wildcard(self.resource)


class TelephonyStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        # Encrypted by default: SIP over TLS (5061) and SRTP media; callers' health information
        # never crosses the internet in clear. encryption=off gives TCP 5060 and RTP.
        self.voice_connector = chime.CfnVoiceConnector(
            self,
            "VoiceConnector",
            name=f"{config.resource_prefix}-{config.spec.name}"[:63],
            require_encryption=config.encrypted,
            aws_region=config.region,
        )
        # AWS::Chime::VoiceConnector (CloudFormation, 2026) is newer than cfn-lint 1.51's
        # region schemas, which report it as unknown (E3006); cfn-lint 1.58 knows it.
        self.voice_connector.cfn_options.metadata = {"cfn-lint": {"config": {"ignore_checks": ["E3006"]}}}
        self.voice_connector_id = self.voice_connector.attr_voice_connector_id

        if config.phone_numbers:
            numbers = list(config.phone_numbers)  # every number of the plan, sorted
            vc_id = self.voice_connector_id
            associate = cr.AwsSdkCall(
                service="ChimeSDKVoice",
                action="associatePhoneNumbersWithVoiceConnector",
                # Never steal a number from another Voice Connector: fail instead.
                parameters={"VoiceConnectorId": vc_id, "E164PhoneNumbers": numbers, "ForceAssociate": False},
                physical_resource_id=cr.PhysicalResourceId.of(f"{','.join(numbers)}@voice-connector"),
            )
            association = cr.AwsCustomResource(
                self,
                "PhoneNumberAssociation",
                on_create=associate,
                on_update=associate,
                # Runs before the Voice Connector is deleted (this resource depends on it); a Voice
                # Connector with numbers attached cannot be deleted.
                on_delete=cr.AwsSdkCall(
                    service="ChimeSDKVoice",
                    action="disassociatePhoneNumbersFromVoiceConnector",
                    parameters={"VoiceConnectorId": vc_id, "E164PhoneNumbers": numbers},
                ),
                policy=_chime_policy(
                    "AssociatePhoneNumbersWithVoiceConnector", "DisassociatePhoneNumbersFromVoiceConnector"
                ),
                log_group=provider_log_group(self),
                install_latest_aws_sdk=False,
            )
            _suppress_chime_wildcard(association)
            for i, number in enumerate(numbers):
                self._check_attached(number, "" if i == 0 else str(i + 1), association, config)
            suppress_custom_resource_provider(self)

        CfnOutput(self, "VoiceConnectorId", value=self.voice_connector_id)
        CfnOutput(self, "VoiceConnectorHost", value=self.voice_connector.attr_outbound_host_name)

    def _check_attached(self, number: str, suffix: str, association: Construct, config: DeployConfig) -> None:
        """The association API answers 200 even when it failed (errors come back in a list), so
        read each number back: if it is not attached, its output has no value and the deploy stops
        here instead of leaving a number that rings nowhere."""
        read_back = cr.AwsSdkCall(
            service="ChimeSDKVoice",
            action="getPhoneNumber",
            parameters={"PhoneNumberId": number},
            physical_resource_id=cr.PhysicalResourceId.of(f"{number}@voice-connector-check"),
            output_paths=[ASSOCIATED_VC],
        )
        check = cr.AwsCustomResource(
            self,
            f"PhoneNumberCheck{suffix}",
            on_create=read_back,
            on_update=read_back,
            policy=_chime_policy("GetPhoneNumber"),
            log_group=provider_log_group(self),
            install_latest_aws_sdk=False,
        )
        check.node.add_dependency(association)
        _suppress_chime_wildcard(check)
        agent = config.number_plan.numbers.get(number, config.spec.name)
        CfnOutput(self, f"PhoneNumber{suffix}", value=number, description=f"Call this number to reach {agent}.")
        CfnOutput(self, f"PhoneNumberVoiceConnector{suffix}", value=check.get_response_field(ASSOCIATED_VC))
