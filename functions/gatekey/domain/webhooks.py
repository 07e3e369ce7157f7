"""Webhook endpoints (DESIGN §8): an org registers a URL and the event types it wants; its secret signs deliveries."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from gatekey.domain.clock import utc_now
from gatekey.domain.errors import ConflictError, InvalidRequestError, NotFoundError
from gatekey.domain.events import EVENT_TYPES, EVERY_EVENT_TYPE, Sealer
from gatekey.domain.ids import is_id, new_id
from gatekey.domain.tokens import random_base62
from gatekey.domain.webhook_targets import Resolver, UnsafeWebhookUrlError, resolve_host, resolve_target

if TYPE_CHECKING:
    from gatekey.domain.key_lifecycle import Caller

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_LENGTH = 32
MAX_WEBHOOKS_PER_ORG = 10


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    org_id: str
    url: str
    event_types: tuple[str, ...]
    created_at: datetime
    created_by: str
    sealed_secret: str  # the signing secret, sealed with KMS, bound to webhook and org

    def subscribes_to(self, event_type: str) -> bool:
        return EVERY_EVENT_TYPE in self.event_types or event_type in self.event_types


def webhook_secret_context(webhook_id: str, org_id: str) -> dict[str, str]:
    return {"purpose": "webhook-secret", "webhook_id": webhook_id, "org_id": org_id}


def check_event_types(event_types: Sequence[str]) -> tuple[str, ...]:
    """The subscription as given, once each; raises InvalidRequestError naming an unknown type."""
    if not event_types:
        raise InvalidRequestError('events: name at least one event type, or ["*"] for all')
    unknown = [name for name in event_types if name != EVERY_EVENT_TYPE and name not in EVENT_TYPES]
    if unknown:
        raise InvalidRequestError(
            f"events: unknown event type {unknown[0]!r}; use '*' or any of: {', '.join(EVENT_TYPES)}",
            code="invalid_event_type",
        )
    return tuple(dict.fromkeys(event_types))


class WebhookLimitReachedError(ConflictError):
    code = "webhook_limit_reached"

    def __init__(self) -> None:
        super().__init__(
            f"the organisation has {MAX_WEBHOOKS_PER_ORG} webhooks, the most it may have; delete one first"
        )


class WebhookStore(Protocol):
    """Where webhooks are kept (storage/webhooks_repository.py): what the domain asks of it."""

    def create(self, webhook: Webhook, limit: int) -> None:
        """Store the webhook, atomically counted against its org's `limit`: parallel creates never pass it.
        Raises WebhookLimitReachedError when the org already has `limit` webhooks."""

    def get_in_org(self, org_id: str, webhook_id: str) -> Webhook:
        """The org's webhook; raises NotFoundError for another org's, like for a missing one."""

    def delete_in_org(self, org_id: str, webhook_id: str) -> Webhook:
        """Delete the org's webhook, freeing its place under the limit; NotFoundError for another org's."""

    def all_of_org(self, org_id: str) -> Iterator[Webhook]: ...

    def list_for_org(
        self, org_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Webhook], dict[str, str] | None]: ...


@dataclass(frozen=True)
class WebhookPage:
    webhooks: list[Webhook]
    after: dict[str, str] | None


class WebhookRegistry:
    def __init__(
        self,
        webhooks: WebhookStore,
        sealer: Sealer,
        *,
        loopback_allowed: bool,
        resolver: Resolver = resolve_host,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._webhooks = webhooks
        self._sealer = sealer
        self._loopback_allowed = loopback_allowed
        self._resolver = resolver
        self._clock = clock

    def create(self, caller: Caller, url: str, event_types: Sequence[str]) -> tuple[Webhook, str]:
        """A new webhook and its signing secret, which is shown only now."""
        subscribed = check_event_types(event_types)
        try:
            resolve_target(url, loopback_allowed=self._loopback_allowed, resolver=self._resolver)
        except UnsafeWebhookUrlError as error:
            raise InvalidRequestError(f"url: {error}", code="invalid_webhook_url") from error
        webhook_id = new_id("whk")
        secret = SECRET_PREFIX + random_base62(SECRET_LENGTH)
        webhook = Webhook(
            webhook_id=webhook_id,
            org_id=caller.org_id,
            url=url,
            event_types=subscribed,
            created_at=self._clock(),
            created_by=caller.user_id or caller.key_id,
            sealed_secret=self._sealer.seal(secret, webhook_secret_context(webhook_id, caller.org_id)),
        )
        self._webhooks.create(webhook, MAX_WEBHOOKS_PER_ORG)
        return webhook, secret

    def list(self, caller: Caller, limit: int, after: dict[str, str] | None) -> WebhookPage:
        webhooks, next_after = self._webhooks.list_for_org(caller.org_id, limit, after)
        return WebhookPage(webhooks, next_after)

    def get(self, caller: Caller, webhook_id: str) -> Webhook:
        _check_shape(webhook_id)
        return self._webhooks.get_in_org(caller.org_id, webhook_id)

    def delete(self, caller: Caller, webhook_id: str) -> Webhook:
        """Delete at once: events from now on are not delivered to it."""
        _check_shape(webhook_id)
        return self._webhooks.delete_in_org(caller.org_id, webhook_id)

    def delete_all(self, org_id: str) -> None:
        """Every webhook of an org being deleted."""
        for webhook in self._webhooks.all_of_org(org_id):
            self._webhooks.delete_in_org(org_id, webhook.webhook_id)

    def subscribed_to(self, event_type: str, org_id: str) -> Sequence[Webhook]:
        return [webhook for webhook in self._webhooks.all_of_org(org_id) if webhook.subscribes_to(event_type)]

    def secret_of(self, webhook: Webhook) -> str:
        return self._sealer.unseal(webhook.sealed_secret, webhook_secret_context(webhook.webhook_id, webhook.org_id))


def _check_shape(webhook_id: str) -> None:
    if not is_id(webhook_id, "whk"):
        raise NotFoundError("no such webhook in this organisation")
