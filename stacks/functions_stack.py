"""Functions: the tool, policy, post-call and reaper handlers, each with its own least-privilege role.

One bundled asset (stacks/lambda_bundle.py) serves all four; the handler path picks the code.
Every role is written out by hand instead of `grant_*` helpers, whose S3 grants use wildcard
actions (s3:GetObject*, s3:List*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import DeployConfig
from stacks.data_stack import LIVE_CALLS_INDEX
from stacks.lambda_bundle import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, lambda_code
from stacks.nag import suppress

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# On the live call path: with provisioned concurrency the bridge invokes their `live` alias.
LIVE_PATH = ("tools", "policy")
LIVE_ALIAS = "live"
# What every table user needs; the code uses conditional writes, never Scan or deletes.
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
AGENTS_PREFIX = "agents"  # agent_registry.agent_archive_key: every spec version's text


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    handler: str
    timeout: Duration
    memory_mb: int
    reserved: int | None
    description: str


HANDLERS = {
    # On the live call path: the model waits for the result, so a hung call must fail fast.
    # Unreserved on purpose: a cap here would throttle live calls; 1 GB buys a fast cold start.
    "tools": HandlerSpec(
        "tools", "functions.tools.handler.handler", Duration.seconds(10), 1024, None, "Typed tool calls"
    ),
    "policy": HandlerSpec(
        "policy", "functions.policy.handler.handler", Duration.seconds(10), 1024, None, "End-of-call gate"
    ),
    # One LLM extraction per ended call; the cap bounds OpenAI spend and rate-limit pressure when
    # a backlog or an archive replay arrives at once. Failed events wait in the DLQ.
    "post_call": HandlerSpec(
        "post-call",
        "functions.post_call.handler.handler",
        Duration.seconds(120),
        1024,
        5,
        "Post-call reconciliation",
    ),
    # A sweep of stale heartbeats each minute; one at a time so two sweeps never close a call twice.
    "reaper": HandlerSpec(
        "reaper", "functions.reaper.handler.handler", Duration.seconds(60), 256, 1, "Stale call reaper"
    ),
}


def s3_object_arns(bucket: s3.IBucket, *prefixes: str) -> list[str]:
    return [bucket.arn_for_objects(f"{p}/*") for p in prefixes]


def suppress_archive_prefixes(role: iam.IRole) -> None:
    """Object keys are per call (`<kind>/date=.../<call_id>`) or per spec version
    (`agents/<agent>/<version>.yaml`), so object grants end in a prefix wildcard; the prefixes
    themselves are exact."""
    suppress(
        role,
        "IAM5",
        "S3 object access is limited to the archive prefixes this role needs (transcripts/, records/, "
        "decisions/, agents/); object keys are per call or per spec version, so the key ends in *.",
        applies_to=[r"/^Resource::<Archive[0-9A-F]{8}\.Arn>\/(transcripts|records|decisions|agents)\/\*$/"],
        children=True,
    )


class FunctionsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        calls_table: dynamodb.ITable,
        idempotency_table: dynamodb.ITable,
        archive_bucket: s3.IBucket,
        openai_secret: secretsmanager.ISecret,
        event_bus_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The bus lives in the events stack, which targets these functions; naming it instead of
        # referencing it keeps the dependency one-way.
        self.event_bus_arn = self.format_arn(service="events", resource="event-bus", resource_name=event_bus_name)
        code = lambda_code(config.spec_relpath)
        table_arns = [calls_table.table_arn, f"{calls_table.table_arn}/index/{LIVE_CALLS_INDEX}"]

        base_env = {
            "CALLS_TABLE": calls_table.table_name,
            "POWERTOOLS_METRICS_NAMESPACE": "VoiceAgent",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        self.functions: dict[str, lambda_.Function] = {}
        # What the bridge invokes: the `live` alias carrying provisioned concurrency, or the function.
        self.live: dict[str, lambda_.IFunction] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.roles: dict[str, iam.Role] = {}
        for key, h in HANDLERS.items():
            env = {**base_env, "POWERTOOLS_SERVICE_NAME": f"voice-agent-{h.name}"}
            statements = [
                iam.PolicyStatement(actions=TABLE_ACTIONS, resources=[calls_table.table_arn]),
            ]
            if key == "post_call":
                env |= {
                    "ARCHIVE_BUCKET": archive_bucket.bucket_name,
                    "EVENT_BUS_NAME": event_bus_name,
                    "PRICES": config.prices.model_dump_json(),
                    "IDEMPOTENCY_TABLE": idempotency_table.table_name,
                    "OPENAI_SECRET_ARN": openai_secret.secret_arn,
                    "POST_CALL_MODEL": config.post_call_model,
                }
                statements += [
                    iam.PolicyStatement(
                        actions=["s3:GetObject"], resources=s3_object_arns(archive_bucket, "transcripts")
                    ),
                    # Without ListBucket a missing transcript reads as 403, not 404 NoSuchKey, and the
                    # pass could not fall back to the per-turn store.
                    iam.PolicyStatement(actions=["s3:ListBucket"], resources=[archive_bucket.bucket_arn]),
                    iam.PolicyStatement(
                        actions=["s3:PutObject"], resources=s3_object_arns(archive_bucket, "records", "decisions")
                    ),
                    iam.PolicyStatement(actions=["events:PutEvents"], resources=[self.event_bus_arn]),
                    iam.PolicyStatement(
                        actions=[
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:DeleteItem",
                        ],
                        resources=[idempotency_table.table_arn],
                    ),
                    iam.PolicyStatement(
                        actions=["secretsmanager:GetSecretValue"], resources=[openai_secret.secret_arn]
                    ),
                ]
            elif key == "reaper":
                env |= {"ARCHIVE_BUCKET": archive_bucket.bucket_name, "EVENT_BUS_NAME": event_bus_name}
                statements = [
                    # The reaper reads the sparse live-calls index.
                    iam.PolicyStatement(actions=TABLE_ACTIONS, resources=table_arns),
                    # It archives the transcript of a call whose bridge died, then emits CallEnded.
                    iam.PolicyStatement(
                        actions=["s3:PutObject"], resources=s3_object_arns(archive_bucket, "transcripts")
                    ),
                    iam.PolicyStatement(actions=["events:PutEvents"], resources=[self.event_bus_arn]),
                ]
            self._add_function(key, h, code, env, statements, config.reserve_concurrency)
            if key in LIVE_PATH:
                self.live[key] = self._live(key, config.provisioned_concurrency)

        for key, fn in self.functions.items():
            CfnOutput(self, f"{key.title().replace('_', '')}FunctionName", value=fn.function_name)

    def _live(self, key: str, provisioned: int) -> lambda_.IFunction:
        fn = self.functions[key]
        if not provisioned:
            return fn
        # Provisioned concurrency needs a published version; the alias follows each deploy's code.
        return lambda_.Alias(
            self,
            f"{key.title()}Live",
            alias_name=LIVE_ALIAS,
            version=fn.current_version,
            provisioned_concurrent_executions=provisioned,
        )

    def _add_function(
        self,
        key: str,
        h: HandlerSpec,
        code: lambda_.Code,
        env: dict[str, str],
        statements: list[iam.PolicyStatement],
        reserve: bool,
    ) -> None:
        cid = key.title().replace("_", "")
        log_group = logs.LogGroup(self, f"{cid}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        # A hand-written role instead of AWSLambdaBasicExecutionRole: logs go to this group only.
        role = iam.Role(
            self,
            f"{cid}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"voice-agent {h.name} function",
            inline_policies={"least-privilege": iam.PolicyDocument(statements=statements)},
        )
        log_group.grant_write(role)
        fn = lambda_.Function(
            self,
            cid,
            description=f"voice-agent: {h.description}",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=h.handler,
            code=code,
            timeout=h.timeout,
            memory_size=h.memory_mb,
            reserved_concurrent_executions=h.reserved if reserve else None,
            environment=env,
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # Scheduled and event-driven runs retry through their own paths (next sweep, the DLQ).
            retry_attempts=0 if key == "reaper" else None,
        )
        suppress(
            fn,
            "L1",
            "Pinned to python3.12, the version the bundle's wheels are built for "
            "(pip --python-version 3.12); runtime and bundle move together.",
        )
        suppress_archive_prefixes(role)  # the call prefixes it writes or reads (tools and policy: none)
        self.functions[key] = fn
        self.log_groups[key] = log_group
        self.roles[key] = role
