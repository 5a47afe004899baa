"""Events: the voice-agent bus with an archive, CallEnded -> post-call with retries and a DLQ,
and the reaper's schedule."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import suppress

EVENT_SOURCE = "voice-agent"


class EventsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        event_bus_name: str,
        post_call: lambda_.IFunction,
        post_call_role: iam.IRole,
        reaper: lambda_.IFunction,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.bus = events.EventBus(self, "Bus", event_bus_name=event_bus_name)
        # Every voice-agent event is kept a year: a fixed post-call pass can be replayed over
        # past calls (EventBridge archive replay) without touching the bridge.
        self.bus.archive(
            "Archive",
            archive_name=f"{event_bus_name}-archive",
            description="All voice-agent events, for replay after a post-call fix.",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
            retention=Duration.days(365),
        )

        # One queue for both failure paths: EventBridge could not deliver, or the function failed
        # every retry. Either way the message holds the original CallEnded event.
        self.dlq = sqs.Queue(
            self,
            "PostCallDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        suppress(self.dlq, "SQS3", "This queue is itself the dead-letter queue.")

        self.call_ended_rule = events.Rule(
            self,
            "CallEndedToPostCall",
            event_bus=self.bus,
            description="Reconcile each ended call's record against its transcript.",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE], detail_type=["CallEnded"]),
            targets=[
                targets.LambdaFunction(
                    post_call,
                    retry_attempts=8,
                    max_event_age=Duration.hours(6),
                    dead_letter_queue=self.dlq,
                )
            ],
        )
        # Function-level failures (exceptions, timeouts) retry twice, then land in the same DLQ.
        invoke_config = lambda_.CfnEventInvokeConfig(
            self,
            "PostCallAsyncConfig",
            function_name=post_call.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=6 * 3600,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=self.dlq.queue_arn)
            ),
        )
        # Lambda sends to the destination with the function's own role; granted here so the
        # functions stack need not know the queue.
        send = iam.Policy(
            self,
            "PostCallDlqSend",
            roles=[post_call_role],
            statements=[iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dlq.queue_arn])],
        )
        # Lambda checks the role can reach the destination when the config is written.
        invoke_config.node.add_dependency(send)

        self.reaper_rule = events.Rule(
            self,
            "ReaperSchedule",
            description="Close calls whose bridge stopped heartbeating.",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[targets.LambdaFunction(reaper, retry_attempts=0)],
        )

        CfnOutput(self, "EventBusName", value=self.bus.event_bus_name)
        CfnOutput(self, "PostCallDlqUrl", value=self.dlq.queue_url)
