"""Gatekey in front of a REST API (DESIGN §11): the REQUEST authorizer on every method but the public routes, the
caller headers for HTTP backends, the access log that feeds log ingest, Gatekey's gateway responses, the stage's
throttling (unless the provider set its own), an alarm on the stage's 5xx answers and, when the configuration has
plans, their usage plans on the stage (DESIGN §13).

The API's methods exist before protection is added (a provider calls `Gatekey.protect(api)` last), so the
authorization is set on their CloudFormation resources (`CfnMethod`) rather than through `add_method`.
Gatekey's own management API is protected by the same construct.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import cast

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as logs_destinations
from constructs import Construct, IDependable

from gatekey.access_log import access_log_format_string
from gatekey.api_gateway import AUTHORIZER_CACHE_IDENTITY_SOURCES, CALLER_HEADERS, GATEWAY_RESPONSES
from gatekey.cdk.alarms import server_errors_alarm
from gatekey.cdk.log_groups import stage_log_group
from gatekey.cdk.usage_plans import UsagePlans
from gatekey.configuration import ConfigurationError
from gatekey.domain.permissions import RoutePattern
from gatekey.domain.plans import PROTECTED_APIS, UsagePlanScope
from gatekey.settings import StageSettings

# Integrations that forward to an HTTP server: they learn the caller only from the headers protection maps.
# Lambda proxy integrations read `requestContext.authorizer` instead and need nothing.
HTTP_INTEGRATION_TYPES = frozenset({"HTTP", "HTTP_PROXY"})
# A stage's method settings for all of its methods (`/*/*`); settings for one method override these for that method.
EVERY_METHOD = ("*", "/*")
AUTHORIZER_KEY_SOURCE = apigateway.ApiKeySourceType.AUTHORIZER.value


class ProtectionError(ValueError):
    """The REST API cannot be protected as it is (no deployment stage, no methods, its own access log, API keys from
    another source than the authorizer while there are plans, or it is protected already)."""


class ApiProtection(Construct):
    """Gatekey in front of `rest_api`. Attributes: `authorizer` (the API's REQUEST authorizer), `access_logs`
    (the stage's access-log group, subscribed to log ingest), `protected_methods` and `public_methods`,
    `server_errors_alarm` (the stage's 5xx, without actions: `add_alarm_action` notifies), `throttled_by_gatekey`
    (False when the stage kept the provider's own throttling) and `api_keys_required` (True with `usage_plans`: the
    protected methods then count each request against the API Gateway key the authorizer names, under its plan)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigateway.RestApi,
        authorizer_function: lambda_.IFunction,
        log_ingest_function: lambda_.IFunction,
        settings: StageSettings,
        public_routes: Sequence[RoutePattern],
        routes_source: str,
        authorizer_cache_ttl_seconds: int,
        logging_account_setting: IDependable | None = None,
        usage_plans: UsagePlans | None = None,
        usage_plan_scope: UsagePlanScope = PROTECTED_APIS,
    ) -> None:
        super().__init__(scope, construct_id)
        deployment = rest_api.latest_deployment
        if deployment is None:
            raise ProtectionError(f"{rest_api.node.path} is not deployed (deploy=False): Gatekey protects its stage")
        stage = rest_api.deployment_stage
        if logging_account_setting is not None:
            # The stage may log only once the account lets API Gateway write to CloudWatch Logs.
            stage.node.add_dependency(logging_account_setting)
        methods = list(rest_api.methods)
        if not methods:
            raise ProtectionError(f"{rest_api.node.path} has no methods yet: call protect() after adding them")
        self.public_methods = _public_methods(rest_api, methods, public_routes, routes_source)
        self.protected_methods = [method for method in methods if method not in self.public_methods]
        self.authorizer = self._authorizer(rest_api, settings, authorizer_function, authorizer_cache_ttl_seconds)
        for method in self.protected_methods:
            self._authorize(method)
        self.api_keys_required = usage_plans is not None
        if usage_plans is not None:
            _limit_by_plans(rest_api, self.protected_methods, usage_plans, usage_plan_scope)
        for method in self.public_methods:
            Validations.of(method).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG4",
                    reason=f"{method.http_method} {method.resource.path} is public in {routes_source}",
                ),
                Acknowledgment(id="AwsSolutions-COG4", reason=f"Public in {routes_source}: no caller to authenticate"),
            )
        http_methods = [method for method in methods if _integration_type(method) in HTTP_INTEGRATION_TYPES]
        for method in http_methods:
            _map_caller_headers(method)
        self.access_logs = self._access_logs(stage, settings, log_ingest_function)
        self.throttled_by_gatekey = _throttle(stage, settings)
        self.server_errors_alarm: cloudwatch.Alarm = server_errors_alarm(
            self,
            "ServerErrorsAlarm",
            stage=stage,
            description=f"Gatekey {settings.stage}: the {rest_api.rest_api_name} API's stage answered 5xx (its backend "
            "or Gatekey's authorizer failed); see the stage's execution and access logs",
        )
        for response in GATEWAY_RESPONSES:
            apigateway.GatewayResponse(
                self,
                response.response_type.title().replace("_", ""),
                rest_api=rest_api,
                type=apigateway.ResponseType.of(response.response_type),
                # None: the DEFAULT_* responses keep the status API Gateway chose.
                status_code=None if response.status_code is None else str(response.status_code),
                templates={"application/json": response.body},
                response_headers={name: f"'{value}'" for name, value in response.headers.items()},
            )
        # The deployment's logical id covers the methods as they were added; without this, changing what is
        # protected would leave the stage serving the old deployment.
        deployment.add_to_logical_id(
            {
                "gatekey": {
                    "authorizer": self.authorizer.authorizer_uri,
                    "cacheTtl": authorizer_cache_ttl_seconds,
                    "protected": sorted(f"{m.http_method} {m.resource.path}" for m in self.protected_methods),
                    "callerHeaders": sorted(f"{m.http_method} {m.resource.path}" for m in http_methods),
                    "headers": CALLER_HEADERS,
                }
            }
        )
        if self.api_keys_required:
            # Apart, so that an API without plans keeps the deployment it had: adding or removing plans redeploys.
            deployment.add_to_logical_id(
                {"gatekeyPlans": {"apiKeySource": AUTHORIZER_KEY_SOURCE, "apiKeyRequired": True}}
            )

    def _authorizer(
        self, rest_api: apigateway.RestApi, settings: StageSettings, handler: lambda_.IFunction, ttl: int
    ) -> apigateway.CfnAuthorizer:
        stack = Stack.of(self)
        # Without caching, API Gateway must call the authorizer for every request, whatever it carries: an
        # identity source would make it answer 401 itself when that header is absent (HMAC requests carry no
        # Authorization header), so IdentitySource is left out. With caching, the identity sources are the cache key.
        authorizer = apigateway.CfnAuthorizer(
            self,
            "Authorizer",
            rest_api_id=rest_api.rest_api_id,
            name=f"gatekey-{settings.stage}",
            type="REQUEST",
            authorizer_uri=(
                f"arn:{stack.partition}:apigateway:{stack.region}:lambda:path/2015-03-31/functions/"
                f"{handler.function_arn}/invocations"
            ),
            authorizer_result_ttl_in_seconds=ttl,
            identity_source=",".join(AUTHORIZER_CACHE_IDENTITY_SOURCES) if ttl > 0 else None,
        )
        # API Gateway may invoke the authorizer function for this authorizer of this API, and nothing else.
        handler.add_permission(
            "AuthorizerInvoke",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=stack.format_arn(
                service="execute-api", resource=rest_api.rest_api_id, resource_name=f"authorizers/{authorizer.ref}"
            ),
            scope=self,
        )
        return authorizer

    def _authorize(self, method: apigateway.Method) -> None:
        resource = cast(apigateway.CfnMethod, method.node.default_child)
        resource.authorization_type = apigateway.AuthorizationType.CUSTOM.value
        resource.authorizer_id = self.authorizer.ref
        Validations.of(method).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="Callers authenticate with Gatekey API keys through Gatekey's REQUEST Lambda authorizer, "
                "not with Cognito user pools",
            )
        )

    def _access_logs(
        self, stage: apigateway.Stage, settings: StageSettings, log_ingest: lambda_.IFunction
    ) -> logs.LogGroup:
        """Every request's access-log line, in Gatekey's format, into a group whose subscription filter hands it
        to the log-ingest function (which CloudWatch Logs may then invoke)."""
        stage_resource = cast(apigateway.CfnStage, stage.node.default_child)
        if stage_resource.access_log_setting is not None:
            raise ProtectionError(
                f"{stage.node.path} already has an access log: Gatekey's log ingest reads the stage's access log "
                "in its own format, so leave access_log_destination and access_log_format out of deploy_options"
            )
        access_logs = stage_log_group(self, "AccessLogs", settings=settings)
        access_logs.add_subscription_filter(
            "LogIngest",
            destination=logs_destinations.LambdaDestination(log_ingest),
            filter_pattern=logs.FilterPattern.all_events(),
        )
        stage_resource.access_log_setting = apigateway.CfnStage.AccessLogSettingProperty(
            destination_arn=access_logs.log_group_arn, format=access_log_format_string()
        )
        return access_logs


def _throttle(stage: apigateway.Stage, settings: StageSettings) -> bool:
    """Bounds what a flood of requests can cost and take from the account's shared limit: every method of the stage
    gets the Gatekey stage's rate and burst, unless the provider throttles all methods itself (a throttling limit on
    the stage's `/*/*` method settings, e.g. `StageOptions(throttling_rate_limit=...)`): then theirs stays. The
    provider's settings for single methods stay either way, and API Gateway applies them over `/*/*` for those
    methods. Returns whether Gatekey's throttling was set."""
    stage_resource = cast(apigateway.CfnStage, stage.node.default_child)
    written = stage_resource.method_settings or []
    if not isinstance(written, list) or not all(
        isinstance(setting, apigateway.CfnStage.MethodSettingProperty) for setting in written
    ):
        return False  # tokens, resolved at deployment: Gatekey cannot tell what they set, so they stay the provider's
    method_settings = cast(list[apigateway.CfnStage.MethodSettingProperty], written)
    for index, setting in enumerate(method_settings):
        if (setting.http_method, setting.resource_path) != EVERY_METHOD:
            continue
        if setting.throttling_rate_limit is not None or setting.throttling_burst_limit is not None:
            return False
        # An override keeps whatever else the entry says (logging, metrics, caching) as the provider wrote it.
        stage_resource.add_property_override(
            f"MethodSettings.{index}.ThrottlingRateLimit", settings.throttle_rate_per_second
        )
        stage_resource.add_property_override(f"MethodSettings.{index}.ThrottlingBurstLimit", settings.throttle_burst)
        return True
    http_method, resource_path = EVERY_METHOD
    stage_resource.method_settings = [
        *method_settings,
        apigateway.CfnStage.MethodSettingProperty(
            http_method=http_method,
            resource_path=resource_path,
            throttling_rate_limit=settings.throttle_rate_per_second,
            throttling_burst_limit=settings.throttle_burst,
        ),
    ]
    return True


def _limit_by_plans(
    rest_api: apigateway.RestApi,
    protected_methods: Sequence[apigateway.Method],
    usage_plans: UsagePlans,
    scope: UsagePlanScope,
) -> None:
    """DESIGN §13: API Gateway enforces the plans. It takes each request's API key from the authorizer's answer
    (`usageIdentifierKey`: the org's key, or a key's own), counts the request against it under the usage plan the
    key is in, and answers 429 over the plan's rate or quota. Public methods have no caller to count."""
    api_resource = cast(apigateway.CfnRestApi, rest_api.node.default_child)
    if api_resource.api_key_source_type not in (None, AUTHORIZER_KEY_SOURCE):
        raise ProtectionError(
            f"{rest_api.node.path} takes API keys from {api_resource.api_key_source_type}: Gatekey's plans need them "
            "from its authorizer, so leave api_key_source_type out of the RestApi's options"
        )
    api_resource.api_key_source_type = AUTHORIZER_KEY_SOURCE
    for method in protected_methods:
        cast(apigateway.CfnMethod, method.node.default_child).api_key_required = True
    usage_plans.cover(rest_api, scope)


def _integration_type(method: apigateway.Method) -> str | None:
    integration = cast(apigateway.CfnMethod, method.node.default_child).integration
    return integration.type if isinstance(integration, apigateway.CfnMethod.IntegrationProperty) else None


def _map_caller_headers(method: apigateway.Method) -> None:
    """The caller headers come from the authorizer's context (DESIGN §11): a mapping replaces whatever a client sent
    under those names. The authorizer puts every key in its context, empty where it does not apply."""
    resource = cast(apigateway.CfnMethod, method.node.default_child)
    for header, context_key in CALLER_HEADERS.items():
        # Dots in the parameter name are escaped: the override path itself is split on unescaped dots.
        resource.add_property_override(
            f"Integration.RequestParameters.integration\\.request\\.header\\.{header}",
            f"context.authorizer.{context_key}",
        )


def _shape(segments: Iterable[str]) -> tuple[str, ...]:
    """A path with its parameters' names left out: /invoices/{id} and /invoices/{invoice_id} are one route."""
    return tuple(
        ("{+}" if segment.endswith("+}") else "{}") if segment.startswith("{") else segment for segment in segments
    )


def _public_methods(
    rest_api: apigateway.RestApi,
    methods: Sequence[apigateway.Method],
    public_routes: Sequence[RoutePattern],
    routes_source: str,
) -> list[apigateway.Method]:
    """The methods the public routes name; a public route the API cannot serve as written is an error."""
    by_shape: dict[tuple[str, ...], list[apigateway.Method]] = defaultdict(list)
    for method in methods:
        by_shape[_shape(segment for segment in method.resource.path.split("/") if segment)].append(method)
    public: list[apigateway.Method] = []
    problems: list[str] = []
    for route in public_routes:
        entry = f"{routes_source}: public route {route.method} {route.path}"
        candidates = by_shape.get(_shape(route.segments), [])
        if not candidates:
            problems.append(f"{entry}: {rest_api.node.path} has no resource {route.path}")
            continue
        if route.method == "ANY":
            public.extend(candidates)
            continue
        covered = [method for method in candidates if method.http_method in route.methods]
        if covered:
            public.extend(covered)
        elif any(method.http_method == "ANY" for method in candidates):
            problems.append(
                f"{entry}: only an ANY method serves {route.path} in {rest_api.node.path}, which would make every "
                f"method public or none: add a {route.method} method for the public route"
            )
        else:
            problems.append(f"{entry}: {rest_api.node.path} has no {route.method} method on {route.path}")
    if problems:
        raise ConfigurationError(problems)
    return list(dict.fromkeys(public))
