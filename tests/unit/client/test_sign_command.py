"""`gatekey sign`: the printed curl arguments carry the headers `sign_request` gives for that URL and body."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gatekey.cli import main
from gatekey.domain.signing import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_TIMESTAMP,
    NONCE_PATTERN,
    SIGNING_HEADERS,
    sign_request,
)

TOKEN = "gk_test_7QqK3mZ1xR8vT2wY5nB0cDLh4Jf6Gs9Pk2Ve8Nt1Ua3Rc5Xy7Wb0Zq3wsiVa"
KEY_ID = "key_7QqK3mZ1xR8vT2wY5nB0cD"


def _printed_headers(output: str) -> dict[str, str]:
    """The headers as `curl $(gatekey sign …)` receives them: the output split on whitespace."""
    words = output.split()
    assert words[::2] == ["-H"] * len(SIGNING_HEADERS)
    return dict(header.split(":", 1) for header in words[1::2])


def _expected(headers: dict[str, str], method: str, raw_path: str, raw_query: str, body: bytes) -> dict[str, str]:
    return sign_request(
        key_id=headers[HEADER_KEY_ID],
        token=TOKEN,
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        body=body,
        timestamp=int(headers[HEADER_TIMESTAMP]),
        nonce=headers[HEADER_NONCE],
    )


@pytest.fixture
def token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEKEY_TOKEN", TOKEN)


@pytest.mark.usefixtures("token_in_environment")
def test_a_post_with_data_is_signed_as_curl_sends_it(capsys: pytest.CaptureFixture[str]) -> None:
    body = '{"name":"lamp"}'

    exit_code = main(["sign", "--data-binary", body, "http://127.0.0.1:8080/products/caf%C3%A9%20x?size=XL&q=a%2Fb"])

    headers = _printed_headers(capsys.readouterr().out)
    assert exit_code == 0
    assert list(headers) == list(SIGNING_HEADERS)
    assert headers == _expected(headers, "POST", "/products/caf%C3%A9%20x", "size=XL&q=a%2Fb", body.encode())
    assert abs(int(headers[HEADER_TIMESTAMP]) - time.time()) < 5
    assert NONCE_PATTERN.fullmatch(headers[HEADER_NONCE])


@pytest.mark.usefixtures("token_in_environment")
def test_the_key_id_comes_from_the_token_and_a_get_has_an_empty_body(capsys: pytest.CaptureFixture[str]) -> None:
    main(["sign", "https://api.example.com/dev/v1/me", "--base-path", "/dev"])

    headers = _printed_headers(capsys.readouterr().out)
    assert headers[HEADER_KEY_ID] == KEY_ID
    assert headers == _expected(headers, "GET", "/v1/me", "", b"")


@pytest.mark.usefixtures("token_in_environment")
def test_method_and_key_id_can_be_given(capsys: pytest.CaptureFixture[str]) -> None:
    other_key_id = "key_0000000000000000000000"

    main(["sign", "-X", "delete", "--key-id", other_key_id, "http://127.0.0.1:8080/products/42"])

    headers = _printed_headers(capsys.readouterr().out)
    assert headers[HEADER_KEY_ID] == other_key_id
    assert headers == _expected(headers, "DELETE", "/products/42", "", b"")


def test_the_body_and_the_token_can_come_from_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = b'{"name":"caf\xc3\xa9"}\n'
    (tmp_path / "body.json").write_bytes(body)
    (tmp_path / "token").write_text(TOKEN + "\n")

    exit_code = main(
        [
            "sign",
            "--data-binary",
            f"@{tmp_path / 'body.json'}",
            "--token-file",
            str(tmp_path / "token"),
            "-X",
            "PUT",
            "http://127.0.0.1:8080/products/42",
        ]
    )

    headers = _printed_headers(capsys.readouterr().out)
    assert exit_code == 0
    assert headers == _expected(headers, "PUT", "/products/42", "", body)


def test_no_token_is_exit_2_with_a_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GATEKEY_TOKEN", raising=False)

    exit_code = main(["sign", "http://127.0.0.1:8080/products"])

    output = capsys.readouterr()
    assert exit_code == 2
    assert output.out == ""
    assert output.err == "gatekey sign: no token: set $GATEKEY_TOKEN or pass --token-file FILE\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ftp://example.com/products"], "not an http(s) URL"),
        (["products"], "not an http(s) URL"),
        (["--data-binary", "@/nonexistent/body.json", "http://127.0.0.1:8080/products"], "cannot read the body file"),
        (["--token-file", "/nonexistent/token", "http://127.0.0.1:8080/products"], "cannot read the token file"),
        (["--base-path", "/dev", "http://127.0.0.1:8080/prod/products"], "does not start with the base path"),
        (["--key-id", "key with spaces", "http://127.0.0.1:8080/products"], "--key-id must be key_"),
    ],
)
@pytest.mark.usefixtures("token_in_environment")
def test_bad_input_is_exit_2_with_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(["sign", *arguments])

    error = capsys.readouterr().err
    assert exit_code == 2
    assert message in error
    assert error.count("\n") == 1


@pytest.mark.parametrize("token", ["not-a-token", TOKEN[:-1] + "b", "gk_test_" + "x" * 59])
def test_a_malformed_token_is_exit_2(
    token: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEKEY_TOKEN", token)

    exit_code = main(["sign", "http://127.0.0.1:8080/products"])

    output = capsys.readouterr()
    assert exit_code == 2
    assert output.out == ""
    assert output.err.startswith("gatekey sign: the token is not a Gatekey token")


def test_sign_runs_without_httpx_installed() -> None:
    program = (
        "import sys; sys.modules['httpx'] = None; from gatekey.cli import main; "
        "sys.exit(main(['sign', 'http://127.0.0.1:8080/products']))"
    )

    finished = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, "GATEKEY_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert _printed_headers(finished.stdout)[HEADER_KEY_ID] == KEY_ID
