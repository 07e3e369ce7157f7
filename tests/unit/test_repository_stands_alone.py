"""The repository stands alone: no file of it reads or links anything beside it (a clone is all a user has)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = ("../shared", "/shared/", "DESIGN.md")


def test_no_tracked_file_reaches_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    reaching_out = []
    for name in tracked:
        path = REPO / name
        if name == "tests/unit/test_repository_stands_alone.py" or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        reaching_out += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert not reaching_out, reaching_out


def test_the_aws_event_samples_are_in_the_repository() -> None:
    samples = sorted(path.name for path in (REPO / "events" / "aws").glob("*.json"))
    assert samples == [
        "apiGatewayAuthorizerRequestEvent.json",
        "apiGatewayProxyEvent.json",
        "cloudWatchLogEvent.json",
        "eventBridgeEvent.json",
        "eventBridgeScheduledEvent.json",
    ]
