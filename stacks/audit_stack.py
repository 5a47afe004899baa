"""Audit: Glue tables over the archive (partition projection by date), an Athena workgroup with
encrypted results, and the named queries auditors ask for.

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

PARTITION_COLUMN = "call_date"  # `date` is a reserved word in Athena SQL
FIRST_DAY = "2025-01-01"

# One JSON object per line (the OpenX SerDe reads line by line); unknown keys are ignored, so
# newer writers never break older tables.
TABLE_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "transcripts": [
        ("call_id", "string"),
        ("seq", "int"),
        ("t_ms", "bigint"),
        ("speaker", "string"),
        ("text", "string"),
        ("item_id", "string"),
        ("interrupted", "boolean"),
        ("heard_ms", "bigint"),
        ("untranscribed", "boolean"),
    ],
    "records": [
        ("call_id", "string"),
        ("agent", "string"),
        ("started_ms", "bigint"),
        ("ended_ms", "bigint"),
        ("status", "string"),
        ("ended_by", "string"),
        ("ended_reason", "string"),
        ("language", "string"),
        ("category", "string"),
        ("provider", "string"),
        (
            "fields",
            "map<string,struct<status:string,value:string,source:string,quote:string,turn_seq:int,corrections:int,"
            "evidence:string,candidate:struct<value:string,quote:string,turn_seq:int,reason:string,numerals:string>>>",
        ),
        ("missing_required", "array<string>"),
        ("cost_usd", "double"),
    ],
    "decisions": [
        ("ts", "double"),
        ("call_id", "string"),
        ("decision", "string"),
        ("verdict", "string"),
        ("reason", "string"),
        ("tool", "string"),
        ("field", "string"),
        ("masked", "string"),  # which value, never the value: length and last two characters
        ("previous_masked", "string"),
        ("missing", "array<string>"),
        ("state_from", "string"),
        ("state_to", "string"),
        ("attempt", "int"),
        ("language", "string"),
        ("turn_seq", "int"),
    ],
}

_LAST_30_DAYS = f"{PARTITION_COLUMN} >= date_format(current_date - interval '30' day, '%Y-%m-%d')"

NAMED_QUERIES: dict[str, tuple[str, str]] = {
    "calls-with-backfilled-fields": (
        "Calls whose record has fields filled by the post-call pass, with the caller's quote (30 days).",
        f"""SELECT r.{PARTITION_COLUMN}, r.call_id, f.name AS field, f.detail.value, f.detail.quote, f.detail.turn_seq
FROM records r
CROSS JOIN UNNEST(r.fields) AS f(name, detail)
WHERE f.detail.source = 'backfill' AND {_LAST_30_DAYS}
ORDER BY r.{PARTITION_COLUMN} DESC, r.call_id""",
    ),
    "gate-denials": (
        "End-of-call gate denials: the agent tried to end a call before the record was complete (30 days).",
        f"""SELECT {PARTITION_COLUMN}, call_id, from_unixtime(ts) AS at, reason, missing, state_from, state_to
FROM decisions
WHERE decision = 'end_call_gate' AND verdict = 'deny' AND {_LAST_30_DAYS}
ORDER BY ts DESC""",
    ),
    "caller-hangups-with-missing-fields": (
        "Calls the caller ended before every required field was captured or declined (30 days).",
        f"""SELECT {PARTITION_COLUMN}, call_id, ended_reason, missing_required, language, category
FROM records
WHERE ended_by = 'caller' AND cardinality(missing_required) > 0 AND {_LAST_30_DAYS}
ORDER BY {PARTITION_COLUMN} DESC, call_id""",
    ),
    "cost-per-call-by-day": (
        "Calls, total and per-call model cost by day (90 days).",
        f"""SELECT {PARTITION_COLUMN}, count(*) AS calls,
       round(sum(cost_usd), 4) AS total_usd,
       round(avg(cost_usd), 4) AS avg_usd_per_call,
       round(approx_percentile(cost_usd, 0.95), 4) AS p95_usd_per_call,
       round(avg((ended_ms - started_ms) / 1000.0), 1) AS avg_seconds
FROM records
WHERE {PARTITION_COLUMN} >= date_format(current_date - interval '90' day, '%Y-%m-%d')
GROUP BY {PARTITION_COLUMN}
ORDER BY {PARTITION_COLUMN} DESC""",
    ),
}


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
        for name, (description, sql) in NAMED_QUERIES.items():
            query = athena.CfnNamedQuery(
                self,
                "".join(part.title() for part in name.split("-")),
                name=name,
                description=description,
                database=self.database_name,
                query_string=sql,
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
