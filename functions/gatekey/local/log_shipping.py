"""Hands the local gateway's access-log lines to the log-ingest handler, as CloudWatch Logs would: in batches,
invoked asynchronously, so a delivery that fails is retried and then kept in log ingest's on-failure queue (from
which `gatekey redrive-logs` replays it), never dropped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gatekey.local.background import AsynchronousInvocations
from gatekey.local.events import ApiStage, LogDelivery, cloudwatch_logs_event

logger = logging.getLogger(__name__)
IngestHandler = Callable[[dict[str, Any], Any], object]

# CloudWatch Logs delivers to a subscription within about a second; so does this.
FLUSH_INTERVAL_SECONDS = 0.5
MAX_LINES_PER_DELIVERY = 1000


class AccessLogShipper:
    """Collects access-log lines (it is the gateway's `on_access_log`) and delivers them from a thread."""

    def __init__(
        self, ingest: IngestHandler, new_context: Callable[[], Any], api: ApiStage, on_failure_queue_url: str
    ) -> None:
        self._ingest = AsynchronousInvocations("log ingest", ingest, new_context, on_failure_queue_url)
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
        """Deliver what is pending and give failed deliveries their last attempt, then stop."""
        self._stopping.set()
        self._thread.join(timeout=10)
        self.flush()
        self._ingest.finish()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending[:MAX_LINES_PER_DELIVERY], self._pending[MAX_LINES_PER_DELIVERY:]
        if not batch:
            return
        event = cloudwatch_logs_event(self._delivery, batch, first_id=self._sent)
        self._sent += len(batch)
        self._ingest.invoke(event)

    def _run(self) -> None:
        while not self._stopping.wait(FLUSH_INTERVAL_SECONDS):
            try:
                self._ingest.invoke_due_retries()
                self.flush()
            except Exception:
                logger.exception("shipping access-log lines failed; going on")
