"""The settings a deployment gets: a deployable stage of `gatekey.settings.STAGES`, its cache TTL overridable."""

from __future__ import annotations

from dataclasses import replace

from gatekey.settings import STAGES, StageSettings

# "local" is what `gatekey serve` runs; it has nothing to deploy.
DEPLOYABLE_STAGES = tuple(name for name in STAGES if name != "local")
# API Gateway caches authorizer results for at most an hour.
MAX_AUTHORIZER_CACHE_TTL_SECONDS = 3600


class StageSelectionError(ValueError):
    """The stage or authorizer cache TTL asked for is not one Gatekey can deploy."""


def deployable_stage_settings(stage: str, authorizer_cache_ttl_seconds: int | None = None) -> StageSettings:
    """The settings of `stage`, with its authorizer cache TTL replaced when one is given."""
    if stage not in DEPLOYABLE_STAGES:
        raise StageSelectionError(f"Unknown stage {stage!r}: Gatekey deploys " + " or ".join(DEPLOYABLE_STAGES))
    settings = STAGES[stage]
    if authorizer_cache_ttl_seconds is None:
        return settings
    if not 0 <= authorizer_cache_ttl_seconds <= MAX_AUTHORIZER_CACHE_TTL_SECONDS:
        raise StageSelectionError(
            f"authorizer_cache_ttl={authorizer_cache_ttl_seconds}: "
            f"API Gateway accepts 0 to {MAX_AUTHORIZER_CACHE_TTL_SECONDS} seconds"
        )
    return replace(settings, authorizer_cache_ttl_seconds=authorizer_cache_ttl_seconds)
