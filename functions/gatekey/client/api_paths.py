"""The part of a URL path that is signed: the path relative to the API, without the stage or base path in front."""

from __future__ import annotations


def path_within_api(raw_path: str, base_path: str) -> str:
    """`raw_path` (as on the wire) without its leading `base_path`, e.g. `/dev/v1/me` → `/v1/me` for `/dev`."""
    base = "/" + base_path.strip("/") if base_path.strip("/") else ""
    if not base:
        return raw_path or "/"
    if raw_path == base:
        return "/"
    if raw_path.startswith(base + "/"):
        return raw_path[len(base) :]
    raise ValueError(
        f"the URL path {raw_path!r} does not start with the base path {base!r}; "
        "give the base path the URLs really carry (the API Gateway stage, e.g. '/dev'), or '' for none"
    )
