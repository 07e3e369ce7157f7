"""Lambda proxy events of the management API, as the gateway hands them over behind the authorizer."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from gatekey.bootstrap import FoundedOrg


def management_api_event(
    method: str,
    path: str,
    tenant: FoundedOrg,
    *,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The event for `method path` made with the tenant's admin key, with the context its authorizer gives."""
    from gatekey.api import services
    from gatekey.api_gateway import MANAGEMENT_API, GatewayRoute
    from gatekey.domain.authentication import Authenticated
    from gatekey.handlers.authorizer import authorizer_context
    from gatekey.local.events import ApiStage, AuthorizerOutput, GatewayRequest, HttpRequest, proxy_event

    key = services.keys_repository().get(tenant.admin_key_id)
    assert key is not None
    headers = (("Content-Type", "application/json"), ("User-Agent", "bench"))
    http = HttpRequest(
        method, path, urlencode(query or {}), headers, json.dumps(body).encode() if body else b"", "198.51.100.4"
    )
    route = GatewayRoute("/v1/{proxy+}", "ANY", MANAGEMENT_API, authorized=True)
    request = GatewayRequest(
        http, route, {"proxy": path.removeprefix("/v1/")}, ApiStage(), str(uuid.uuid4()), datetime.now(UTC)
    )
    return proxy_event(request, AuthorizerOutput(key.key_id, authorizer_context(Authenticated(key)), 0))
