"""Invoices' API on AWS: its backend function behind API Gateway, with Gatekey in front (DESIGN §11)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from gatekey.cdk import Gatekey

# The file that says what Invoices' customers' keys may be granted, and which route is public.
GATEKEY_CONFIG = "gatekey.toml"


class InvoicesStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"Invoices API ({stage}), protected by Gatekey", **kwargs)
        backend = self._backend(stage)
        api = apigateway.RestApi(
            self,
            "InvoicesApi",
            rest_api_name=f"invoices-{stage}",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The account's API Gateway logging role is set by Gatekey's management API.
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=stage,
                tracing_enabled=True,
                metrics_enabled=True,
                # Errors only: INFO execution logs would write request headers, API keys included.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
            ),
        )
        # API Gateway would create the execution-log group itself and keep it forever.
        logs.LogGroup(
            self,
            "InvoicesApiExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{api.rest_api_id}/{stage}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self._add_routes(api, apigateway.LambdaIntegration(backend, allow_test_invoke=False))

        self.gatekey = Gatekey(self, "Gatekey", stage=stage, config=GATEKEY_CONFIG)
        # Last, once every method exists: Gatekey's authorizer goes on all of them but GET /status.
        self.gatekey.protect(api)

        Validations.of(api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="The backend validates each request's body itself and answers 400 in its own error format",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="No WAF web ACL yet: every route but GET /status needs a Gatekey API key, checked by "
                "Gatekey's authorizer; associate a web ACL with the stage when one is wanted",
            ),
        )
        CfnOutput(self, "InvoicesApiUrl", value=api.url, description="Base URL of the Invoices API")

    def _backend(self, stage: str) -> lambda_.Function:
        """The backend (backend/handler.py, standard library only, so its code needs no bundling)."""
        log_group = logs.LogGroup(
            self, "BackendLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        # Its own role instead of AWSLambdaBasicExecutionRole: it writes to its log group and nothing else.
        role = iam.Role(
            self,
            "BackendRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Invoices {stage}: the API's backend",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            "Backend",
            description="Invoices API backend",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset("backend"),
            memory_size=256,
            timeout=Duration.seconds(10),
            role=role,
            log_group=log_group,
        )

    @staticmethod
    def _add_routes(api: apigateway.RestApi, backend: apigateway.Integration) -> None:
        """The routes backend/handler.py serves."""
        invoices = api.root.add_resource("invoices")
        invoices.add_method("GET", backend)
        invoices.add_method("POST", backend)
        invoice = invoices.add_resource("{id}")
        invoice.add_method("GET", backend)
        invoice.add_method("DELETE", backend)
        invoice.add_resource("send").add_method("POST", backend)
        customers = api.root.add_resource("customers")
        customers.add_method("GET", backend)
        customers.add_resource("{id}").add_method("GET", backend)
        api.root.add_resource("status").add_method("GET", backend)
