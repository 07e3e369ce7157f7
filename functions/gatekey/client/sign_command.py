"""`gatekey sign`: the HMAC headers for one request, printed as curl arguments (`curl … $(gatekey sign …)`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from gatekey.client.api_paths import path_within_api
from gatekey.domain.signing import sign_request
from gatekey.domain.tokens import BODY_LENGTH, KEY_ID_LENGTH, KEY_ID_PREFIX, MalformedTokenError, is_key_id, parse_token

TOKEN_ENVIRONMENT_VARIABLE = "GATEKEY_TOKEN"  # noqa: S105 - the variable's name, not a token


class SignInputError(ValueError):
    """Input `gatekey sign` cannot use; its message is the one line the user sees."""


def add_sign_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sign",
        help="print the HMAC headers of a request as curl arguments",
        description=(
            "Sign one request with an HMAC key and print its five X-Gatekey-* headers as curl -H arguments, "
            'e.g. curl "$URL" $(gatekey sign "$URL"). '
            f"The token comes from --token-file or ${TOKEN_ENVIRONMENT_VARIABLE}, "
            "never from the command line (it would show in ps and the shell history)."
        ),
    )
    parser.add_argument("url", metavar="URL", help="the URL exactly as curl will send it")
    parser.add_argument("-X", "--request", dest="method", help="HTTP method (default: GET, or POST with data)")
    parser.add_argument(
        "--data-binary", metavar="DATA", help="the request body, or @FILE to read it from a file (@- for stdin)"
    )
    parser.add_argument("--key-id", help="the key id (default: the one the token contains)")
    parser.add_argument("--base-path", default="", help="what the URL carries before the API's paths, e.g. /dev")
    parser.add_argument("--token-file", help=f"read the token from this file instead of ${TOKEN_ENVIRONMENT_VARIABLE}")
    parser.set_defaults(run=run_sign)


def run_sign(arguments: argparse.Namespace) -> int:
    try:
        token = _read_token(arguments.token_file)
        key_id = _key_id(arguments.key_id, token)
        body = _read_body(arguments.data_binary)
        raw_path, raw_query = _path_and_query(arguments.url, arguments.base_path)
    except SignInputError as error:
        print(f"gatekey sign: {error}", file=sys.stderr)
        return 2
    method = arguments.method or ("POST" if arguments.data_binary is not None else "GET")
    headers = sign_request(
        key_id=key_id,
        token=token,
        method=method.upper(),
        raw_path=raw_path,
        raw_query=raw_query,
        body=body,
        timestamp=int(time.time()),
    )
    # No space after the colon: `$(gatekey sign …)` splits each line into `-H` and one header word.
    for name, value in headers.items():
        print(f"-H {name}:{value}")
    return 0


def _read_token(token_file: str | None) -> str:
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except (OSError, UnicodeDecodeError) as error:
            raise SignInputError(f"cannot read the token file {token_file}: {error}") from error
    else:
        token = os.environ.get(TOKEN_ENVIRONMENT_VARIABLE, "").strip()
        if not token:
            raise SignInputError(f"no token: set ${TOKEN_ENVIRONMENT_VARIABLE} or pass --token-file FILE")
    return token


def _key_id(given: str | None, token: str) -> str:
    """The key id in the token (its body's first 22 characters), after checking the token's shape and checksum."""
    prefix = token[: -(BODY_LENGTH + 1)]
    try:
        if not prefix:
            raise MalformedTokenError("token is too short")
        key_id = parse_token(token, prefix).key_id
    except MalformedTokenError as error:
        raise SignInputError(f"the token is not a Gatekey token: {error}") from error
    if given is None:
        return key_id
    if not is_key_id(given):
        raise SignInputError(f"--key-id must be {KEY_ID_PREFIX} followed by {KEY_ID_LENGTH} base62 characters")
    return given


def _read_body(data: str | None) -> bytes:
    if data is None:
        return b""
    if not data.startswith("@"):
        return os.fsencode(data)  # the argument's bytes as the shell passed them, as curl sends them
    source = data[1:]
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as error:
        raise SignInputError(f"cannot read the body file {source}: {error}") from error


def _path_and_query(url: str, base_path: str) -> tuple[str, str]:
    """The URL's path (relative to the API) and query, with the percent-encoding they have on the wire."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SignInputError(f"not an http(s) URL: {url}")
    try:
        return path_within_api(parts.path or "/", base_path), parts.query
    except ValueError as error:
        raise SignInputError(str(error)) from error
