"""Where a webhook may point (DESIGN §8): https to public addresses only; plain http to loopback only locally."""

from __future__ import annotations

import pytest

from gatekey.domain.webhook_targets import (
    MAX_URL_LENGTH,
    Resolver,
    UnsafeWebhookUrlError,
    resolve_target,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"
UNSPECIFIED = "0.0.0.0"  # noqa: S104 - an address a resolver answers, never one bound to


def answers(*addresses: str) -> Resolver:
    """A resolver that answers every name with `addresses`, as DNS would."""
    return lambda host, port: list(addresses)


def literal(host: str, port: int) -> list[str]:
    """A resolver for URLs whose host is already an IP address."""
    return [host]


def refused(url: str, *, loopback_allowed: bool = False, resolver: Resolver = literal) -> str:
    with pytest.raises(UnsafeWebhookUrlError) as error:
        resolve_target(url, loopback_allowed=loopback_allowed, resolver=resolver)
    return str(error.value)


def test_https_to_a_public_address_is_accepted() -> None:
    target = resolve_target(
        "https://hooks.example.com/gatekey/events?tenant=acme&v=2",
        loopback_allowed=False,
        resolver=answers(PUBLIC_V4, PUBLIC_V6),
    )
    assert target.scheme == "https"
    assert target.host == "hooks.example.com"
    assert target.port == 443
    assert target.path_and_query == "/gatekey/events?tenant=acme&v=2"
    assert target.addresses == (PUBLIC_V4, PUBLIC_V6)
    assert target.host_header == "hooks.example.com"


def test_the_resolver_is_asked_for_the_host_and_the_port_the_url_names() -> None:
    asked: list[tuple[str, int]] = []

    def recording(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return [PUBLIC_V4]

    resolve_target("https://Hooks.Example.com:8443/x", loopback_allowed=False, resolver=recording)
    resolve_target("https://hooks.example.com/x", loopback_allowed=False, resolver=recording)
    assert asked == [("hooks.example.com", 8443), ("hooks.example.com", 443)]


def test_a_url_without_a_path_is_delivered_to_the_root() -> None:
    target = resolve_target("https://hooks.example.com?x=1", loopback_allowed=False, resolver=answers(PUBLIC_V4))
    assert target.path_and_query == "/?x=1"


def test_url_at_pins_the_connection_to_a_checked_address() -> None:
    target = resolve_target(
        "https://hooks.example.com/in?a=1", loopback_allowed=False, resolver=answers(PUBLIC_V4, PUBLIC_V6)
    )
    assert target.url_at(PUBLIC_V4) == f"https://{PUBLIC_V4}:443/in?a=1"
    assert target.url_at(PUBLIC_V6) == f"https://[{PUBLIC_V6}]:443/in?a=1"


def test_the_host_header_names_a_port_that_is_not_the_default() -> None:
    target = resolve_target("https://hooks.example.com:8443/in", loopback_allowed=False, resolver=answers(PUBLIC_V4))
    assert target.port == 8443
    assert target.host_header == "hooks.example.com:8443"
    assert target.url_at(PUBLIC_V4) == f"https://{PUBLIC_V4}:8443/in"


def test_the_host_header_leaves_out_an_explicit_default_port() -> None:
    target = resolve_target("https://hooks.example.com:443/in", loopback_allowed=False, resolver=answers(PUBLIC_V4))
    assert target.host_header == "hooks.example.com"


def test_http_to_a_public_host_is_refused() -> None:
    message = refused("http://hooks.example.com/in", resolver=answers(PUBLIC_V4))
    assert "https" in message


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("10.0.0.1", id="private-10"),
        pytest.param("10.255.255.254", id="private-10-top"),
        pytest.param("172.16.0.1", id="private-172.16"),
        pytest.param("172.31.255.254", id="private-172.31"),
        pytest.param("192.168.1.1", id="private-192.168"),
        pytest.param("127.0.0.1", id="loopback"),
        pytest.param("127.1.2.3", id="loopback-range"),
        pytest.param("::1", id="loopback-v6"),
        pytest.param("::ffff:127.0.0.1", id="loopback-v4-mapped"),
        pytest.param("::ffff:10.0.0.1", id="private-v4-mapped"),
        pytest.param("169.254.169.254", id="link-local-metadata"),
        pytest.param("fe80::1", id="link-local-v6"),
        pytest.param("fe80::1%eth0", id="link-local-v6-with-zone"),
        pytest.param("fc00::1", id="unique-local-v6"),
        pytest.param(UNSPECIFIED, id="unspecified"),
        pytest.param("::", id="unspecified-v6"),
        pytest.param("100.64.0.1", id="carrier-grade-nat"),
        pytest.param("224.0.0.1", id="multicast"),
        pytest.param("255.255.255.255", id="broadcast"),
    ],
)
def test_a_private_loopback_or_link_local_address_is_refused_in_a_deployed_stage(address: str) -> None:
    message = refused("https://hooks.example.com/in", resolver=answers(address))
    assert "public address" in message
    assert "private" in message


def test_an_ip_literal_url_to_the_metadata_service_is_refused() -> None:
    assert "public address" in refused("https://169.254.169.254/latest/meta-data/")


def test_a_name_resolving_to_one_public_and_one_private_address_is_refused() -> None:
    message = refused("https://hooks.example.com/in", resolver=answers(PUBLIC_V4, "10.0.0.7"))
    assert "public address" in message


def test_a_name_resolving_to_nothing_is_refused() -> None:
    assert "public address" in refused("https://hooks.example.com/in", resolver=answers())


@pytest.mark.parametrize(
    ("url", "resolver"),
    [
        pytest.param("http://127.0.0.1:9000/x", literal, id="loopback-literal"),
        pytest.param("http://localhost/x", answers("127.0.0.1"), id="localhost"),
        pytest.param("http://localhost:8080/x", answers("::1", "127.0.0.1"), id="localhost-both-families"),
        pytest.param("https://127.0.0.1:9443/x", literal, id="loopback-https"),
    ],
)
def test_loopback_is_accepted_locally_even_over_http(url: str, resolver: Resolver) -> None:
    target = resolve_target(url, loopback_allowed=True, resolver=resolver)
    assert target.url == url


def test_a_local_loopback_target_keeps_its_port_and_path() -> None:
    target = resolve_target("http://127.0.0.1:9000/x?y=1", loopback_allowed=True, resolver=literal)
    assert (target.scheme, target.host, target.port, target.path_and_query) == ("http", "127.0.0.1", 9000, "/x?y=1")
    assert target.url_at("127.0.0.1") == "http://127.0.0.1:9000/x?y=1"
    assert target.host_header == "127.0.0.1:9000"


def test_http_localhost_uses_port_80_by_default() -> None:
    target = resolve_target("http://localhost/x", loopback_allowed=True, resolver=answers("127.0.0.1"))
    assert target.port == 80
    assert target.host_header == "localhost"


def test_loopback_is_refused_in_a_deployed_stage_even_over_https() -> None:
    assert "public address" in refused("https://localhost/x", resolver=answers("127.0.0.1"))


def test_http_to_a_public_address_is_still_refused_locally() -> None:
    message = refused("http://hooks.example.com/in", loopback_allowed=True, resolver=answers(PUBLIC_V4))
    assert "https" in message


def test_http_to_a_name_resolving_to_loopback_and_a_public_address_is_refused_locally() -> None:
    message = refused("http://hooks.example.com/in", loopback_allowed=True, resolver=answers("127.0.0.1", PUBLIC_V4))
    assert "https" in message


def test_https_to_a_public_address_is_accepted_locally() -> None:
    target = resolve_target("https://hooks.example.com/in", loopback_allowed=True, resolver=answers(PUBLIC_V4))
    assert target.addresses == (PUBLIC_V4,)


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1", UNSPECIFIED, "100.64.0.1"]
)
def test_anything_private_is_still_refused_locally(address: str) -> None:
    message = refused("https://hooks.example.com/in", loopback_allowed=True, resolver=answers(address))
    assert "public or loopback address" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://user:password@hooks.example.com/in",
        "https://user@hooks.example.com/in",
        "https://:password@hooks.example.com/in",
    ],
)
def test_credentials_in_the_url_are_refused(url: str) -> None:
    assert "user name or password" in refused(url, resolver=answers(PUBLIC_V4))


def test_a_fragment_is_refused() -> None:
    assert "#fragment" in refused("https://hooks.example.com/in#section", resolver=answers(PUBLIC_V4))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/in",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://hooks.example.com/",
        "//hooks.example.com/in",
        "hooks.example.com/in",
        "https:///in",
        "",
    ],
)
def test_anything_but_an_absolute_http_url_is_refused(url: str) -> None:
    assert "absolute https:// URL" in refused(url, resolver=answers(PUBLIC_V4))


@pytest.mark.parametrize("url", ["https://hooks.example.com:99999/in", "https://hooks.example.com:port/in"])
def test_an_invalid_port_is_refused(url: str) -> None:
    assert "not a valid URL" in refused(url, resolver=answers(PUBLIC_V4))


def test_a_url_over_the_length_limit_is_refused() -> None:
    base = "https://hooks.example.com/"
    too_long = base + "a" * (MAX_URL_LENGTH + 1 - len(base))
    assert len(too_long) == MAX_URL_LENGTH + 1
    assert f"at most {MAX_URL_LENGTH} characters" in refused(too_long, resolver=answers(PUBLIC_V4))


def test_a_url_of_exactly_the_length_limit_is_accepted() -> None:
    base = "https://hooks.example.com/"
    longest = base + "a" * (MAX_URL_LENGTH - len(base))
    assert len(longest) == MAX_URL_LENGTH
    assert resolve_target(longest, loopback_allowed=False, resolver=answers(PUBLIC_V4)).url == longest


def test_the_length_limit_is_checked_before_any_lookup() -> None:
    def must_not_be_called(host: str, port: int) -> list[str]:
        raise AssertionError("resolved a URL that is too long")

    refused("https://hooks.example.com/" + "a" * MAX_URL_LENGTH, resolver=must_not_be_called)


def test_a_name_that_does_not_resolve_is_refused_by_the_default_resolver() -> None:
    with pytest.raises(UnsafeWebhookUrlError) as error:
        resolve_target("https://nonexistent.invalid/in", loopback_allowed=False)
    assert "'nonexistent.invalid' does not resolve" in str(error.value)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("::ffff:0:7f00:1", id="translated-loopback"),
        pytest.param("::ffff:0:a00:1", id="translated-private-10"),
        pytest.param("::ffff:0:a9fe:a9fe", id="translated-metadata"),
        pytest.param("::ffff:0:c0a8:101", id="translated-private-192.168"),
    ],
)
def test_an_ipv4_translated_address_is_judged_by_the_ipv4_address_it_reaches(address: str) -> None:
    message = refused("https://hooks.example.com/in", resolver=answers(address))
    assert "public address" in message


def test_an_ipv4_translated_loopback_is_refused_even_locally() -> None:
    assert "public or loopback address" in refused(
        "https://hooks.example.com/in", loopback_allowed=True, resolver=answers("::ffff:0:7f00:1")
    )


def test_an_ipv4_translated_public_address_is_accepted() -> None:
    target = resolve_target("https://[::ffff:0:808:808]/in", loopback_allowed=False, resolver=literal)
    assert target.addresses == ("::ffff:0:808:808",)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://hooks.example.com/in\n", id="newline-at-the-end"),
        pytest.param("https://hooks.example.com/a\tb", id="tab-in-the-path"),
        pytest.param("https://hooks.example.com/in?x=1\r\nX-Injected: yes", id="crlf-in-the-query"),
        pytest.param("https://hooks.exa\nmple.com/in", id="newline-in-the-host"),
        pytest.param("https://hooks.example.com/\x00", id="nul"),
        pytest.param("https://hooks.example.com/\x1f", id="unit-separator"),
        pytest.param("https://hooks.example.com/in?\x7f", id="delete"),
    ],
)
def test_a_url_with_a_control_character_is_refused_before_any_lookup(url: str) -> None:
    def no_lookup(host: str, port: int) -> list[str]:
        raise AssertionError("a URL with a control character must not be resolved")

    message = refused(url, resolver=no_lookup)
    assert "control characters" in message


def test_a_percent_encoded_control_character_is_a_plain_url() -> None:
    target = resolve_target("https://hooks.example.com/a%09b", loopback_allowed=False, resolver=answers(PUBLIC_V4))
    assert target.path_and_query == "/a%09b"
