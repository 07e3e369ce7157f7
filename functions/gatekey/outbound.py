"""Webhook POSTs over HTTP(S): the one place Gatekey opens connections to addresses its customers chose."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

import httpx

from gatekey.domain.webhook_delivery import WebhookFailedError
from gatekey.domain.webhook_targets import WebhookTarget


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HttpWebhookSender:
    """Connects to the addresses the target was checked for (no second DNS lookup an attacker could steer),
    while TLS verifies the certificate for the URL's host name; follows no redirect; reads no answer body."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = httpx.Timeout(timeout_seconds)

    def post(self, target: WebhookTarget, headers: Mapping[str, str], body: bytes) -> int:
        extensions = {} if _is_ip_literal(target.host) else {"sni_hostname": target.host}
        failure = "unreachable"
        with httpx.Client(timeout=self._timeout, follow_redirects=False, trust_env=False) as client:
            for address in target.addresses:
                try:
                    with client.stream(
                        "POST",
                        target.url_at(address),
                        content=body,
                        headers={**headers, "Host": target.host_header},
                        extensions=extensions,
                    ) as response:
                        return response.status_code
                except httpx.TimeoutException as error:
                    raise WebhookFailedError("timed out") from error
                except httpx.TransportError as error:
                    failure = f"unreachable ({type(error).__name__})"
        raise WebhookFailedError(failure)
