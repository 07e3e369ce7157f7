"""Domain events and scheduled work: the stage's event bus, the rule that hands every event to webhook delivery,
the schedule that runs the scheduler, and for each a dead-letter queue with its alarm (DESIGN §8, §9)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from gatekey.api_gateway import SCHEDULER, WEBHOOK_DELIVERY
from gatekey.cdk.alarms import queue_not_empty_alarm
from gatekey.cdk.failure_queues import failure_queue
from gatekey.cdk.functions import Functions
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
# EventBridge hands a tick to the scheduler twice more if Lambda throttles it; a tick it could not hand over within
# one interval is stale (the next tick does its work) and is dead-lettered, so that a missed run shows.
SCHEDULE_HANDOVER_RETRY_ATTEMPTS = 2
# A run that raised (some key's work failed, or it crashed) is retried by Lambda twice: the domain skips the work
# already done, and a run for an older "now" does nothing wrong. After an hour later ticks have done its work; what
# still failed is dead-lettered with the tick (its `time`, for `gatekey run-scheduled --at`) and Lambda's error.
SCHEDULED_RUN_RETRY_ATTEMPTS = 2
SCHEDULED_RUN_MAX_EVENT_AGE = Duration.hours(1)


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
        # One queue for every event that did not reach the webhooks, like the local runtime's one queue: what
        # EventBridge could not hand to the delivery function (the event itself, the rule and error in the message
        # attributes) and what the function still failed to deliver after Lambda's retries (Lambda's on-failure
        # record, the event in its `requestPayload`).
        self.dead_letter_queue: sqs.Queue = failure_queue(
            self,
            "WebhookDeadLetters",
            settings=settings,
            holds="webhook delivery (the delivery rule's target DLQ and the function's on-failure destination)",
        )
        self.dead_letter_alarm: cloudwatch.Alarm = queue_not_empty_alarm(
            self,
            "WebhookDeadLettersAlarm",
            queue=self.dead_letter_queue,
            description=f"Gatekey {settings.stage}: domain events that could not be delivered to webhooks after "
            "every retry are waiting in the webhook dead-letter queue",
        )
        self._deliver_to_webhooks(functions)
        # The same two kinds of message for the scheduler: ticks EventBridge could not hand over, and runs that
        # failed after Lambda's retries. Without it a failed run would show only in the function's log.
        self.scheduler_dead_letter_queue: sqs.Queue = failure_queue(
            self,
            "SchedulerDeadLetters",
            settings=settings,
            holds="the scheduler (the schedule's target DLQ and the function's on-failure destination)",
        )
        self.scheduler_dead_letter_alarm: cloudwatch.Alarm = queue_not_empty_alarm(
            self,
            "SchedulerDeadLettersAlarm",
            queue=self.scheduler_dead_letter_queue,
            description=f"Gatekey {settings.stage}: a scheduled run (rotations, expiry notices, expiries) failed or "
            "never ran; its tick and error are in the scheduler dead-letter queue",
        )
        self._schedule(settings, functions)

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
        scheduler = functions.function(SCHEDULER)
        interval = Duration.minutes(settings.schedule_rate_minutes)
        events.Rule(
            self,
            "SchedulerSchedule",
            description=f"Gatekey {settings.stage}: rotations due, expiry notices and expiries",
            schedule=events.Schedule.rate(interval),
            targets=[
                targets.LambdaFunction(
                    scheduler,
                    retry_attempts=SCHEDULE_HANDOVER_RETRY_ATTEMPTS,
                    max_event_age=interval,
                    dead_letter_queue=self.scheduler_dead_letter_queue,
                )
            ],
        )
        scheduler.configure_async_invoke(
            retry_attempts=SCHEDULED_RUN_RETRY_ATTEMPTS,
            max_event_age=SCHEDULED_RUN_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.scheduler_dead_letter_queue),
        )
