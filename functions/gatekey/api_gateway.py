"""How the REST API is laid out in front of the functions; the CDK stack and the local gateway both read it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from gatekey.settings import API_VERSION


@dataclass(frozen=True)
class LambdaFunction:
    """One Lambda function: its logical name and the handler API Gateway (or the local gateway) invokes."""

    name: str
    handler: str  # "module.path.attribute", as Lambda's `handler` setting
    description: str


AUTHORIZER = LambdaFunction("authorizer", "gatekey.handlers.authorizer.lambda_handler", "Gatekey REQUEST authorizer")
MANAGEMENT_API = LambdaFunction("api", "gatekey.handlers.api.lambda_handler", "Gatekey management API (/v1)")
STORE_DEMO = LambdaFunction("store_demo", "gatekey.handlers.store_demo.lambda_handler", "Demo store API")
LOG_INGEST = LambdaFunction(
    "log_ingest", "gatekey.handlers.log_ingest.lambda_handler", "Gatekey access-log ingest (CloudWatch Logs)"
)
SCHEDULER = LambdaFunction(
    "scheduler", "gatekey.handlers.scheduler.lambda_handler", "Gatekey scheduler: rotations, expiry notices, expiry"
)
WEBHOOK_DELIVERY = LambdaFunction(
    "webhooks", "gatekey.handlers.webhooks.lambda_handler", "Gatekey webhook delivery (EventBridge)"
)
# What Gatekey deploys (the CDK construct) in front of any provider's API.
GATEKEY_FUNCTIONS: tuple[LambdaFunction, ...] = (
    AUTHORIZER,
    MANAGEMENT_API,
    LOG_INGEST,
    SCHEDULER,
    WEBHOOK_DELIVERY,
)
# Gatekey's functions and the demo store: what Gatekey's own stack and `gatekey serve` run.
FUNCTIONS: tuple[LambdaFunction, ...] = (*GATEKEY_FUNCTIONS, STORE_DEMO)


@dataclass(frozen=True)
class GatewayRoute:
    """An API Gateway resource + method; `{proxy+}` is API Gateway's greedy path variable."""

    path: str
    method: str  # an HTTP method, or "ANY"
    function: LambdaFunction
    authorized: bool


# Gatekey's own API. API Gateway matches the most specific resource first: the literal paths win over `{proxy+}`.
# Every GET route also answers HEAD (DESIGN §7); an API Gateway GET method does not, so HEAD is a method of its own.
GATEKEY_ROUTES: tuple[GatewayRoute, ...] = (
    GatewayRoute("/health", "GET", MANAGEMENT_API, authorized=False),
    GatewayRoute("/health", "HEAD", MANAGEMENT_API, authorized=False),
    GatewayRoute("/v1/openapi.json", "GET", MANAGEMENT_API, authorized=False),
    GatewayRoute("/v1/openapi.json", "HEAD", MANAGEMENT_API, authorized=False),
    # The console's way in (DESIGN §12): signing in and setting a password from an invitation need no key. ANY, so
    # the API answers another method 405 with Allow, as on every other route.
    GatewayRoute("/v1/sessions", "ANY", MANAGEMENT_API, authorized=False),
    GatewayRoute("/v1/invitations/accept", "ANY", MANAGEMENT_API, authorized=False),
    GatewayRoute("/v1/{proxy+}", "ANY", MANAGEMENT_API, authorized=True),
    # The console's pages: static files, public; what they show comes from the API, with the session.
    GatewayRoute("/dashboard", "GET", MANAGEMENT_API, authorized=False),
    GatewayRoute("/dashboard", "HEAD", MANAGEMENT_API, authorized=False),
    GatewayRoute("/dashboard/{proxy+}", "GET", MANAGEMENT_API, authorized=False),
    GatewayRoute("/dashboard/{proxy+}", "HEAD", MANAGEMENT_API, authorized=False),
)
# The API Gatekey protects, when it is the demo store: every other path.
STORE_DEMO_ROUTE = GatewayRoute("/{proxy+}", "ANY", STORE_DEMO, authorized=True)
# What the local gateway serves on one port: Gatekey's API and, outside it, the protected one.
ROUTES: tuple[GatewayRoute, ...] = (*GATEKEY_ROUTES, STORE_DEMO_ROUTE)

# DESIGN §11: what an HTTP backend learns of the caller, header name -> the authorizer context key it comes
# from. The integration (CDK) or the local gateway sets them; whatever a client sent under these names is
# dropped first, and an empty value is sent empty.
CALLER_HEADERS: dict[str, str] = {
    "Gatekey-Key-Id": "keyId",
    "Gatekey-Org-Id": "orgId",
    "Gatekey-User-Id": "userId",
    "Gatekey-Key-Type": "keyType",
    "Gatekey-Auth-Mode": "authMode",
    "Gatekey-Permissions": "permissions",
    "Gatekey-Connection-Id": "connectionId",
    "Gatekey-Content-SHA256": "contentSha256",
}

# Headers API Gateway's REQUEST authorizer cache is keyed on when its TTL is above 0.
AUTHORIZER_CACHE_IDENTITY_SOURCES = ("method.request.header.Authorization", "context.identity.sourceIp")


@dataclass(frozen=True)
class GatewayResponse:
    """A response API Gateway itself sends (the authorizer said no, the integration failed, ...), configured as
    a gateway response: JSON `{"message": ...}` with `Gatekey-Version`, as every Gatekey answer carries it."""

    response_type: str
    status_code: int | None = None  # None: the status API Gateway chose (the DEFAULT_* types)
    message: str | None = None  # None: API Gateway's own message for the error
    # Fixed headers beyond these two (a gateway response's headers cannot depend on the request).
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def body(self) -> str:
        """The response template: a fixed message, or API Gateway's (`$context.error.messageString` is quoted)."""
        if self.message is None:
            return '{"message": $context.error.messageString}'
        return json.dumps({"message": self.message})

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Gatekey-Version": API_VERSION, **dict(self.extra_headers)}

    def answer(self, message: str | None = None) -> bytes:
        """The body as API Gateway sends it, `message` filling in for API Gateway's own."""
        return json.dumps({"message": self.message or message or ""}).encode()


UNAUTHORIZED = GatewayResponse("UNAUTHORIZED", 401, "Unauthorized")
ACCESS_DENIED = GatewayResponse("ACCESS_DENIED", 403, "Forbidden")
# The authorizer itself failed (crashed, timed out): still a denial, reported as unavailable.
AUTHORIZER_FAILURE = GatewayResponse("AUTHORIZER_FAILURE", 503, "Service Unavailable")
MISSING_ROUTE = GatewayResponse("MISSING_AUTHENTICATION_TOKEN", 404, "Not Found")
REQUEST_TOO_LARGE = GatewayResponse("REQUEST_TOO_LARGE", 413, "Request Too Long")
# Over the stage's or the plan's rate (DESIGN §13): a bucket refills within a second at any plan's usual rate.
THROTTLED = GatewayResponse("THROTTLED", 429, "Too Many Requests", (("Retry-After", "1"),))
# Over the plan's quota for the period (DESIGN §13).
QUOTA_EXCEEDED = GatewayResponse("QUOTA_EXCEEDED", 429, "Limit Exceeded")
# Everything else API Gateway answers itself (an integration that failed is a 502, say) keeps its status and
# message, in the same JSON and with Gatekey-Version.
DEFAULT_4XX = GatewayResponse("DEFAULT_4XX")
DEFAULT_5XX = GatewayResponse("DEFAULT_5XX")
GATEWAY_RESPONSES: tuple[GatewayResponse, ...] = (
    UNAUTHORIZED,
    ACCESS_DENIED,
    AUTHORIZER_FAILURE,
    MISSING_ROUTE,
    REQUEST_TOO_LARGE,
    THROTTLED,
    QUOTA_EXCEEDED,
    DEFAULT_4XX,
    DEFAULT_5XX,
)
