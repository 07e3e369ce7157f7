"""Where a webhook may point (DESIGN §8): https to public addresses, checked at registration and again at
delivery, which then connects to the very addresses it checked. Locally, loopback may be plain http."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
Resolver = Callable[[str, int], list[str]]  # host, port -> IP addresses


class UnsafeWebhookUrlError(ValueError):
    """The URL is not one Gatekey will deliver to; the message says why (it never holds a secret)."""


def resolve_host(host: str, port: int) -> list[str]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeWebhookUrlError(f"the host '{host}' does not resolve") from error
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    scheme: str
    host: str
    port: int
    path_and_query: str
    addresses: tuple[str, ...]  # every address the host resolved to, all of them allowed

    def url_at(self, address: str) -> str:
        """The URL with its host replaced by one checked address, so the connection goes exactly there."""
        literal = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{literal}:{self.port}{self.path_and_query}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal keeps its brackets
        default_port = 443 if self.scheme == "https" else 80
        return host if self.port == default_port else f"{host}:{self.port}"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv4-translated addresses (SIIT, RFC 2765/6052): a translator forwards them to the IPv4 address in their last
# 32 bits, so they reach exactly what that address reaches, as IPv4-mapped and NAT64 ones do.
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address, an IPv4-mapped IPv6 address as the IPv4 address it reaches; no IPv6 zone id."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address may reach through a translation (NAT64, SIIT, 6to4, Teredo, IPv4-compatible)."""
    embedded = [address.sixtofour] if address.sixtofour else []
    if address.teredo:
        embedded += list(address.teredo)
    if address in _NAT64 or address in _IPV4_TRANSLATED or (address in _IPV4_COMPATIBLE and int(address) > 1):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


def _address_allowed(text: str, loopback_allowed: bool) -> bool:
    address = _ip(text)
    if address.is_loopback:
        return loopback_allowed
    if isinstance(address, ipaddress.IPv6Address) and any(
        not _address_allowed(str(inner), loopback_allowed=False) for inner in _embedded_ipv4(address)
    ):
        return False
    return address.is_global and not address.is_multicast


def resolve_target(url: str, *, loopback_allowed: bool, resolver: Resolver = resolve_host) -> WebhookTarget:
    """The checked target of `url`; raises UnsafeWebhookUrlError naming what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrlError(f"must be at most {MAX_URL_LENGTH} characters")
    # urlsplit silently drops tabs and line breaks (WHATWG), so it would check one URL and store another; a
    # control character has no place in a URL anyway (RFC 3986 wants it percent-encoded).
    control = next((char for char in url if ord(char) < 0x20 or ord(char) == 0x7F), None)
    if control is not None:
        raise UnsafeWebhookUrlError(
            f"must not contain control characters (found U+{ord(control):04X}); percent-encode them"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeWebhookUrlError("is not a valid URL") from error
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("https", "http") or not host:
        raise UnsafeWebhookUrlError("must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrlError("must not carry a user name or password")
    if parts.fragment:
        raise UnsafeWebhookUrlError("must not have a #fragment")
    if port == 0:
        raise UnsafeWebhookUrlError("must name a port from 1 to 65535")
    port = port if port is not None else (443 if scheme == "https" else 80)
    addresses = resolver(host, port)
    if not addresses or not all(_address_allowed(address, loopback_allowed) for address in addresses):
        where = "a public or loopback address" if loopback_allowed else "a public address"
        raise UnsafeWebhookUrlError(f"must point at {where}, not a private, loopback or link-local one")
    all_loopback = all(_ip(address).is_loopback for address in addresses)
    if scheme == "http" and not (loopback_allowed and all_loopback):
        raise UnsafeWebhookUrlError("must use https (plain http is allowed only for loopback, locally)")
    path_and_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(url, scheme, host, port, path_and_query, tuple(addresses))
