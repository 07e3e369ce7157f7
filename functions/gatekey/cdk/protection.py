"""The REST API laid out by ROUTES: Lambda proxy integrations, the REQUEST authorizer, gateway responses, logs.

Every request's access-log line goes to the access-log group, whose subscription filter hands it to the
log-ingest function, which stores it as a request-log entry (DESIGN §2).
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as logs_destinations
from constructs import Construct

from gatekey.access_log import access_log_format_string
from gatekey.api_gateway import (
    AUTHORIZER,
    AUTHORIZER_CACHE_IDENTITY_SOURCES,
    GATEWAY_RESPONSES,
    LOG_INGEST,
    ROUTES,
    GatewayRoute,
)
from gatekey.settings import StageSettings
from infra.constructs.functions import Functions
from infra.constructs.log_groups import stage_log_group


class Api(Construct):
    """API Gateway in front of the functions; every route that ROUTES marks `authorized` goes through the authorizer."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings, functions: Functions) -> None:
        super().__init__(scope, construct_id)
        access_logs = stage_log_group(self, "AccessLogs", settings=settings)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"gatekey-{settings.stage}",
            description=f"Gatekey {settings.stage}: management API, demo store API, Lambda authorizer",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Stage logging needs the account-wide API Gateway CloudWatch role; kept on delete because
            # other stacks in the same account (the other stage) rely on the same account setting.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=settings.stage,
                tracing_enabled=True,
                metrics_enabled=True,
                # ERROR-level execution logs only: INFO would write request details, headers included.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(access_log_format_string()),
            ),
        )
        self._create_execution_log_group(settings)
        self._forward_access_logs(access_logs, functions.function(LOG_INGEST))
        self.authorizer = self._authorizer(settings, functions.function(AUTHORIZER))
        integrations = {
            name: apigateway.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
            for name, function in functions.functions.items()
        }
        for route in ROUTES:
            self._add_route(route, integrations[route.function.name])
        for response in GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                response.response_type.title().replace("_", ""),
                type=apigateway.ResponseType.of(response.response_type),
                status_code=str(response.status_code),
                templates={"application/json": response.body},
                response_headers={name: f"'{value}'" for name, value in response.headers.items()},
            )
        self._acknowledge_findings()

    def _create_execution_log_group(self, settings: StageSettings) -> None:
        """API Gateway would create this group itself, with no retention; creating it first sets ours."""
        stage = self.rest_api.deployment_stage
        execution_logs = stage_log_group(
            self,
            "ExecutionLogs",
            settings=settings,
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{settings.stage}",
        )
        stage.node.add_dependency(execution_logs)

    @staticmethod
    def _forward_access_logs(access_logs: logs.LogGroup, log_ingest: lambda_.IFunction) -> None:
        """Hands every access-log line to the log-ingest function, which CloudWatch Logs may then invoke."""
        access_logs.add_subscription_filter(
            "LogIngest",
            destination=logs_destinations.LambdaDestination(log_ingest),
            filter_pattern=logs.FilterPattern.all_events(),
        )

    def _authorizer(self, settings: StageSettings, handler: lambda_.IFunction) -> apigateway.RequestAuthorizer:
        ttl = settings.authorizer_cache_ttl_seconds
        # Without caching, API Gateway must call the authorizer for every request, whatever it carries:
        # an identity source would make it answer 401 itself when that header is absent (HMAC requests
        # carry no Authorization header). With caching, the identity sources are the cache key.
        authorizer = apigateway.RequestAuthorizer(
            self,
            "Authorizer",
            authorizer_name=f"gatekey-{settings.stage}",
            handler=handler,
            identity_sources=list(AUTHORIZER_CACHE_IDENTITY_SOURCES) if ttl > 0 else [],
            results_cache_ttl=Duration.seconds(ttl),
        )
        if ttl == 0:
            # The CDK writes an empty list as IdentitySource "", which API Gateway does not document;
            # the property is optional when caching is off, so leave it out.
            cast(apigateway.CfnAuthorizer, authorizer.node.default_child).add_property_deletion_override(
                "IdentitySource"
            )
        return authorizer

    def _add_route(self, route: GatewayRoute, integration: apigateway.LambdaIntegration) -> None:
        resource = self.rest_api.root.resource_for_path(route.path)
        if route.authorized:
            resource.add_method(
                route.method,
                integration,
                authorization_type=apigateway.AuthorizationType.CUSTOM,
                authorizer=self.authorizer,
            )
            return
        method = resource.add_method(route.method, integration, authorization_type=apigateway.AuthorizationType.NONE)
        Validations.of(method).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason=f"{route.method} {route.path} is public by design (DESIGN §7): health check and API docs",
            )
        )

    def _acknowledge_findings(self) -> None:
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="Requests are validated in the functions (Powertools resolver + pydantic models), which "
                "answer with the API's own error format instead of API Gateway's",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="No WAF web ACL in this stack: authentication is the Lambda authorizer; a deployment "
                "that wants WAF associates its own web ACL with the stage",
            ),
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="Callers authenticate with Gatekey API keys through the REQUEST Lambda authorizer, "
                "not with Cognito user pools",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="The account-level role API Gateway logs with; AWS documents this managed policy for it",
            ),
        )
