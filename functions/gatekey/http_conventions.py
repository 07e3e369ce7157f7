"""Conventions every Gatekey function's HTTP answers follow (DESIGN §7): HEAD like GET, and Gatekey-Version."""

from __future__ import annotations

from typing import Any

from gatekey.settings import API_VERSION

VERSION_HEADER = "Gatekey-Version"


def without_body(response: dict[str, Any]) -> dict[str, Any]:
    """The answer to HEAD: the GET answer's status and headers, no body."""
    return {**response, "body": "", "isBase64Encoded": False}


def with_version(response: dict[str, Any]) -> dict[str, Any]:
    """Stamp the API version on a Lambda proxy response, in whichever header map it uses."""
    response.setdefault("headers", {})[VERSION_HEADER] = API_VERSION
    if response.get("multiValueHeaders"):
        response["multiValueHeaders"][VERSION_HEADER] = [API_VERSION]
    return response
