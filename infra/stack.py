"""Gatekey's own stack of one stage: the `Gatekey` construct, and the demo store's API behind it (DESIGN §7b)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Stack, Tags, Validations
from aws_cdk import aws_apigateway as apigateway
from constructs import Construct

from gatekey.api_gateway import STORE_DEMO, STORE_DEMO_ROUTE
from gatekey.cdk import FunctionSize, Gatekey, GatekeyFunction
from gatekey.cdk.log_groups import execution_log_group
from gatekey.settings import StageSettings

# The demo store answers from memory: a small function is plenty.
STORE_DEMO_SIZE = FunctionSize(memory_mib=256, timeout_seconds=10)


class GatekeyStack(Stack):
    """Gatekey for the stage, protecting the demo store's API. `config` is Gatekey's configuration file (None: the
    demo store's; one with plans, say, whose catalog and public routes must suit the demo store)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        config: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, description=f"Gatekey API keys ({settings.stage})", **kwargs)
        self.gatekey = Gatekey(
            self,
            "Gatekey",
            stage=settings.stage,
            config=config,
            authorizer_cache_ttl_seconds=settings.authorizer_cache_ttl_seconds,
        )
        self.settings = self.gatekey.settings
        self.store_demo = GatekeyFunction(
            self,
            "StoreDemo",
            definition=STORE_DEMO,
            code=self.gatekey.code,
            runtime=self.gatekey.runtime,
            environment=self.gatekey.function_environment,
            settings=self.settings,
            size=STORE_DEMO_SIZE,
        ).function
        self.store_api = self._store_api()
        self.store_api_protection = self.gatekey.protect(self.store_api)
        Tags.of(self).add("project", "gatekey")
        Tags.of(self).add("stage", settings.stage)
        CfnOutput(self, "ApiUrl", value=self.gatekey.management_api.url, description="Base URL of the Gatekey API")
        CfnOutput(self, "StoreApiUrl", value=self.store_api.url, description="Base URL of the demo store API")
        CfnOutput(self, "EventBusName", value=self.gatekey.event_bus.event_bus_name, description="Bus of domain events")
        CfnOutput(
            self,
            "WebhookDeadLetterQueueUrl",
            value=self.gatekey.webhook_dead_letter_queue.queue_url,
            description="Events that could not be delivered to webhooks, after every retry",
        )
        CfnOutput(
            self,
            "SchedulerDeadLetterQueueUrl",
            value=self.gatekey.scheduler_dead_letter_queue.queue_url,
            description="Scheduled runs that failed after every retry, or ticks that never reached the scheduler",
        )

    def _store_api(self) -> apigateway.RestApi:
        """Every path to the demo store function, as a provider's API would route to its backend."""
        store_api = apigateway.RestApi(
            self,
            "StoreApi",
            rest_api_name=f"gatekey-{self.settings.stage}-store-demo",
            description=f"Gatekey {self.settings.stage}: the demo store API that Gatekey protects",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Gatekey's management API sets the account's API Gateway logging role; protect() waits for it.
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=self.settings.stage,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
            ),
        )
        execution_log_group(self, "StoreApiExecutionLogs", rest_api=store_api, settings=self.settings)
        store_api.root.resource_for_path(STORE_DEMO_ROUTE.path).add_method(
            STORE_DEMO_ROUTE.method,
            apigateway.LambdaIntegration(self.store_demo, proxy=True, allow_test_invoke=False),
        )
        Validations.of(store_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="The demo store validates requests in its function (Powertools resolver)",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="No WAF web ACL in this stack: authentication is Gatekey's Lambda authorizer; a deployment "
                "that wants WAF associates its own web ACL with the stage",
            ),
        )
        return store_api
