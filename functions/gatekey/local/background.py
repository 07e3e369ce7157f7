"""What runs beside the local gateway: webhook delivery and the scheduler, driven as AWS drives their Lambdas.

Webhook delivery: the bus's rule puts each event on a queue (moto's EventBridge and SQS); this worker hands
it to the webhook handler as Lambda's asynchronous invocation does (`AsynchronousInvocations`): a failed
invocation is retried twice with growing delays, then an on-failure record (Lambda's destination format) goes
to the dead-letter queue. Log shipping invokes log ingest the same way.
The scheduler: its handler gets an EventBridge "Scheduled Event" at every tick of a timer.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3

from gatekey.local.embedded import EventRouting
from gatekey.local.events import ApiStage, scheduled_event

logger = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], object]

# Lambda retries a failed asynchronous invocation twice, about a minute and then two minutes later;
# locally the same two retries come after seconds, so a developer sees the dead-letter path soon.
LOCAL_RETRY_DELAYS_SECONDS = (1.0, 2.0)
POLL_INTERVAL_SECONDS = 0.2


class _BackgroundThread:
    """A daemon thread running `_run` until `stop()` sets `_stopping`."""

    def __init__(self, name: str) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        raise NotImplementedError


class AsynchronousInvocations:
    """Lambda's asynchronous invocation of one handler: a failed invocation is retried twice with growing
    delays, then an on-failure record (Lambda's destination format) goes to the destination queue. Whoever
    owns it calls `invoke_due_retries()` from its own thread; `finish()` gives every pending retry its last
    attempt now, so stopping `gatekey serve` loses nothing."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        new_context: Callable[[], Any],
        on_failure_queue_url: str,
        retry_delays: Sequence[float] = LOCAL_RETRY_DELAYS_SECONDS,
    ) -> None:
        self._name = name
        self._handler = handler
        self._new_context = new_context
        self._on_failure_queue_url = on_failure_queue_url
        self._retry_delays = tuple(retry_delays)
        self._sqs = boto3.client("sqs")
        self._retries: list[tuple[float, int, int, dict[str, Any]]] = []  # (due, sequence, attempt, event)
        self._sequence = 0
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any], attempt: int = 0) -> None:
        context = self._new_context()
        try:
            self._handler(event, context)
        except Exception as error:
            if attempt < len(self._retry_delays):
                with self._lock:
                    self._sequence += 1
                    due = time.monotonic() + self._retry_delays[attempt]
                    heapq.heappush(self._retries, (due, self._sequence, attempt + 1, event))
                return
            logger.warning("%s failed %d times: sent to its on-failure destination", self._name, attempt + 1)
            record = on_failure_record(event, context, attempts=attempt + 1, error=error)
            self._sqs.send_message(QueueUrl=self._on_failure_queue_url, MessageBody=json.dumps(record))

    def invoke_due_retries(self, *, all_now: bool = False) -> None:
        while True:
            with self._lock:
                if not self._retries or not (all_now or self._retries[0][0] <= time.monotonic()):
                    return
                _, _, attempt, event = heapq.heappop(self._retries)
            # Stopping: this is the last chance, so it is the last attempt.
            self.invoke(event, len(self._retry_delays) if all_now else attempt)

    def finish(self) -> None:
        self.invoke_due_retries(all_now=True)


class WebhookDeliveryWorker(_BackgroundThread):
    def __init__(
        self,
        handler: Handler,
        new_context: Callable[[], Any],
        routing: EventRouting,
        retry_delays: Sequence[float] = LOCAL_RETRY_DELAYS_SECONDS,
    ) -> None:
        self._routing = routing
        self._sqs = boto3.client("sqs")
        self._invocations = AsynchronousInvocations(
            "webhook delivery", handler, new_context, routing.dead_letter_queue_url, retry_delays
        )
        super().__init__("webhook-delivery")

    def stop(self) -> None:
        super().stop()
        self._invocations.finish()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._invocations.invoke_due_retries()
                self._receive()
            except Exception:
                logger.exception("webhook delivery worker failed; going on")
                self._stopping.wait(1)

    def _receive(self) -> None:
        # No long polling: the embedded store applies one request at a time, so a waiting ReceiveMessage
        # would hold up every other storage call.
        messages = self._sqs.receive_message(
            QueueUrl=self._routing.delivery_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            self._stopping.wait(POLL_INTERVAL_SECONDS)
        for message in messages:
            # Accepted for asynchronous invocation: from here on, retries and the dead-letter queue take over.
            self._sqs.delete_message(QueueUrl=self._routing.delivery_queue_url, ReceiptHandle=message["ReceiptHandle"])
            self._invocations.invoke(json.loads(message["Body"]))


def on_failure_record(event: dict[str, Any], context: Any, *, attempts: int, error: Exception) -> dict[str, Any]:
    """What Lambda sends an asynchronous invocation's on-failure destination once its retries are exhausted."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": context.aws_request_id,
            "functionArn": f"{context.invoked_function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
    }


class SchedulerTimer(_BackgroundThread):
    """Fires the scheduler handler every `interval_seconds`, with the time of the tick as the event's `time`."""

    def __init__(
        self, handler: Handler, new_context: Callable[[], Any], api: ApiStage, rule_name: str, interval_seconds: float
    ) -> None:
        self._handler = handler
        self._new_context = new_context
        self._api = api
        self._rule_name = rule_name
        self._interval = interval_seconds
        super().__init__("scheduler")

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            event = scheduled_event(self._api, self._rule_name, datetime.now(UTC), str(uuid.uuid4()))
            try:
                self._handler(event, self._new_context())
            except Exception:
                logger.exception("the scheduled run at %s failed", event["time"])
