"""Sends a second to one SQS FIFO queue over many message groups, queue-wide against per-group
locking (decision 0173: ``FifoThroughputLimit=perQueue`` against ``perMessageGroupId``).

    python -m bench.sqs_fifo_groups [--url postgresql+asyncpg://…] [--groups 32]
        [--messages 40] [--gateways 2]

Through the queue store (:class:`SqlQueueStore`), as every gateway's sends reach it: one
sender per group, each sending its messages one by one (a send is one transaction), spread
over ``--gateways`` database engines as over that many ``serve`` processes. The database is a
fresh SQLite file unless ``--url`` names a migrated PostgreSQL database. Prints sends/s of each
mode, best of ``--repeat`` runs, the modes alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from andromede.db.database import open_database
from andromede.db.migrate import upgrade
from andromede.queues.model import Queue
from andromede.queues.store import StoredMessage
from andromede.queues.store_sql import SqlQueueStore

NOW = datetime.now(UTC)


async def _run(url: str, groups: int, messages: int, gateways: int, per_group: bool) -> float:
    engines = [open_database(url) for _ in range(gateways)]
    stores = [SqlQueueStore(db) for db in engines]
    name = f"b{uuid.uuid4().hex[:12]}.fifo"
    attributes = {"FifoQueue": "true", "DeduplicationScope": "messageGroup"}
    attributes["FifoThroughputLimit"] = "perMessageGroupId" if per_group else "perQueue"
    await stores[0].create_queue(Queue("bench", name, "eu", attributes, NOW, NOW), limit=10**6)

    async def sender(store: SqlQueueStore, group: str) -> None:
        for n in range(messages):
            message = StoredMessage(
                uuid.uuid4().hex, b"x" * 64, NOW, NOW, NOW + timedelta(hours=1),
                group_key=group, dedup_key=f"{group}:{n}",
            )  # fmt: skip
            now = datetime.now(UTC)
            await store.send_fifo(
                "bench", name, [message], now, now + timedelta(minutes=5), per_group=per_group
            )

    try:
        started = time.perf_counter()
        await asyncio.gather(*(sender(stores[g % gateways], f"g{g}") for g in range(groups)))
        return groups * messages / (time.perf_counter() - started)
    finally:
        for db in engines:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--groups", type=int, default=32)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="andromede-bench-") as folder:
        url = args.url or f"sqlite+aiosqlite:///{Path(folder) / 'meta.db'}"
        if args.url is None:
            upgrade(url)
        # The modes alternate run after run, so that neither alone pays a cold database's
        # first commits (a fresh PostgreSQL cluster allocates its WAL segments then).
        best = {False: 0.0, True: 0.0}
        for _ in range(args.repeat):
            for per_group in (False, True):
                rate = asyncio.run(_run(url, args.groups, args.messages, args.gateways, per_group))
                best[per_group] = max(best[per_group], rate)
        for per_group, label in ((False, "perQueue"), (True, "perMessageGroupId")):
            print(
                f"{label:>18}: {best[per_group]:8.0f} sends/s "
                f"({args.groups} groups, {args.gateways} gateways)"
            )


if __name__ == "__main__":
    main()
