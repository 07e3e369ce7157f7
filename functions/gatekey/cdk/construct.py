"""`Gatekey`: the construct a provider adds to its CDK app, and that protects the provider's REST APIs (DESIGN §11)."""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from gatekey.access_log import access_log_format_string
from gatekey.api_gateway import AUTHORIZER, LOG_INGEST, MANAGEMENT_API
from gatekey.cdk.bundling import LambdaBundle, bundled_code, lambda_runtime
from gatekey.cdk.database import Database
from gatekey.cdk.events import Events
from gatekey.cdk.failure_queues import LogIngestFailures
from gatekey.cdk.functions import Functions
from gatekey.cdk.management_api import GATEKEY_PUBLIC_ROUTES, GATEKEY_ROUTES_SOURCE, ManagementApi
from gatekey.cdk.protection import ApiProtection, ProtectionError
from gatekey.cdk.stage import deployable_stage_settings
from gatekey.cdk.usage_plans import UsagePlans
from gatekey.configuration import CONFIG_FILE_ENV_VAR, GatekeyConfiguration, load_configuration
from gatekey.domain.permissions import RoutePattern
from gatekey.domain.plans import GATEKEY_API, PROTECTED_APIS, UsagePlanScope
from gatekey.settings import (
    CONSOLE_PATH,
    CONSOLE_URL_ENV_VAR,
    MANAGEMENT_API_URL_PARAMETER,
    StageSettings,
    ssm_parameter_name,
)
from gatekey.storage.sealing import KMS_KEY_ENV_VAR, SECRET_MAC_KEY_ENV_VAR
from gatekey.storage.tables import ALL_TABLES, KEYS_TABLE, REQUEST_LOGS_TABLE

# The id of the protection in a protected API's construct tree (e.g. InvoicesApi/Gatekey/Authorizer).
PROTECTION_ID = "Gatekey"


class Gatekey(Construct):
    """Gatekey for one stage: tables and KMS key, its functions, its management API, events and the schedule.

    `stage` is `dev` or `prod` (`gatekey.settings.STAGES`); `authorizer_cache_ttl_seconds` overrides the stage's
    authorizer cache TTL. `config` is the provider's configuration file (TOML; None for the demo store's): read here,
    at synthesis, so a bad file stops synthesis with `ConfigurationError`, one line per problem; the functions get it
    as JSON in their code bundle. `bundle_cache` is where the bundle's pip installs are kept (default
    $GATEKEY_BUNDLE_CACHE, else ~/.cache/gatekey/bundles). `alarm_topic`, if given, is notified by every alarm
    Gatekey makes (those of APIs protected later included); without it the alarms have no actions. Call
    `protect(api)` for each of the provider's REST APIs once its methods are added.

    Attributes: `settings`, `configuration`, `code` and `runtime` (the bundle every function runs), `tables`,
    `secrets_key`, `authorizer_function`, `log_ingest_function`, `management_api_function`, `management_api`
    (the RestApi), `event_bus`, `access_log_format`, `function_environment`; the failure queues
    `log_ingest_failure_queue`, `webhook_dead_letter_queue` and `scheduler_dead_letter_queue`, and
    `log_redrive_policy` (what an operator's identity needs for `gatekey redrive-logs`); the alarms
    `log_ingest_failures_alarm`, `webhook_dead_letters_alarm`, `scheduler_dead_letters_alarm`,
    `management_api_server_errors_alarm`, and `alarms`, every alarm so far (each protected API's 5xx alarm too);
    `usage_plans`, the API Gateway usage plan of each of the configuration's plans by plan name (DESIGN §13; empty
    without plans), covering the stage of every protected API, and `gatekey_api_usage_plans`, their twins covering
    the management API's stage (limited alike, counted apart).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        config: str | Path | None = None,
        authorizer_cache_ttl_seconds: int | None = None,
        bundle_cache: Path | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_topic = alarm_topic
        self.alarms: list[cloudwatch.Alarm] = []
        self.settings: StageSettings = deployable_stage_settings(stage, authorizer_cache_ttl_seconds)
        self.configuration: GatekeyConfiguration = load_configuration(config)
        bundle = LambdaBundle.for_building_python(self.configuration, cache_root=bundle_cache)
        self.runtime: lambda_.Runtime = lambda_runtime(bundle.python_version)
        self.code: lambda_.Code = bundled_code(bundle)

        self.database = Database(self, "Database", settings=self.settings)
        self.tables: dict[str, dynamodb.Table] = self.database.tables
        self.secrets_key: kms.Key = self.database.secrets_key
        self.function_environment: dict[str, str] = {
            **self.settings.as_environment(),
            **{definition.env_var: self.database.table(definition).table_name for definition in ALL_TABLES},
            KMS_KEY_ENV_VAR: self.secrets_key.key_id,
            SECRET_MAC_KEY_ENV_VAR: self.database.secret_mac_key.key_id,
            # The configuration travels in the bundle, not in the environment (Lambda allows 4 KB of it).
            CONFIG_FILE_ENV_VAR: bundle.configuration_path_in_lambda,
            "POWERTOOLS_SERVICE_NAME": "gatekey",
            "POWERTOOLS_METRICS_NAMESPACE": "Gatekey",
        }
        self.functions = Functions(
            self,
            "Functions",
            settings=self.settings,
            database=self.database,
            code=self.code,
            runtime=self.runtime,
            environment=self.function_environment,
        )
        self.authorizer_function: lambda_.Function = self.functions.function(AUTHORIZER)
        self.log_ingest_function: lambda_.Function = self.functions.function(LOG_INGEST)
        self.management_api_function: lambda_.Function = self.functions.function(MANAGEMENT_API)

        self._management = ManagementApi(
            self, "ManagementApi", settings=self.settings, handler=self.management_api_function
        )
        self.management_api: apigateway.RestApi = self._management.rest_api
        # Before any API is protected: protecting one puts its stage into every usage plan.
        self._usage_plans = (
            UsagePlans(self, "UsagePlans", settings=self.settings, plans=self.configuration.plans)
            if self.configuration.plans.enabled
            else None
        )
        self.usage_plans: dict[str, apigateway.UsagePlan] = self._usage_plans.by_name if self._usage_plans else {}
        self.gatekey_api_usage_plans: dict[str, apigateway.UsagePlan] = (
            self._usage_plans.gatekey_api_by_name if self._usage_plans else {}
        )
        if self._usage_plans is not None:
            self.functions.grant_usage_plans(self._usage_plans, self.database)
        # Invitation links point into the console, which the management API serves under its stage. Built from the
        # API's id rather than its `url` (which names the stage, whose deployment needs this function first).
        stack = Stack.of(self)
        self.console_url = (
            f"https://{self.management_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/"
            f"{self.settings.stage}/{CONSOLE_PATH}"
        )
        self.management_api_function.add_environment(CONSOLE_URL_ENV_VAR, self.console_url)
        # Gatekey's own API is authorized afresh on every request, whatever the stage's cache TTL: a console session
        # carries no Authorization header for API Gateway's cache to be keyed on (another session's cached answer
        # would serve it), and sign-out, revocation and role changes there must bite at once. The TTL is for the
        # provider's APIs, where the traffic is.
        management_protection = self._protect(
            self.management_api,
            GATEKEY_PUBLIC_ROUTES,
            GATEKEY_ROUTES_SOURCE,
            authorizer_cache_ttl_seconds=0,
            usage_plan_scope=GATEKEY_API,
        )
        self.management_api_server_errors_alarm: cloudwatch.Alarm = management_protection.server_errors_alarm

        self.log_ingest_failures = LogIngestFailures(
            self,
            "LogIngestFailures",
            settings=self.settings,
            log_ingest=self.log_ingest_function,
            request_logs_table=self.database.table(REQUEST_LOGS_TABLE),
            keys_table=self.database.table(KEYS_TABLE),
        )
        self.log_ingest_failure_queue: sqs.Queue = self.log_ingest_failures.queue
        self.log_redrive_policy: iam.ManagedPolicy = self.log_ingest_failures.redrive_policy
        self.log_ingest_failures_alarm: cloudwatch.Alarm = self._watch(self.log_ingest_failures.alarm)

        self.events = Events(self, "Events", settings=self.settings, functions=self.functions)
        self.event_bus: events.EventBus = self.events.bus
        self.webhook_dead_letter_queue: sqs.Queue = self.events.dead_letter_queue
        self.webhook_dead_letters_alarm: cloudwatch.Alarm = self._watch(self.events.dead_letter_alarm)
        self.scheduler_dead_letter_queue: sqs.Queue = self.events.scheduler_dead_letter_queue
        self.scheduler_dead_letters_alarm: cloudwatch.Alarm = self._watch(self.events.scheduler_dead_letter_alarm)
        self.access_log_format = access_log_format_string()
        self._publish_for_other_tools(construct_id)

    def protect(self, rest_api: apigateway.RestApi) -> ApiProtection:
        """Puts Gatekey in front of `rest_api`, whose methods must all be added already: Gatekey's REQUEST
        authorizer on every method but the configuration's public routes, the caller headers on HTTP
        integrations, Gatekey's access log (fed to log ingest) on its stage, Gatekey's gateway responses, the
        stage's throttling (unless it has its own) and an alarm on its 5xx answers (in `alarms`). With plans, the
        stage joins every plan's usage plan for protected APIs, API keys come from the authorizer, and every method
        but the public ones requires one."""
        return self._protect(
            rest_api,
            self.configuration.public_routes,
            self.configuration.source,
            authorizer_cache_ttl_seconds=self.settings.authorizer_cache_ttl_seconds,
        )

    def _protect(
        self,
        rest_api: apigateway.RestApi,
        public_routes: tuple[RoutePattern, ...],
        routes_source: str,
        *,
        authorizer_cache_ttl_seconds: int,
        usage_plan_scope: UsagePlanScope = PROTECTED_APIS,
    ) -> ApiProtection:
        if rest_api.node.try_find_child(PROTECTION_ID) is not None:
            raise ProtectionError(f"{rest_api.node.path} is protected by Gatekey already")
        protection = ApiProtection(
            rest_api,
            PROTECTION_ID,
            rest_api=rest_api,
            authorizer_function=self.authorizer_function,
            log_ingest_function=self.log_ingest_function,
            settings=self.settings,
            public_routes=public_routes,
            routes_source=routes_source,
            authorizer_cache_ttl_seconds=authorizer_cache_ttl_seconds,
            logging_account_setting=self._management.logging_account_setting,
            usage_plans=self._usage_plans,
            usage_plan_scope=usage_plan_scope,
        )
        self._watch(protection.server_errors_alarm)
        return protection

    def _watch(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        """Lists `alarm` in `alarms`, notifying the alarm topic if there is one."""
        if self.alarm_topic is not None:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        self.alarms.append(alarm)
        return alarm

    def _publish_for_other_tools(self, construct_id: str) -> None:
        """Stack outputs and SSM parameters, for APIs that other tools (SAM, Terraform, ...) put behind Gatekey:
        an API names the authorizer function as its Lambda authorizer and writes its access log in Gatekey's
        format to a log group subscribed to the log-ingest function."""
        published = {
            "AuthorizerFunctionArn": (
                "authorizer-function-arn",
                self.authorizer_function.function_arn,
                "Gatekey's REQUEST authorizer function, for other APIs' Lambda authorizers",
            ),
            "LogIngestFunctionArn": (
                "log-ingest-function-arn",
                self.log_ingest_function.function_arn,
                "Gatekey's log-ingest function, for other APIs' access-log subscription filters",
            ),
            "AccessLogFormat": (
                "access-log-format",
                self.access_log_format,
                "The access-log format other APIs' stages must write for Gatekey's log ingest",
            ),
            "ManagementApiUrl": (
                MANAGEMENT_API_URL_PARAMETER,
                self.management_api.url,
                "Base URL of Gatekey's management API",
            ),
            "LogIngestFailureQueueUrl": (
                "log-ingest-failure-queue-url",
                self.log_ingest_failure_queue.queue_url,
                "Access-log batches log ingest failed on, kept 14 days; `gatekey redrive-logs` replays them",
            ),
            "LogRedrivePolicyArn": (
                "log-redrive-policy-arn",
                self.log_redrive_policy.managed_policy_arn,
                "The managed policy an operator's role needs to run `gatekey redrive-logs`",
            ),
        }
        # Outputs have readable, stable names (GatekeyAuthorizerFunctionArn) instead of path-derived ones.
        output_prefix = re.sub(r"[^A-Za-z0-9]", "", construct_id)
        for name, (parameter, value, description) in published.items():
            output = CfnOutput(self, name, value=value, description=description)
            output.override_logical_id(f"{output_prefix}{name}")
            ssm.StringParameter(
                self,
                f"{name}Parameter",
                parameter_name=ssm_parameter_name(self.settings.stage, parameter),
                string_value=value,
                description=description,
            )
