"""The one place that maps domain errors and invalid input to HTTP answers of the shape `{"error": {...}}`."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from gatekey.domain import errors

STATUS_OF: dict[type[errors.GatekeyError], HTTPStatus] = {
    errors.InvalidRequestError: HTTPStatus.BAD_REQUEST,
    errors.NotFoundError: HTTPStatus.NOT_FOUND,
    errors.ForbiddenError: HTTPStatus.FORBIDDEN,
    errors.ConflictError: HTTPStatus.CONFLICT,
    errors.UnauthenticatedError: HTTPStatus.UNAUTHORIZED,
    errors.TooManyAttemptsError: HTTPStatus.TOO_MANY_REQUESTS,
    errors.StorageUnavailableError: HTTPStatus.SERVICE_UNAVAILABLE,
}


def error_body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def error_response(status: HTTPStatus, code: str, message: str) -> Response[str]:
    return Response(
        status_code=status.value, content_type=content_types.APPLICATION_JSON, body=error_body(code, message)
    )


def status_of(error: errors.GatekeyError) -> HTTPStatus:
    for error_class in type(error).__mro__:
        if error_class in STATUS_OF:
            return STATUS_OF[error_class]
    return HTTPStatus.BAD_REQUEST


def describe_validation_errors(problems: Sequence[Any]) -> str:
    """One sentence naming each offending field, e.g. `label: String should have at most 100 characters`."""
    sentences = []
    for problem in problems:
        if problem.get("type") == "json_invalid":
            sentences.append("the request body is not valid JSON")
            continue
        where = [_mention(part) for part in problem.get("loc", ())]
        # ("body", "label") reads as "label"; a bare ("body",) is the body itself.
        field = ".".join(where[1:] if len(where) > 1 else where) or "request"
        message = str(problem.get("msg", "is invalid")).removeprefix("Value error, ")
        sentences.append(f"{field}: {message}")
    return "; ".join(dict.fromkeys(sentences)) or "the request is invalid"


# A field name, an index, a resource: what a location in the input is made of. Anything else the client put
# there (a token pasted as a key, say) is not repeated back.
_NAME_SHAPE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,40}|[0-9]{1,6}")


def _mention(part: object) -> str:
    text = str(part)
    return text if _NAME_SHAPE.fullmatch(text) else "(a name that is not a field)"


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(errors.GatekeyError)
    def domain_error(error: errors.GatekeyError) -> Response[str]:
        response = error_response(status_of(error), error.code, error.message)
        if isinstance(error, errors.TooManyAttemptsError):
            response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    @app.exception_handler(RequestValidationError)
    def invalid_input(error: RequestValidationError) -> Response[str]:
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", describe_validation_errors(error.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(error: RequestUnsupportedContentType) -> Response[str]:
        return error_response(HTTPStatus.BAD_REQUEST, "unsupported_content_type", "send the body as application/json")

    @app.not_found
    def no_such_route(error: RouteNotFoundError) -> Response[str]:
        allowed = allowed_methods(app, app.current_event.path)
        if not allowed:
            return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route")
        response = error_response(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            f"{app.current_event.http_method} is not a method of this route; it answers {', '.join(allowed)}",
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response


def allowed_methods(app: APIGatewayRestResolver, path: str) -> list[str]:
    """The methods some route answers on `path` (a GET route answers HEAD too); empty when no route has it.

    Powertools keeps its routes in private lists; the version is pinned, and the tests of 405 watch this.
    """
    routes = app._static_routes + app._dynamic_routes
    methods = {route.method for route in routes if route.rule.match(path)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
