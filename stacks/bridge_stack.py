"""Bridge: the realtime bridge on Fargate behind an NLB that carries SIP only.

Network shape (../shared/TELEPHONY.md): an NLB cannot front RTP, so the NLB takes SIP on TCP
5060 (source_ip stickiness: Chime's ACK arrives on a new connection and must reach the same
task) and each task, in a public subnet with a public IP, takes RTP directly on a UDP range.
Everything inbound is admitted only from the configured Chime ranges.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, CfnRule, CfnRuleAssertion, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import HEALTH_PORT, REPO_ROOT, RTP_PORT_MAX, RTP_PORT_MIN, DeployConfig
from stacks.functions_stack import AGENTS_PREFIX, TABLE_ACTIONS, s3_object_arns, suppress_archive_prefixes
from stacks.nag import suppress
from stacks.telephony_stack import ChimeOrigination, suppress_custom_resource_provider

CONTAINER_NAME = "bridge"
# Fargate's ceiling. ECS sends SIGTERM only after the NLB deregistration delay has drained the
# task, so this covers the last closing line and BYE, not whole calls.
STOP_TIMEOUT = Duration.seconds(120)
# After SIGTERM the bridge lets calls run this long, then closes them through the gate; the rest
# of STOP_TIMEOUT leaves room for the closing line, the BYE and the final flush.
DRAIN_DEADLINE_S = 90


class BridgeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        calls_table: dynamodb.ITable,
        archive_bucket: s3.IBucket,
        openai_secret: secretsmanager.ISecret,
        tools_function: lambda_.IFunction,
        policy_function: lambda_.IFunction,
        event_bus_name: str,
        voice_connector_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        # The Chime ranges are per region: refuse to deploy the ranges of one region into another.
        CfnRule(
            self,
            "RegionMatchesChimeRanges",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(Stack.of(self).region, config.region),
                    assert_description=f"This template admits the Chime ranges of {config.region}; "
                    "deploy there, or synthesize with -c region=<your region>.",
                )
            ],
        )

        # Public subnets only, no NAT: tasks need public IPs for RTP anyway, and a NAT would add
        # a fixed hourly cost for nothing.
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.60.0.0/16"),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
            ],
            restrict_default_security_group=True,
        )
        flow_logs = logs.LogGroup(
            self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        # Rejected packets show SIP scanners; accepted ones help debug one-way audio.
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        # --- security groups: the only ways in -------------------------------------------------
        self.nlb_sg = ec2.SecurityGroup(
            self, "NlbSg", vpc=self.vpc, description="SIP from Chime to the NLB", allow_all_outbound=False
        )
        self.task_sg = ec2.SecurityGroup(
            self, "TaskSg", vpc=self.vpc, description="Realtime bridge tasks", allow_all_outbound=False
        )
        sip_port = config.sip_port  # 5061 (TLS) when encrypted, else 5060: never both
        sip = ec2.Port.tcp(sip_port)
        rtp = ec2.Port.udp_range(RTP_PORT_MIN, RTP_PORT_MAX)
        for cidr in config.signaling_cidrs:
            self.nlb_sg.add_ingress_rule(ec2.Peer.ipv4(cidr), sip, "SIP from Chime signalling")
            # In-dialog requests (ACK, BYE) go to the task's Contact address, its public IP.
            self.task_sg.add_ingress_rule(ec2.Peer.ipv4(cidr), sip, "SIP from Chime signalling")
            self.task_sg.add_egress_rule(ec2.Peer.ipv4(cidr), sip, "SIP requests to Chime (BYE)")
        for cidr in config.media_cidrs:
            self.task_sg.add_ingress_rule(ec2.Peer.ipv4(cidr), rtp, "RTP from Chime media")
            self.task_sg.add_egress_rule(ec2.Peer.ipv4(cidr), ec2.Port.all_udp(), "RTP to Chime media")
        self.task_sg.add_ingress_rule(self.nlb_sg, sip, "SIP and health checks from the NLB")
        self.nlb_sg.add_egress_rule(self.task_sg, sip, "SIP and health checks to the tasks")
        # OpenAI Realtime, AWS APIs and the image pull: all HTTPS.
        self.task_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to OpenAI and AWS APIs")

        # --- cluster, task, service -------------------------------------------------------------
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.log_group = logs.LogGroup(
            self, "BridgeLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )

        task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Realtime bridge: tools, transcripts, events, own public IP; nothing else",
        )
        event_bus_arn = self.format_arn(service="events", resource="event-bus", resource_name=event_bus_name)
        task_role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[tools_function.function_arn, policy_function.function_arn],
            )
        )
        task_role.add_to_policy(iam.PolicyStatement(actions=TABLE_ACTIONS, resources=[calls_table.table_arn]))
        task_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=s3_object_arns(archive_bucket, "transcripts", "decisions", AGENTS_PREFIX),
            )
        )
        task_role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[event_bus_arn]))
        # Public IP discovery: metadata v4 -> DescribeTasks (its own cluster only) -> the ENI.
        task_role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks"],
                resources=[
                    self.format_arn(service="ecs", resource="task", resource_name=f"{self.cluster.cluster_name}/*")
                ],
            )
        )
        task_role.add_to_policy(iam.PolicyStatement(actions=["ec2:DescribeNetworkInterfaces"], resources=["*"]))

        task_def = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=1024,
            memory_limit_mib=2048,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=task_role,
        )
        # Built at deploy time from the repo root (see .dockerignore), so the image carries the
        # same voice_agent/ and agent spec as the functions.
        image = ecs.ContainerImage.from_asset(
            str(REPO_ROOT),
            file="realtime_bridge/Dockerfile",
            platform=ecr_assets.Platform.LINUX_ARM64,
        )
        max_call_seconds = config.max_call_seconds
        task_def.add_container(
            CONTAINER_NAME,
            image=image,
            essential=True,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="bridge", log_group=self.log_group),
            stop_timeout=STOP_TIMEOUT,
            environment={
                "VOICE_AGENT_MODE": "production",
                # The image's specs and the number plan, installed in the registry at boot where it
                # holds none yet; after that, `voice-agent agents push` changes them.
                "AGENT_SPEC_PATH": ",".join(f"/app/{rel}" for rel in config.agent_relpaths),
                "NUMBER_PLAN": config.number_plan.model_dump_json(exclude_defaults=True),
                "PRICES": config.prices.model_dump_json(),
                **({"REALTIME_MODEL": config.realtime_model} if config.realtime_model else {}),
                "CALLS_TABLE": calls_table.table_name,
                "ARCHIVE_BUCKET": archive_bucket.bucket_name,
                "EVENT_BUS_NAME": event_bus_name,
                "TOOLS_FUNCTION_NAME": tools_function.function_name,
                "POLICY_FUNCTION_NAME": policy_function.function_name,
                "VOICE_CONNECTOR_ID": voice_connector_id,
                **self._sip_environment(config),
                "RTP_PORT_MIN": str(RTP_PORT_MIN),
                "RTP_PORT_MAX": str(RTP_PORT_MAX),
                "HEALTH_PORT": str(HEALTH_PORT),
                "DRAIN_DEADLINE_S": str(DRAIN_DEADLINE_S),
                "CHIME_SIGNALING_CIDRS": ",".join(config.signaling_cidrs),
                "CHIME_MEDIA_CIDRS": ",".join(config.media_cidrs),
                "POWERTOOLS_SERVICE_NAME": "voice-agent-bridge",
                "POWERTOOLS_METRICS_NAMESPACE": "VoiceAgent",
            },
            secrets={"OPENAI_API_KEY": ecs.Secret.from_secrets_manager(openai_secret), **self._tls_secrets(config)},
            port_mappings=[
                ecs.PortMapping(container_port=sip_port, protocol=ecs.Protocol.TCP, name="sip"),
                ecs.PortMapping(
                    container_port=ecs.ContainerDefinition.CONTAINER_PORT_USE_RANGE,
                    container_port_range=f"{RTP_PORT_MIN}-{RTP_PORT_MAX}",
                    protocol=ecs.Protocol.UDP,
                ),
            ],
            health_check=ecs.HealthCheck(
                command=[
                    "CMD",
                    "python",
                    "-c",
                    "import os, urllib.request; urllib.request.urlopen("
                    "f\"http://127.0.0.1:{os.environ.get('HEALTH_PORT', '8080')}/health\", timeout=2)",
                ],
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(30),
            ),
        )

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=task_def,
            desired_count=config.desired_count,
            assign_public_ip=True,  # RTP goes straight to the task; a task cannot hold an EIP
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[self.task_sg],
            # New tasks start before old ones drain, so a deploy never drops live capacity.
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=Duration.seconds(60),
            enable_ecs_managed_tags=True,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )

        # --- the NLB: SIP on one TCP port; TLS passes through to the task (docs/deploy.md) -------
        self.nlb = elbv2.NetworkLoadBalancer(
            self,
            "Nlb",
            vpc=self.vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[self.nlb_sg],
            cross_zone_enabled=True,
        )
        self.target_group = elbv2.NetworkTargetGroup(
            self,
            "SipTargets",
            vpc=self.vpc,
            port=sip_port,
            protocol=elbv2.Protocol.TCP,
            target_type=elbv2.TargetType.IP,
            # A deploy or scale-in waits for the longest call the spec allows before SIGTERM.
            deregistration_delay=Duration.seconds(min(3600, max_call_seconds + 60)),
            connection_termination=False,
            # UDP cannot be health-checked; the SIP listener accepting on its TCP port is the signal.
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.TCP,
                port=str(sip_port),
                interval=Duration.seconds(10),
                healthy_threshold_count=2,
                unhealthy_threshold_count=2,
            ),
        )
        self.target_group.set_attribute("stickiness.enabled", "true")
        self.target_group.set_attribute("stickiness.type", "source_ip")
        self.target_group.add_target(
            self.service.load_balancer_target(
                container_name=CONTAINER_NAME, container_port=sip_port, protocol=ecs.Protocol.TCP
            )
        )
        # TCP, also for TLS: a TLS listener cannot keep source_ip stickiness with a TLS target
        # group, and one forwarding clear TCP would expose the SRTP keys in the SDP on the hop
        # to the task. The task terminates TLS itself.
        self.nlb.add_listener(
            "Sip", port=sip_port, protocol=elbv2.Protocol.TCP, default_target_groups=[self.target_group]
        )

        self.origination = ChimeOrigination(
            self,
            "Origination",
            voice_connector_id=voice_connector_id,
            host=config.sip_domain or self.nlb.load_balancer_dns_name,
            port=sip_port,
        )
        suppress_custom_resource_provider(self)
        self._suppress()

        CfnOutput(self, "NlbDnsName", value=self.nlb.load_balancer_dns_name)
        if self.tls_secret is not None:
            CfnOutput(
                self,
                "SipTlsSecretName",
                value=self.tls_secret.secret_name,
                description="JSON {certificate, private_key, ca}: PEM for the origination host name (docs/deploy.md)",
            )
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.service.service_name)
        CfnOutput(self, "BridgeLogGroup", value=self.log_group.log_group_name)

    def _sip_environment(self, config: DeployConfig) -> dict[str, str]:
        if not config.encrypted:
            return {"SIP_PORT": str(config.sip_port), "SIP_TRANSPORTS": "tcp", "ENCRYPTION": "off"}
        env = {"SIP_TLS_PORT": str(config.sip_port), "SIP_TRANSPORTS": "tls", "ENCRYPTION": "required"}
        if config.sip_domain:  # in-dialog requests come back to the name the certificate is for
            env["SIP_CONTACT_HOST"] = config.sip_domain
        return env

    def _tls_secrets(self, config: DeployConfig) -> dict[str, ecs.Secret]:
        """The certificate the task presents on 5061, its key and the CA for connections it
        opens, from one secret (JSON fields), injected by ECS; never in the template."""
        self.tls_secret: secretsmanager.ISecret | None = None
        if not config.encrypted:
            return {}
        if config.sip_tls_secret_arn:
            self.tls_secret = secretsmanager.Secret.from_secret_complete_arn(
                self, "SipTlsSecret", config.sip_tls_secret_arn
            )
        else:
            made = secretsmanager.Secret(
                self,
                "SipTlsSecret",
                description="SIP over TLS certificate (PEM) for the origination host: fields certificate, "
                "private_key, ca (set before the first call; see docs/deploy.md).",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps({"certificate": "", "private_key": "", "ca": ""}),
                    generate_string_key="placeholder",
                ),
            )
            suppress(
                made,
                "SMG4",
                "A certificate is renewed by its CA, not rotated by Secrets Manager: the new PEM is "
                "put into the secret and the service redeployed.",
            )
            self.tls_secret = made
        fields = {"SIP_TLS_CERT": "certificate", "SIP_TLS_KEY": "private_key", "SIP_TLS_CA": "ca"}
        return {env: ecs.Secret.from_secrets_manager(self.tls_secret, field=key) for env, key in fields.items()}

    def _suppress(self) -> None:
        suppress(
            self.nlb,
            "ELB2",
            "NLB access logs are written only for TLS listeners; SIP passes through a TCP listener "
            "(TLS, when encrypted, ends in the task). VPC flow logs record every connection instead.",
        )
        task_def = self.service.task_definition
        suppress(
            task_def,
            "ECS2",
            "Environment holds only resource names, ports and CIDRs; the one secret "
            "(OPENAI_API_KEY) is injected from Secrets Manager.",
        )
        suppress_archive_prefixes(task_def.task_role)
        suppress(
            task_def.obtain_execution_role(),
            "IAM5",
            "ecr:GetAuthorizationToken has no resource-level permissions; AWS requires '*'. "
            "Image pulls themselves are limited to the CDK assets repository.",
            applies_to=["Resource::*"],
            children=True,
        )
        suppress(
            task_def.task_role,
            "IAM5",
            "Public IP discovery: ec2:DescribeNetworkInterfaces has no resource-level permissions "
            "(AWS requires '*'); ecs:DescribeTasks is limited to this cluster's tasks.",
            applies_to=[
                "Resource::*",
                r"/^Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task\/<Cluster[0-9A-F]{8}>\/\*$/",
            ],
            children=True,
        )
