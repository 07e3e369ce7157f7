"""Lambda entry point of the management API (`/v1/...`, `/health`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api.app import handle
from gatekey.api.services import settings
from gatekey.handlers import initialized

logger = Logger()
settings()  # a function deployed without its stage fails its cold start, not its first request


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)


initialized()
