"""Hands the local gateway's access-log lines to the log-ingest handler, as CloudWatch Logs would: in batches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gatekey.local.events import ApiStage, LogDelivery, cloudwatch_logs_event

logger = logging.getLogger(__name__)
IngestHandler = Callable[[dict[str, Any], Any], object]

# CloudWatch Logs delivers to a subscription within about a second; so does this.
FLUSH_INTERVAL_SECONDS = 0.5
MAX_LINES_PER_DELIVERY = 1000


class AccessLogShipper:
    """Collects access-log lines (it is the gateway's `on_access_log`) and delivers them from a thread."""

    def __init__(self, ingest: IngestHandler, new_context: Callable[[], Any], api: ApiStage) -> None:
        self._ingest = ingest
        self._new_context = new_context  # a Lambda context per invocation
        self._delivery = LogDelivery(
            log_group=f"/aws/apigateway/gatekey-{api.stage}/access",
            log_stream="local",
            subscription_filter="gatekey-log-ingest",
            owner=api.account_id,
        )
        self._pending: list[tuple[int, str]] = []
        self._sent = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-log-shipper", daemon=True)

    def __call__(self, line: str) -> None:
        received_ms = int(time.time() * 1000)  # a log event's timestamp is when CloudWatch got the line
        with self._lock:
            self._pending.append((received_ms, line))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Deliver what is pending, then stop."""
        self._stopping.set()
        self._thread.join(timeout=10)
        self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending[:MAX_LINES_PER_DELIVERY], self._pending[MAX_LINES_PER_DELIVERY:]
        if not batch:
            return
        event = cloudwatch_logs_event(self._delivery, batch, first_id=self._sent)
        self._sent += len(batch)
        try:
            self._ingest(event, self._new_context())
        except Exception:
            # CloudWatch Logs would retry a failed delivery; locally the lines are reported and dropped.
            logger.exception("log ingest failed for %d access-log lines", len(batch))

    def _run(self) -> None:
        while not self._stopping.wait(FLUSH_INTERVAL_SECONDS):
            self.flush()
