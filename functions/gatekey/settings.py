"""Per-stage settings: the one place the CDK app and the Lambda functions read them from."""

from __future__ import annotations

import os
from dataclasses import dataclass

from gatekey.domain.hashing import Argon2Cost

API_VERSION = "2026-11-01"
STAGE_ENV_VAR = "GATEKEY_STAGE"
EVENT_BUS_ENV_VAR = "GATEKEY_EVENT_BUS_NAME"


def event_bus_name(stage: str) -> str:
    """The stage's EventBridge bus for domain events: the CDK stack, `gatekey serve` and `run-scheduled` use it."""
    return f"gatekey-{stage}"


def log_ingest_failure_queue_name(stage: str) -> str:
    """Where Lambda puts access-log deliveries log ingest failed on after its retries (kept 14 days);
    `gatekey redrive-logs` replays them. The CDK stack and `gatekey serve` create it under this name."""
    return f"gatekey-{stage}-log-ingest-failures"


# Where the console's pages are served (DESIGN §12), which invitation links point into: the management API's URL
# followed by `dashboard/`. The CDK construct sets it on the management API; `gatekey serve` on itself.
CONSOLE_URL_ENV_VAR = "GATEKEY_CONSOLE_URL"
CONSOLE_PATH = "dashboard/"
LOCAL_CONSOLE_URL = "http://127.0.0.1:8080/dashboard/"  # `gatekey serve` at its default address


def ssm_parameter_name(stage: str, name: str) -> str:
    """Where the CDK construct publishes what other tools need (SAM, Terraform, `gatekey bootstrap`, ...):
    /gatekey/<stage>/<name>."""
    return f"/gatekey/{stage}/{name}"


MANAGEMENT_API_URL_PARAMETER = "management-api-url"


def console_url() -> str:
    return os.environ.get(CONSOLE_URL_ENV_VAR, LOCAL_CONSOLE_URL)


SUPPORTED_API_VERSIONS = frozenset({API_VERSION})
SMALL_KEY_SECRET_COST = Argon2Cost(time_cost=1, memory_kib=1024)
OWASP_PASSWORD_COST = Argon2Cost(time_cost=3, memory_kib=65536)


class StageNotConfiguredError(RuntimeError):
    """The function's environment names no stage, or one that does not exist: it must not start."""


@dataclass(frozen=True)
class StageSettings:
    """What differs between environments; the CDK stack passes it to every function as environment."""

    stage: str
    token_prefix: str
    authorizer_cache_ttl_seconds: int = 0
    # API-key secrets carry 190 random bits: their hash's cost only decides what a request with a wrong or old
    # secret makes the authorizer do, so it is small (DESIGN §3; `make bench` shows a forged secret within 2x a
    # warm accepted request at each stage's cost). The hash is peppered with a KMS key (domain/hashing.py).
    key_secret_argon2: Argon2Cost = SMALL_KEY_SECRET_COST
    # Human passwords (dashboard sign-in) are guessable: argon2id at OWASP's cost.
    password_argon2: Argon2Cost = OWASP_PASSWORD_COST
    log_retention_days: int = 30
    retain_data_on_delete: bool = False
    schedule_rate_minutes: int = 15
    default_key_limit: int = 25
    event_retention_days: int = 30
    # How long a webhook receiver may take to answer one delivery before it counts as failed.
    webhook_timeout_seconds: int = 10
    # Locally, webhooks may be plain http on loopback (a receiver on the developer's machine); deployed
    # stages deliver only over https to public addresses.
    loopback_webhooks_allowed: bool = False
    # What one stage of an API may take (API Gateway's stage throttling): steady requests per second and the
    # burst above it. The account's own limit (10,000/s, bursts of 5,000 in most regions) is shared by every
    # API of the account; these keep one stage's flood from taking all of it, and bound what a flood costs.
    throttle_rate_per_second: float = 100.0
    throttle_burst: int = 200

    def as_environment(self) -> dict[str, str]:
        return {
            STAGE_ENV_VAR: self.stage,
            "GATEKEY_TOKEN_PREFIX": self.token_prefix,
            "GATEKEY_KEY_SECRET_ARGON2": _cost_text(self.key_secret_argon2),
            "GATEKEY_PASSWORD_ARGON2": _cost_text(self.password_argon2),
            "GATEKEY_DEFAULT_KEY_LIMIT": str(self.default_key_limit),
            "GATEKEY_AUTHORIZER_CACHE_TTL": str(self.authorizer_cache_ttl_seconds),
            EVENT_BUS_ENV_VAR: event_bus_name(self.stage),
        }

    @classmethod
    def from_environment(cls) -> StageSettings:
        """The settings a running function was deployed with; raises StageNotConfiguredError without a known stage.

        No fallback: a function that silently took the local stage's settings would, deployed, accept loopback
        webhooks and the test token prefix, so a missing or mistyped stage fails the cold start instead.
        """
        env = os.environ
        stage = env.get(STAGE_ENV_VAR)
        if not stage:
            raise StageNotConfiguredError(
                f"{STAGE_ENV_VAR} is not set: a Gatekey function needs its stage ({', '.join(STAGES)}) in its "
                "environment, as the CDK stack and `gatekey serve` set it"
            )
        if stage not in STAGES:
            raise StageNotConfiguredError(
                f"{STAGE_ENV_VAR} names an unknown stage {stage!r}; use one of: {', '.join(STAGES)}"
            )
        base = STAGES[stage]
        return cls(
            stage=base.stage,
            token_prefix=env.get("GATEKEY_TOKEN_PREFIX", base.token_prefix),
            authorizer_cache_ttl_seconds=int(
                env.get("GATEKEY_AUTHORIZER_CACHE_TTL", base.authorizer_cache_ttl_seconds)
            ),
            key_secret_argon2=_cost(env.get("GATEKEY_KEY_SECRET_ARGON2"), base.key_secret_argon2),
            password_argon2=_cost(env.get("GATEKEY_PASSWORD_ARGON2"), base.password_argon2),
            log_retention_days=base.log_retention_days,
            retain_data_on_delete=base.retain_data_on_delete,
            schedule_rate_minutes=base.schedule_rate_minutes,
            default_key_limit=int(env.get("GATEKEY_DEFAULT_KEY_LIMIT", base.default_key_limit)),
            event_retention_days=base.event_retention_days,
            webhook_timeout_seconds=base.webhook_timeout_seconds,
            loopback_webhooks_allowed=base.loopback_webhooks_allowed,
            throttle_rate_per_second=base.throttle_rate_per_second,
            throttle_burst=base.throttle_burst,
        )


def _cost_text(cost: Argon2Cost) -> str:
    return f"{cost.time_cost},{cost.memory_kib},{cost.parallelism}"


def _cost(text: str | None, default: Argon2Cost) -> Argon2Cost:
    if not text:
        return default
    time_cost, memory_kib, parallelism = (int(part) for part in text.split(","))
    return Argon2Cost(time_cost, memory_kib, parallelism)


# Passwords: prod follows OWASP's 64 MiB / t=3 (RFC 9106's second recommendation), dev and local OWASP's minimum
# (19 MiB / t=2). Key secrets: see StageSettings.key_secret_argon2.
OWASP_MINIMUM_PASSWORD_COST = Argon2Cost(time_cost=2, memory_kib=19456)
STAGES: dict[str, StageSettings] = {
    "local": StageSettings(
        stage="local",
        token_prefix="gk_test",
        password_argon2=OWASP_MINIMUM_PASSWORD_COST,
        schedule_rate_minutes=1,
        webhook_timeout_seconds=3,
        loopback_webhooks_allowed=True,
    ),
    "dev": StageSettings(
        stage="dev",
        token_prefix="gk_test",
        password_argon2=OWASP_MINIMUM_PASSWORD_COST,
        throttle_rate_per_second=50.0,
        throttle_burst=100,
    ),
    "prod": StageSettings(
        stage="prod",
        token_prefix="gk_live",
        key_secret_argon2=Argon2Cost(time_cost=1, memory_kib=2048),
        retain_data_on_delete=True,
        schedule_rate_minutes=5,
        throttle_rate_per_second=1000.0,
        throttle_burst=2000,
    ),
}
