"""Gatekey's own REST API, laid out by GATEKEY_ROUTES: every route a Lambda proxy integration of the management API.

Which routes are public and how the others are authorized is added by `ApiProtection`, as for a provider's API.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from gatekey.api_gateway import GATEKEY_ROUTES
from gatekey.cdk.log_groups import execution_log_group
from gatekey.domain.permissions import RoutePattern
from gatekey.settings import StageSettings

# What GATEKEY_ROUTES serves without credentials: the health check and the API's own documentation.
GATEKEY_PUBLIC_ROUTES: tuple[RoutePattern, ...] = tuple(
    RoutePattern(route.method, route.path) for route in GATEKEY_ROUTES if not route.authorized
)
GATEKEY_ROUTES_SOURCE = "Gatekey's own routes (DESIGN §7)"


class ManagementApi(Construct):
    """The management API's RestApi (`rest_api`), its stage named after the Gatekey stage."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StageSettings, handler: lambda_.IFunction
    ) -> None:
        super().__init__(scope, construct_id)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"gatekey-{settings.stage}",
            description=f"Gatekey {settings.stage}: management API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Stage logging needs the account-wide API Gateway CloudWatch role; kept on delete because
            # other stacks in the same account (the other stage, the provider's APIs) rely on the same setting.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=settings.stage,
                tracing_enabled=True,
                metrics_enabled=True,
                # ERROR-level execution logs only: INFO would write request details, headers included.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
            ),
        )
        execution_log_group(self, "ExecutionLogs", rest_api=self.rest_api, settings=settings)
        integration = apigateway.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        for route in GATEKEY_ROUTES:
            self.rest_api.root.resource_for_path(route.path).add_method(route.method, integration)
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
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="The account-level role API Gateway logs with; AWS documents this managed policy for it",
            ),
        )

    @property
    def logging_account_setting(self) -> apigateway.CfnAccount:
        """The account's API Gateway CloudWatch role setting, which any stage that logs must wait for."""
        return cast(apigateway.CfnAccount, self.rest_api.node.find_child("Account"))
