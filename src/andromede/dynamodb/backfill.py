"""An index added by UpdateTable filled from the table's items (decision 0254): CREATING
(``Backfilling`` true) from the call on, ACTIVE once every item held has its entry.

The index is written by every write from the moment UpdateTable adds it; the backfill then
rewrites each item's entries page by page (``DynamoService.refill``: an item written meanwhile
already has its entry, rewriting it again changes nothing) and marks the index filled. It
runs outside the call, in a task every ``serve`` runs: woken when an index is added, and
every ``dynamodb_ttl_interval`` over the tables the store says still backfill, so an index
whose gateway stopped mid-way is filled by the next one (from the start: a refill is
idempotent). Two gateways filling the same index do the same work twice, nothing worse.
A query or scan of a CREATING index is refused, as AWS refuses it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from andromede.dynamodb.errors import TableInUse, ValidationError
from andromede.dynamodb.model import SecondaryIndex
from andromede.dynamodb.service import DynamoService
from andromede.wakeup import set_within

__all__ = ["IndexBackfill", "check_readable"]

_ATTEMPTS = 8
log = logging.getLogger(__name__)


def check_readable(index: SecondaryIndex) -> None:
    """AWS's refusal of a read of an index still backfilling."""
    if index.backfilling:
        raise ValidationError(f"Cannot read from backfilling global secondary index: {index.name}")


class IndexBackfill:
    def __init__(self, dynamodb: DynamoService) -> None:
        self._dynamodb = dynamodb
        self._wake = asyncio.Event()
        dynamodb.index_added = self._wake.set

    async def run_once(self) -> int:
        """Every table with an index to fill filled; how many indexes became ACTIVE."""
        filled = 0
        for tenant_id, name in await self._dynamodb.store.backfilling_tables():
            filled += await self.fill(tenant_id, name)
        return filled

    async def fill(self, tenant_id: str, name: str) -> int:
        store = self._dynamodb.store
        table = await store.get_table(tenant_id, name)
        if table is None:
            return 0
        pending = {i.name: i for i in table.indexes if i.backfilling}
        if not pending:
            return 0
        await self._dynamodb.refill(table)
        for _ in range(_ATTEMPTS):  # another change of the table may come between
            current = await store.get_table(tenant_id, name)
            if current is None:
                return 0
            done = [i.name for i in current.indexes if i.backfilling and pending.get(i.name) == i]
            if not done:
                return 0
            indexes = tuple(
                dataclasses.replace(i, backfilling=False) if i.name in done else i
                for i in current.indexes
            )
            try:
                await self._dynamodb.change_table(current, indexes=indexes)
            except TableInUse:
                continue
            return len(done)
        return 0

    async def forever(self, interval: float) -> None:
        """Woken by an index added, or every ``interval`` seconds (an index left by a
        stopped gateway); a failed round is logged and tried again."""
        while True:
            await set_within(self._wake, interval)
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("DynamoDB index backfill failed")
