"""Delivering an event to the org's webhooks (DESIGN §8): a signed POST each, each webhook at most once per event.

A webhook that fails (a non-2xx answer, a timeout, an address no longer allowed) makes the whole delivery
fail, so the platform retries it with backoff and finally dead-letters it; the webhooks that already got
the event are not sent it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from gatekey.domain.clock import utc_now
from gatekey.domain.events import DomainEvent, Sealer, reveal_secrets
from gatekey.domain.webhook_signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, webhook_signature
from gatekey.domain.webhook_targets import Resolver, UnsafeWebhookUrlError, WebhookTarget, resolve_host, resolve_target
from gatekey.domain.webhooks import Webhook, WebhookRegistry

USER_AGENT = "Gatekey-Webhooks/1"


class WebhookFailedError(Exception):
    """One webhook did not take the event: unreachable, too slow, or not a 2xx answer."""


class WebhookSender(Protocol):
    def post(self, target: WebhookTarget, headers: Mapping[str, str], body: bytes) -> int:
        """POST `body` to the checked target and return the status; raises WebhookFailedError when there is none."""
        ...


class DeliverOnce(Protocol):
    def __call__(self, event_id: str, webhook_id: str, send: Callable[[], None]) -> None:
        """Run `send` unless it succeeded for this (event, webhook) before."""
        ...


class DeliveryIncompleteError(Exception):
    """Some webhooks did not take the event; raised so that the delivery is retried, then dead-lettered."""

    def __init__(self, event: DomainEvent, failures: Mapping[str, str]) -> None:
        reasons = "; ".join(f"{webhook_id}: {reason}" for webhook_id, reason in failures.items())
        super().__init__(f"event {event.event_id} ({event.type}) not delivered to {reasons}")
        self.failures = dict(failures)


@dataclass(frozen=True)
class DeliveryReport:
    subscribed: int
    delivered: int


class WebhookDelivery:
    def __init__(
        self,
        registry: WebhookRegistry,
        sealer: Sealer,
        sender: WebhookSender,
        *,
        loopback_allowed: bool,
        resolver: Resolver = resolve_host,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._registry = registry
        self._sealer = sealer
        self._sender = sender
        self._loopback_allowed = loopback_allowed
        self._resolver = resolver
        self._clock = clock

    def deliver(self, event: DomainEvent, once: DeliverOnce) -> DeliveryReport:
        """POST the event to every webhook of its org subscribed to its type; raises DeliveryIncompleteError."""
        webhooks = self._registry.subscribed_to(event.type, event.org_id)
        if not webhooks:
            return DeliveryReport(0, 0)
        body = json.dumps(event.envelope(reveal_secrets(event, self._sealer)), separators=(",", ":")).encode()
        failures: dict[str, str] = {}
        for webhook in webhooks:
            try:
                once(event.event_id, webhook.webhook_id, partial(self._send, webhook, event, body))
            except WebhookFailedError as failure:
                failures[webhook.webhook_id] = str(failure)
        if failures:
            raise DeliveryIncompleteError(event, failures)
        return DeliveryReport(len(webhooks), len(webhooks))

    def _send(self, webhook: Webhook, event: DomainEvent, body: bytes) -> None:
        try:  # checked again now: the name may resolve elsewhere than when the webhook was registered
            target = resolve_target(webhook.url, loopback_allowed=self._loopback_allowed, resolver=self._resolver)
        except UnsafeWebhookUrlError as error:
            raise WebhookFailedError(f"url {error}") from error
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: event.event_id,
            EVENT_TYPE_HEADER: event.type,
            SIGNATURE_HEADER: webhook_signature(self._registry.secret_of(webhook), timestamp, body),
        }
        status = self._sender.post(target, headers, body)
        if not 200 <= status < 300:
            raise WebhookFailedError(f"answered {status}")
