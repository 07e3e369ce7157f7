"""The console's pages (DESIGN §12): static files of `gatekey/console/`, served by the management API on its own
origin under `/dashboard/`, with a content security policy that lets them load nothing from anywhere else."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
CONSOLE_FILES = resources.files("gatekey") / "console"
ENTRY_PAGE = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# A file name of the console's one directory, and nothing else (no path, no dot-file).
_FILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}(\.[a-z0-9]{1,8}){1,2}")
SECURITY_HEADERS = {
    # Everything from this origin only; no inline script or style; no framing, no <base>, forms post here only.
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Pages change with each deployment: the browser checks again rather than keep an old copy.
    "Cache-Control": "no-cache",
}


@lru_cache(maxsize=64)
def console_file(name: str) -> tuple[bytes, str] | None:
    """A console file's bytes and content type; None for any name that is not one of its files."""
    content_type = CONTENT_TYPES.get(name[name.rfind(".") :]) if _FILE_NAME.fullmatch(name) else None
    if content_type is None:
        return None
    file = CONSOLE_FILES / name
    return (file.read_bytes(), content_type) if file.is_file() else None


def _page(name: str) -> Response[bytes | str]:
    found = console_file(name)
    if found is None:
        return Response(
            status_code=404,
            content_type="text/plain; charset=utf-8",
            body="No such page of the console.",
            headers=SECURITY_HEADERS,
        )
    body, content_type = found
    text = content_type.startswith("text/") or content_type == "image/svg+xml"
    return Response(
        status_code=200,
        content_type=content_type,
        body=body.decode() if text else body,
        headers=SECURITY_HEADERS,
    )


@router.get("/dashboard", include_in_schema=False)  # Powertools' rules match with or without the final slash
def console_entry() -> Response[bytes | str]:
    """`/dashboard/` is the console's first page; `/dashboard` sends the browser there (relatively, so the stage's
    path prefix stays)."""
    path = router.current_event.path
    if path.endswith("/"):
        return _page(ENTRY_PAGE)
    return Response(status_code=302, body="", headers={**SECURITY_HEADERS, "Location": "dashboard/"})


@router.get("/dashboard/<name>", include_in_schema=False)
def console_page(name: str) -> Response[bytes | str]:
    return _page(name)
