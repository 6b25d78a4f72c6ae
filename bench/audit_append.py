"""What the audit flush costs per batch of 1000 events on SQLite: the background task's one
append, before and after the transparency log (decision 0105).

``python -m bench.audit_append [--batches N] [--tenants T]`` appends N batches of 1000 events
(spread over T tenants' logs, plus the platform's) to a migrated SQLite database in a temporary
folder through the store the server uses, and prints the median and the 90th percentile
milliseconds per batch. It runs on whichever source tree is first on ``PYTHONPATH``: the store
before 0105 (``andromede.audit.store.SqlAuditStore``, one plain insert) or after it
(``andromede.audit.store_sql.SqlAuditStore``: entries, perfect subtree heads, tree heads).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from andromede.audit.model import AuditEvent, Outcome
from andromede.db.database import open_database
from andromede.db.migrate import upgrade

BATCH = 1000


def _store_class() -> Any:
    try:
        from andromede.audit.store_sql import SqlAuditStore  # after decision 0105
    except ImportError:
        from andromede.audit.store import SqlAuditStore  # type: ignore[attr-defined,no-redef]
    return SqlAuditStore


def _batch(number: int, tenants: int) -> list[AuditEvent]:
    now = datetime.now(UTC)
    return [
        AuditEvent(
            occurred_at=now,
            request_id=f"{number:08X}{i:08X}",
            tenant_id=None
            if i % (tenants + 1) == tenants
            else f"{100000000000 + i % (tenants + 1)}",
            principal="arn:aws:iam::100000000000:root",
            action="s3:PutObject",
            resource=f"arn:aws:s3:::bucket/key-{number}-{i}",
            outcome=Outcome.SUCCESS,
            details={"operation": "PutObject", "status": "200"},
        )
        for i in range(BATCH)
    ]


async def _run(batches: int, tenants: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'meta.db'}"
        upgrade(url)
        db = open_database(url)
        store = _store_class()(db)
        timings = []
        try:
            for number in range(batches):
                events = _batch(number, tenants)
                started = time.perf_counter()
                await store.append(events)
                timings.append((time.perf_counter() - started) * 1000)
        finally:
            await db.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--tenants", type=int, default=3)
    args = parser.parse_args()
    timings = asyncio.run(_run(args.batches, args.tenants))
    steady = timings[1:] or timings  # the first batch also warms the caches
    p90 = statistics.quantiles(steady, n=10)[-1] if len(steady) > 1 else steady[0]
    print(
        f"{_store_class().__module__}: {len(timings)} batches of {BATCH} events: "
        f"median {statistics.median(steady):.1f} ms, p90 {p90:.1f} ms per batch"
    )


if __name__ == "__main__":
    main()
