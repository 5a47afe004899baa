"""Audit: Glue tables over the archive (partition projection by date), an Athena workgroup with
encrypted results, and the named queries auditors ask for (voice_agent/audit/queries/*.sql, the
same files `voice-agent audit` runs locally with DuckDB).

Partition projection computes partitions from the S3 layout (`<kind>/date=YYYY-MM-DD/`), so no
crawler or MSCK REPAIR is ever needed and a new day is queryable the moment it is written.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import DeployConfig
from stacks.functions_stack import s3_object_arns
from stacks.nag import suppress
from voice_agent.audit import PARTITION_COLUMN, TABLE_COLUMNS, load_queries

FIRST_DAY = "2025-01-01"


class AuditStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        archive_bucket: s3.IBucket,
        results_bucket: s3.IBucket,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.database_name = config.resource_prefix.replace("-", "_")
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="voice-agent call archive: transcripts, records, decisions"
            ),
        )
        for kind, columns in TABLE_COLUMNS.items():
            location = f"s3://{archive_bucket.bucket_name}/{kind}/"
            table = glue.CfnTable(
                self,
                f"{kind.title()}Table",
                catalog_id=self.account,
                database_name=self.database_name,
                table_input=glue.CfnTable.TableInputProperty(
                    name=kind,
                    table_type="EXTERNAL_TABLE",
                    parameters={
                        "classification": "json",
                        "projection.enabled": "true",
                        f"projection.{PARTITION_COLUMN}.type": "date",
                        f"projection.{PARTITION_COLUMN}.format": "yyyy-MM-dd",
                        f"projection.{PARTITION_COLUMN}.range": f"{FIRST_DAY},NOW",
                        f"projection.{PARTITION_COLUMN}.interval": "1",
                        f"projection.{PARTITION_COLUMN}.interval.unit": "DAYS",
                        "storage.location.template": f"{location}date=${{{PARTITION_COLUMN}}}/",
                    },
                    partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION_COLUMN, type="string")],
                    storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                        location=location,
                        columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in columns],
                        input_format="org.apache.hadoop.mapred.TextInputFormat",
                        output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                        serde_info=glue.CfnTable.SerdeInfoProperty(
                            serialization_library="org.openx.data.jsonserde.JsonSerDe",
                            parameters={"ignore.malformed.json": "true"},
                        ),
                    ),
                ),
            )
            table.add_resource_dependency(database)

        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{config.resource_prefix}-audit",
            description="Auditor queries over the voice-agent archive",
            state="ENABLED",
            recursive_delete_option=True,  # removes the named queries with the stack
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,  # users cannot turn result encryption off
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=10 * 1024**3,  # a runaway query stops at 10 GB ($0.05)
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results_bucket.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        # The same SQL files `voice-agent audit` runs locally (voice_agent/audit/queries/).
        for name, audit_query in load_queries().items():
            query = athena.CfnNamedQuery(
                self,
                "".join(part.title() for part in name.split("_")) + "Query",
                name=name,
                description=audit_query.description,
                database=self.database_name,
                query_string=audit_query.sql,
                work_group=self.workgroup.ref,
            )
            query.add_resource_dependency(database)

        self.auditor_policy = self._auditor_policy(archive_bucket, results_bucket)

        CfnOutput(self, "AthenaWorkGroup", value=self.workgroup.ref)
        CfnOutput(
            self,
            "AuditorPolicyArn",
            value=self.auditor_policy.managed_policy_arn,
            description="Attach to your auditors' role or group: read-only queries over the archive.",
        )
        CfnOutput(self, "GlueDatabase", value=self.database_name)

    def _auditor_policy(self, archive: s3.IBucket, results: s3.IBucket) -> iam.ManagedPolicy:
        """Everything an auditor needs to run queries in the workgroup, and nothing that writes
        to the archive."""
        glue_arn = self.format_arn
        tables = [
            glue_arn(service="glue", resource="table", resource_name=f"{self.database_name}/{t}") for t in TABLE_COLUMNS
        ]
        policy = iam.ManagedPolicy(
            self,
            "AuditorAccess",
            description="Read-only Athena queries over the voice-agent archive",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "athena:StartQueryExecution",
                        "athena:StopQueryExecution",
                        "athena:GetQueryExecution",
                        "athena:GetQueryResults",
                        "athena:ListQueryExecutions",
                        "athena:GetWorkGroup",
                        "athena:ListNamedQueries",
                        "athena:GetNamedQuery",
                        "athena:BatchGetNamedQuery",
                    ],
                    resources=[glue_arn(service="athena", resource="workgroup", resource_name=self.workgroup.ref)],
                ),
                iam.PolicyStatement(
                    actions=[
                        "glue:GetDatabase",
                        "glue:GetTable",
                        "glue:GetTables",
                        "glue:GetPartition",
                        "glue:GetPartitions",
                    ],
                    resources=[
                        glue_arn(service="glue", resource="catalog"),
                        glue_arn(service="glue", resource="database", resource_name=self.database_name),
                        *tables,
                    ],
                ),
                iam.PolicyStatement(actions=["s3:GetObject"], resources=s3_object_arns(archive, *TABLE_COLUMNS)),
                iam.PolicyStatement(
                    actions=["s3:ListBucket", "s3:GetBucketLocation"],
                    resources=[archive.bucket_arn, results.bucket_arn],
                ),
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=s3_object_arns(results, "results"),
                ),
            ],
        )
        suppress(
            policy,
            "IAM5",
            "Auditors read whole archive prefixes (transcripts/, records/, decisions/) and write query "
            "results under results/; object keys are per call or per query, so each key ends in *.",
            applies_to=[
                r"/^Resource::<Archive[0-9A-F]{8}\.Arn>\/(transcripts|records|decisions)\/\*$/",
                r"/^Resource::<AthenaResults[0-9A-F]{8}\.Arn>\/results\/\*$/",
            ],
        )
        return policy
