"""Gatekey's Python SDK (management API client, Bearer and HMAC auth for httpx) and the `gatekey sign` command."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatekey.client.auth import BearerAuth, HmacAuth
    from gatekey.client.management import GatekeyApiError, GatekeyClient

__all__ = ["BearerAuth", "GatekeyApiError", "GatekeyClient", "HmacAuth"]

# Loaded on first use, so `gatekey sign` runs without httpx (the `client` extra) installed.
_MODULE_OF = {
    "BearerAuth": "gatekey.client.auth",
    "HmacAuth": "gatekey.client.auth",
    "GatekeyApiError": "gatekey.client.management",
    "GatekeyClient": "gatekey.client.management",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
