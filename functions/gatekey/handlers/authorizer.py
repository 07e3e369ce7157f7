"""Lambda entry point of the REST API's REQUEST authorizer: credentials in, IAM policy (or 401) out."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.configuration import active_configuration
from gatekey.domain.authentication import (
    AccessDenied,
    Authenticated,
    Authenticator,
    PresentedRequest,
    Unauthenticated,
    UnsealedSecrets,
)
from gatekey.domain.hashing import SecretVerifier
from gatekey.domain.permissions import Level, render_permissions
from gatekey.domain.plans import usage_key_value
from gatekey.domain.signing import decoded_query
from gatekey.handlers import initialized
from gatekey.settings import StageSettings
from gatekey.storage import aws
from gatekey.storage.connections_repository import ConnectionsRepository
from gatekey.storage.keys_repository import KeysRepository
from gatekey.storage.nonces_repository import NoncesRepository
from gatekey.storage.sealing import KmsPepper, KmsSecretVault
from gatekey.storage.tables import CONNECTIONS_TABLE, DIRECTORY_TABLE, KEYS_TABLE, NONCES_TABLE

logger = Logger()
metrics = Metrics()
settings = StageSettings.from_environment()
configuration = active_configuration()
access = configuration.access
aws.dynamodb_client()  # created during init, which Lambda runs before the first request arrives
pepper = KmsPepper()
authenticator = Authenticator(
    KeysRepository(KEYS_TABLE.name(), DIRECTORY_TABLE.name()),
    SecretVerifier(settings.key_secret_argon2, pepper),
    settings.token_prefix,
    hmac_secrets=UnsealedSecrets(KmsSecretVault()),
    nonces=NoncesRepository(NONCES_TABLE.name()),
    connections=ConnectionsRepository(CONNECTIONS_TABLE.name()),
    # API Gateway's cache key leaves X-Connection-Token out, so a cached answer could name another connection.
    accept_connection_tokens=settings.authorizer_cache_ttl_seconds == 0,
)


def _response(
    event: APIGatewayAuthorizerRequestEvent, principal_id: str, context: dict[str, str] | None = None
) -> APIGatewayAuthorizerResponse:
    arn = event.parsed_arn
    return APIGatewayAuthorizerResponse(
        principal_id=principal_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=context,
    )


@lru_cache(maxsize=1024)
def _cacheable_policy(permissions: str, stage_arn: str) -> dict[str, Any]:
    """The policy a cached answer carries: every route `permissions` grant on this API stage, and no other.

    It depends on nothing else, so it is built once per distinct permission set rather than on every
    request. Callers must not mutate the returned document.
    """
    held = {resource: Level.parse(level) for resource, level in json.loads(permissions).items()}
    return access.policy_routes(held).document(stage_arn)


def allowing_policy(
    event: APIGatewayAuthorizerRequestEvent, permissions: str, *, cacheable: bool = True
) -> dict[str, Any]:
    """The policy for a request the route rule allows.

    Without caching, API Gateway applies it to this request only: it allows exactly its method ARN. A cached
    answer is reused for the key's other requests, so it names every route the permissions grant, plus this
    request's ARN unless the path holds IAM wildcard characters. A console session's answer is never cached
    (Gatekey's own API does not cache), so it allows this request alone.
    """
    arn = event.parsed_arn
    this_request = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [arn.arn]}
    if settings.authorizer_cache_ttl_seconds == 0 or not cacheable:
        return {"Version": "2012-10-17", "Statement": [this_request]}
    stage_arn = f"arn:{arn.partition}:execute-api:{arn.region}:{arn.aws_account_id}:{arn.api_id}/{arn.stage}"
    granted = _cacheable_policy(permissions, stage_arn)
    if "*" in arn.resource or "?" in arn.resource:
        return granted
    return {**granted, "Statement": [this_request, *granted["Statement"]]}


def authorizer_context(caller: Authenticated) -> dict[str, str]:
    """What backends learn about the caller (API Gateway passes strings only)."""
    key = caller.key
    context = {
        "keyId": key.key_id,
        "orgId": key.org_id,
        "userId": key.user_id or "",
        "keyType": key.type,
        "authMode": key.auth_mode,
        "permissions": json.dumps(render_permissions(key.permissions), separators=(",", ":")),
        "connectionId": caller.connection_id or "",
        # Always present (empty for Bearer), so an HTTP integration's header mapping of it always resolves.
        "contentSha256": caller.content_sha256 or "",
    }
    return context


def presented_request(event: APIGatewayAuthorizerRequestEvent) -> PresentedRequest:
    # Every value of a repeated query parameter is signed; the single-value map keeps only the last.
    multi_query = event.get("multiValueQueryStringParameters") or {
        name: [value] for name, value in (event.query_string_parameters or {}).items()
    }
    return PresentedRequest(
        method=event.http_method,
        path=event.path,
        query=decoded_query(multi_query),
        headers=event.headers,
        source_ip=event.request_context.identity.source_ip or "",
        header_values=event.get("multiValueHeaders"),
    )


def authorize(event: APIGatewayAuthorizerRequestEvent) -> dict[str, Any]:
    """Allow the request if the route rule lets the key make it (DESIGN §5); 401 and 403 otherwise."""
    try:
        caller = authenticator.authenticate(presented_request(event))
    except AccessDenied as denial:
        logger.info("request denied", extra={"reason": denial.reason, "key_id": denial.key.key_id})
        metrics.add_metric(name=f"Denied_{denial.reason}", unit=MetricUnit.Count, value=1)
        # The context still names key and org, so the access log attributes this 403 to its org.
        response = _response(event, denial.key.key_id, authorizer_context(Authenticated(denial.key)))
        response.deny_all_routes()
        return response.asdict()
    key = caller.key
    context = authorizer_context(caller)
    arn = event.parsed_arn
    if not access.allows(key.permissions, arn.http_method or "", "/" + arn.resource, console_session=key.is_session):
        logger.info("request denied", extra={"reason": "route_not_granted", "key_id": key.key_id})
        metrics.add_metric(name="Denied_route_not_granted", unit=MetricUnit.Count, value=1)
        response = _response(event, key.key_id, context)
        response.deny_all_routes()
        return response.asdict()
    logger.info("request authenticated", extra={"key_id": key.key_id, "org_id": key.org_id})
    metrics.add_metric(name="Authenticated", unit=MetricUnit.Count, value=1)
    policy = allowing_policy(event, context["permissions"], cacheable=not key.is_session)
    answer = {"principalId": key.key_id, "policyDocument": policy, "context": context}
    if configuration.plans.enabled:
        # The API Gateway key whose usage plan limits this request (DESIGN §13): derived, so no read and no KMS
        # call beyond the pepper the secret's check fetched already.
        answer["usageIdentifierKey"] = usage_key_value(pepper.key(), key.usage_subject)
    return answer


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    try:
        return authorize(request)
    except Unauthenticated as denial:
        logger.info("request not authenticated", extra={"reason": denial.reason})
        metrics.add_metric(name=f"Unauthenticated_{denial.reason}", unit=MetricUnit.Count, value=1)
        raise Exception("Unauthorized") from None  # API Gateway answers 401 to exactly this message
    except Exception:
        # Fail closed: whatever broke (storage, a bug), this request is denied.
        logger.exception("authorizer failed; denying")
        metrics.add_metric(name="AuthorizerError", unit=MetricUnit.Count, value=1)
        response = _response(request, "unknown")
        response.deny_all_routes()
        return response.asdict()


initialized()
