"""What every benchmark starts from: the embedded store set up as `gatekey serve` does, with the demo tenant."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gatekey.bootstrap import FoundedOrg
    from gatekey.domain.key_lifecycle import Caller


@dataclass(frozen=True)
class BenchStore:
    tenant: FoundedOrg
    admin: Caller  # the tenant's admin key, as the authorizer would vouch for it


@contextmanager
def bench_store() -> Iterator[BenchStore]:
    """Configures this process like a local-stage function, on a fresh embedded store (stopped on exit)."""
    from gatekey.settings import STAGES

    os.environ.update(STAGES["local"].as_environment())
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "gatekey")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Gatekey")

    from gatekey.bootstrap import found_org
    from gatekey.configuration import active_configuration
    from gatekey.domain.key_lifecycle import Caller
    from gatekey.local.embedded import (
        EmbeddedAws,
        create_missing_tables,
        ensure_event_routing,
        ensure_kms_keys,
        point_at_storage,
    )
    from gatekey.storage.tables import stage_table_names

    embedded = EmbeddedAws()
    tables = stage_table_names("bench")
    point_at_storage(embedded.start(), tables)
    try:
        create_missing_tables(tables)
        ensure_kms_keys("bench")
        ensure_event_routing("local")  # the bus the local stage's functions publish to
        tenant = found_org("Bench Store", "admin@bench.example", "Bench admin")
        admin = Caller(
            tenant.admin_key_id,
            tenant.org.org_id,
            tenant.admin.user_id,
            "main",
            active_configuration().catalog.everything(),
        )
        yield BenchStore(tenant, admin)
    finally:
        embedded.stop()
