"""Data: the calls table, the idempotency table, the archive bucket and the OpenAI key secret.

The calls table and the archive are retained on `cdk destroy`: they are the audit record.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import DeployConfig
from stacks.nag import suppress

CALLS_TTL_ATTRIBUTE = "expires_at"
LIVE_CALLS_INDEX = "live-calls"
AGENT_CALLS_INDEX = "agent-calls"  # voice_agent.record_store.AGENT_INDEX
ARCHIVE_PREFIXES = ("transcripts", "records", "decisions")


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    access_logs: s3.IBucket | None,
    logs_prefix: str,
    **props: Any,
) -> s3.Bucket:
    """A bucket that is encrypted, private, TLS-only and (unless it is the log bucket) logged."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=logs_prefix if access_logs else None,
        **props,
    )


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        # Single-table layout (docs/CONTRACTS-internal.md): META, FIELD#<name>, TURN#<seq>.
        self.calls_table = dynamodb.Table(
            self,
            "Calls",
            partition_key=dynamodb.Attribute(name="call_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,  # calls are bursty; no idle capacity
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=CALLS_TTL_ATTRIBUTE,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Sparse: only live calls' META items carry `live`, so the reaper reads a handful of items,
        # not the table; ALL projection lets it rebuild each call's META from the index alone.
        self.calls_table.add_global_secondary_index(
            index_name=LIVE_CALLS_INDEX,
            partition_key=dynamodb.Attribute(name="live", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="heartbeat_ms", type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # One agent's calls, by construction: partitioned by agent, only META items carry both keys.
        self.calls_table.add_global_secondary_index(
            index_name=AGENT_CALLS_INDEX,
            partition_key=dynamodb.Attribute(name="agent", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="started_ms", type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        # Powertools idempotency records for the post-call pass: short-lived, safe to destroy.
        self.idempotency_table = dynamodb.Table(
            self,
            "Idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expiration",
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.access_logs_bucket = secure_bucket(
            self,
            "AccessLogs",
            access_logs=None,
            logs_prefix="",
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(max(400, config.object_lock_retention_days)),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
        )

        retention = Duration.days(config.object_lock_retention_days)
        self.archive_bucket = secure_bucket(
            self,
            "Archive",
            access_logs=self.access_logs_bucket,
            logs_prefix="archive/",
            versioned=True,
            # Governance mode: auditors get immutability; an admin holding
            # s3:BypassGovernanceRetention can still remove data on a legal request.
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.governance(retention),
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                # Athena reads Standard-IA and Glacier Instant Retrieval directly, so queries keep
                # working. S3 skips objects under 128 KiB by default, where IA would cost more.
                s3.LifecycleRule(
                    id="cheaper-with-age",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(90),
                        ),
                    ],
                    noncurrent_version_expiration=retention,
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )

        # Athena query results: encrypted like the archive, and short-lived (results are re-runnable).
        self.athena_results_bucket = secure_bucket(
            self,
            "AthenaResults",
            access_logs=self.access_logs_bucket,
            logs_prefix="athena-results/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(id="expire-results", expiration=Duration.days(30))],
        )

        # The OpenAI key is set after deploy (docs/deploy.md); the generated value is a placeholder
        # so no key ever appears in the template or the repository.
        self.openai_secret = secretsmanager.Secret(
            self,
            "OpenAIKey",
            description="OpenAI API key for the realtime bridge and the post-call pass (set after deploy).",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=32),
            removal_policy=RemovalPolicy.DESTROY,
        )
        suppress(
            self.openai_secret,
            "SMG4",
            "OpenAI issues the key; it is rotated in the OpenAI dashboard and pasted in, "
            "Secrets Manager cannot rotate it.",
        )

        CfnOutput(self, "CallsTableName", value=self.calls_table.table_name)
        CfnOutput(self, "ArchiveBucketName", value=self.archive_bucket.bucket_name)
        CfnOutput(
            self,
            "OpenAISecretName",
            value=self.openai_secret.secret_name,
            description="Put the OpenAI API key here: aws secretsmanager put-secret-value --secret-id <this>",
        )
