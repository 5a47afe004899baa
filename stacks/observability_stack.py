"""Observability: one dashboard (calls, gate denials, backfills, tool latency, bridge CPU) and
alarms on function errors, the dead-letter queue and unhealthy bridge targets, sent to an SNS topic.

Gate denials and backfills are counted from the decision lines (one JSON line each, with a
`decision` key) by metric filters, so no code has to publish metrics for them.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

NAMESPACE = "VoiceAgent"
PERIOD = Duration.minutes(5)


def decision_pattern(decision: str, verdict: str) -> logs.IFilterPattern:
    """Match a decision line printed bare or nested as a structured log's `message`."""
    return logs.FilterPattern.literal(
        f'{{ ($.decision = "{decision}" && $.verdict = "{verdict}") || '
        f'($.message.decision = "{decision}" && $.message.verdict = "{verdict}") }}'
    )


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.IFunction],
        function_log_groups: dict[str, logs.ILogGroup],
        bridge_log_group: logs.ILogGroup,
        bridge_service: ecs.FargateService,
        target_group: elbv2.NetworkTargetGroup,
        event_bus: events.IEventBus,
        call_ended_rule: events.IRule,
        dlq: sqs.IQueue,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        # The gate runs in the policy function and is logged by the bridge too; both count.
        gate_denials = self._count(
            "GateDenials",
            decision_pattern("end_call_gate", "deny"),
            [function_log_groups["policy"], bridge_log_group],
        )
        backfills = self._count(
            "BackfillsAccepted", decision_pattern("backfill", "accept"), [function_log_groups["post_call"]]
        )
        calls = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="MatchedEvents",
            dimensions_map={"EventBusName": event_bus.event_bus_name, "RuleName": call_ended_rule.rule_name},
            statistic="Sum",
            period=PERIOD,
            label="Calls ended",
        )
        tools = functions["tools"]
        cpu = bridge_service.metric_cpu_utilization(period=PERIOD, label="Bridge CPU % (avg)")

        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(24))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Calls", left=[calls], width=8),
            cloudwatch.GraphWidget(title="Gate denials", left=[gate_denials], width=8),
            cloudwatch.GraphWidget(title="Backfilled fields", left=[backfills], width=8),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Calls by agent", left=[self._by_agent("AgentCalls")], width=12),
            cloudwatch.GraphWidget(title="Cost by agent (USD)", left=[self._by_agent("AgentCostUsd")], width=12),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tool latency (ms)",
                left=[
                    tools.metric_duration(statistic="p50", period=PERIOD, label="p50"),
                    tools.metric_duration(statistic="p99", period=PERIOD, label="p99"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Bridge CPU",
                left=[cpu, bridge_service.metric_cpu_utilization(period=PERIOD, statistic="Maximum", label="max")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Bridge targets",
                left=[
                    target_group.metrics.healthy_host_count(period=Duration.minutes(1), label="healthy"),
                    target_group.metrics.un_healthy_host_count(period=Duration.minutes(1), label="unhealthy"),
                ],
                width=8,
            ),
        )

        # AWS-managed key: encrypted at rest with no key policy to maintain.
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name="voice-agent alarms",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        action = cw_actions.SnsAction(self.topic)

        def alarm(cid: str, metric: cloudwatch.IMetric, description: str, evaluation_periods: int = 1) -> None:
            cloudwatch.Alarm(
                self,
                cid,
                metric=metric,
                threshold=1,
                evaluation_periods=evaluation_periods,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            ).add_alarm_action(action)

        for key, fn in functions.items():
            name = key.title().replace("_", "")
            alarm(f"{name}Errors", fn.metric_errors(period=PERIOD), f"The {key} function raised errors.")
        alarm(
            "PostCallDlqMessages",
            dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            "CallEnded events failed post-call processing; inspect and redrive the DLQ.",
        )
        alarm(
            "CallEndedDeliveryFailures",
            cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="FailedInvocations",
                dimensions_map={"EventBusName": event_bus.event_bus_name, "RuleName": call_ended_rule.rule_name},
                statistic="Sum",
                period=PERIOD,
            ),
            "EventBridge could not invoke the post-call function.",
        )
        alarm(
            "UnhealthyBridgeTargets",
            target_group.metrics.un_healthy_host_count(period=Duration.minutes(1), statistic="Maximum"),
            "A bridge task fails its SIP health check.",
            evaluation_periods=3,
        )
        cloudwatch.Alarm(
            self,
            "NoHealthyBridge",
            metric=target_group.metrics.healthy_host_count(period=Duration.minutes(1), statistic="Minimum"),
            threshold=1,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            # No data means no healthy target is reporting: calls cannot connect.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            alarm_description="No healthy bridge task: inbound calls cannot connect.",
        ).add_alarm_action(action)

        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=dashboard.dashboard_name)

    @staticmethod
    def _by_agent(metric_name: str) -> cloudwatch.MathExpression:
        """One line per agent: the post-call function publishes each reconciled call, and its
        priced cost, with an `agent` dimension (functions/post_call/handler.py)."""
        search = f'{{{NAMESPACE},agent,service}} MetricName="{metric_name}"'
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{search}', 'Sum', {PERIOD.to_seconds()})",
            using_metrics={},
            label="",
            period=PERIOD,
        )

    def _count(self, name: str, pattern: logs.IFilterPattern, groups: list[logs.ILogGroup]) -> cloudwatch.Metric:
        for i, group in enumerate(groups):
            logs.MetricFilter(
                self,
                f"{name}Filter{i}",
                log_group=group,
                filter_pattern=pattern,
                metric_namespace=NAMESPACE,
                metric_name=name,
                metric_value="1",
                default_value=0,
            )
        return cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, statistic="Sum", period=PERIOD, label=name)
