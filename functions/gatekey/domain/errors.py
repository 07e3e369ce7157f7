"""Domain errors: each carries a stable snake_case code; api/errors.py is the one place that maps them to HTTP."""

from __future__ import annotations


class GatekeyError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidRequestError(GatekeyError):
    code = "invalid_request"


class NotFoundError(GatekeyError):
    code = "not_found"


class ForbiddenError(GatekeyError):
    code = "forbidden"


class UnauthenticatedError(GatekeyError):
    """Credentials given to the API itself (a console sign-in) were not right."""

    code = "unauthenticated"


class TooManyAttemptsError(GatekeyError):
    """Too many failed attempts lately; the caller may try again after `retry_after_seconds`."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ConflictError(GatekeyError):
    code = "conflict"


class KeyLimitReachedError(ConflictError):
    code = "key_limit_reached"


class StorageUnavailableError(GatekeyError):
    code = "service_unavailable"
