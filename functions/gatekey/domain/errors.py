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


class ConflictError(GatekeyError):
    code = "conflict"


class KeyLimitReachedError(ConflictError):
    code = "key_limit_reached"


class StorageUnavailableError(GatekeyError):
    code = "service_unavailable"
