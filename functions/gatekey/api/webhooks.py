"""`/v1/webhooks`: register, list, read and delete the URLs an org's events are delivered to."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from gatekey.api.models import CreateWebhookIn, WebhookListOut, WebhookOut, WebhookWithSecretOut
from gatekey.api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from gatekey.api.services import current_caller, webhook_registry

router = Router()
WebhookId = Annotated[str, Path(description="The webhook's id, `whk_…`")]


@router.post(
    "/webhooks",
    summary="Register a webhook; the response holds its signing secret, shown only there",
    responses={
        201: {"description": "Created"},
        400: {"description": "The URL is not https, or points at a private address; an unknown event type"},
        409: {"description": "The organisation has as many webhooks as it may"},
    },
)
def create_webhook(body: Annotated[CreateWebhookIn, Body()]) -> tuple[WebhookWithSecretOut, int]:
    webhook, secret = webhook_registry().create(current_caller(router), body.url, body.events)
    return WebhookWithSecretOut(**WebhookOut.of(webhook).model_dump(), secret=secret), 201


@router.get("/webhooks", summary="List the organisation's webhooks, newest first")
def list_webhooks(
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WebhookListOut:
    caller = current_caller(router)
    page = webhook_registry().list(caller, limit, decode_cursor(caller.org_id, "webhooks", cursor))
    return WebhookListOut(
        data=[WebhookOut.of(webhook) for webhook in page.webhooks],
        next_cursor=encode_cursor(caller.org_id, "webhooks", page.after),
    )


@router.get("/webhooks/<webhook_id>", summary="Read one webhook (never its secret)")
def get_webhook(webhook_id: WebhookId) -> WebhookOut:
    return WebhookOut.of(webhook_registry().get(current_caller(router), webhook_id))


@router.delete("/webhooks/<webhook_id>", summary="Delete a webhook; no further event is delivered to it")
def delete_webhook(webhook_id: WebhookId) -> WebhookOut:
    return WebhookOut.of(webhook_registry().delete(current_caller(router), webhook_id))
