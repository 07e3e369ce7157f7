"""The Gatekey stack of one stage: database, functions, API, and events with the schedule, composed."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from gatekey.settings import StageSettings
from infra.constructs.api import Api
from infra.constructs.database import Database
from infra.constructs.events import Events
from infra.constructs.functions import Functions


class GatekeyStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"Gatekey API keys ({settings.stage})", **kwargs)
        self.settings = settings
        self.database = Database(self, "Database", settings=settings)
        self.functions = Functions(self, "Functions", settings=settings, database=self.database)
        self.api = Api(self, "Api", settings=settings, functions=self.functions)
        self.events = Events(self, "Events", settings=settings, functions=self.functions)
        Tags.of(self).add("project", "gatekey")
        Tags.of(self).add("stage", settings.stage)
        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url, description="Base URL of the Gatekey API")
        CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name, description="Bus of domain events")
        CfnOutput(
            self,
            "WebhookDeadLetterQueueUrl",
            value=self.events.dead_letter_queue.queue_url,
            description="Events that could not be delivered to webhooks, after every retry",
        )
