"""Domain events and scheduled work: the stage's event bus, the rule that hands every event to webhook delivery,
the dead-letter queue for what cannot be delivered, and the schedule that runs the scheduler (DESIGN §8, §9)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from gatekey.api_gateway import SCHEDULER, WEBHOOK_DELIVERY
from gatekey.cdk.functions import Functions
from gatekey.cdk.log_groups import removal_policy
from gatekey.settings import StageSettings, event_bus_name
from gatekey.storage.event_bus import DELIVERY_EVENT_PATTERN

# EventBridge hands an event to Lambda's asynchronous queue at once unless Lambda throttles or is unavailable;
# then it retries, with backoff, for up to a day (EventBridge's longest), and dead-letters what it could not
# hand over. The delivery ledger (storage/delivery_ledger.py) remembers deliveries longer than these retries.
HANDOVER_RETRY_ATTEMPTS = 8
HANDOVER_MAX_EVENT_AGE = Duration.hours(24)
# Once Lambda has the event, a failed delivery (a receiver answered non-2xx or timed out: the handler raised)
# is retried by Lambda twice with backoff, then recorded in the dead-letter queue (DESIGN §8).
DELIVERY_RETRY_ATTEMPTS = 2
DELIVERY_MAX_EVENT_AGE = Duration.hours(6)
# SQS keeps a message at most 14 days: the time an operator has to look at a failed delivery and replay it.
DEAD_LETTER_RETENTION = Duration.days(14)


class Events(Construct):
    """The event bus the API and the scheduler publish to, its delivery to webhooks, and the scheduler's schedule."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings, functions: Functions) -> None:
        super().__init__(scope, construct_id)
        # Named per stage, like the tables, so the functions (GATEKEY_EVENT_BUS_NAME) and `gatekey serve` agree.
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=event_bus_name(settings.stage),
            description=f"Gatekey {settings.stage}: domain events (key, user and connection changes)",
        )
        functions.grant_event_publishing(self.bus)
        self.dead_letter_queue = self._dead_letter_queue(settings)
        self._deliver_to_webhooks(functions)
        self._schedule(settings, functions)

    def _dead_letter_queue(self, settings: StageSettings) -> sqs.Queue:
        """One queue for every event that did not reach the webhooks, like the local runtime's one queue: what
        EventBridge could not hand to the delivery function (the event itself, the rule and error in the message
        attributes) and what the function still failed to deliver after Lambda's retries (Lambda's on-failure
        record, the event in its `requestPayload`)."""
        queue = sqs.Queue(
            self,
            "WebhookDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            removal_policy=removal_policy(settings),
        )
        Validations.of(queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter queue of webhook delivery (the delivery rule's target "
                "DLQ and the function's on-failure destination); nothing consumes it that could fail in turn",
            )
        )
        return queue

    def _deliver_to_webhooks(self, functions: Functions) -> None:
        webhook_delivery = functions.function(WEBHOOK_DELIVERY)
        events.Rule(
            self,
            "WebhookDeliveryRule",
            description="Every Gatekey domain event to webhook delivery",
            event_bus=self.bus,
            event_pattern=DELIVERY_EVENT_PATTERN,
            targets=[
                targets.LambdaFunction(
                    webhook_delivery,
                    retry_attempts=HANDOVER_RETRY_ATTEMPTS,
                    max_event_age=HANDOVER_MAX_EVENT_AGE,
                    dead_letter_queue=self.dead_letter_queue,
                )
            ],
        )
        webhook_delivery.configure_async_invoke(
            retry_attempts=DELIVERY_RETRY_ATTEMPTS,
            max_event_age=DELIVERY_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )

    def _schedule(self, settings: StageSettings, functions: Functions) -> None:
        """Runs the scheduler every `schedule_rate_minutes` on the default bus (EventBridge's scheduled events)."""
        interval = Duration.minutes(settings.schedule_rate_minutes)
        events.Rule(
            self,
            "SchedulerSchedule",
            description=f"Gatekey {settings.stage}: rotations due, expiry notices and expiries",
            schedule=events.Schedule.rate(interval),
            # A tick EventBridge could not hand over for a whole interval is stale: the next tick does its work.
            targets=[targets.LambdaFunction(functions.function(SCHEDULER), retry_attempts=2, max_event_age=interval)],
        )
