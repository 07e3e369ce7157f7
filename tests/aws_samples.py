"""The AWS event samples in `events/aws/` (as AWS sends them), for tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AWS_EVENTS = Path(__file__).resolve().parents[1] / "events" / "aws"


def aws_sample(name: str) -> dict[str, Any]:
    """A fresh copy of the sample `name` (e.g. `apiGatewayAuthorizerRequestEvent.json`)."""
    loaded: dict[str, Any] = json.loads((AWS_EVENTS / name).read_text())
    return loaded
