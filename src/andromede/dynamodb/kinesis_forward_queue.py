"""The forwarding queue of Kinesis streaming destinations (decision 0262): the
:class:`ForwardQueue` half of the DynamoDB store, and its in-memory twin.

Each item change of a table with a capturing destination is queued **in the write's own
transaction** (as a stream's record is, decision 0246), numbered in the order its write
commits for that item. The forwarder takes the oldest of a table's queue, puts them into the
Kinesis streams and only then removes them: the queue is the forwarder's stored position, a
change is delivered at least once, and a restart (or another gateway taking the table's
lease over) resumes from the first change not removed. The queue is never shown as a
DynamoDB stream, and needs none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.dynamodb.streams import ChangeRecord

__all__ = ["ForwardQueue", "MemoryForwardQueue", "QueuedChange", "queued_form"]


@dataclass(frozen=True, slots=True)
class QueuedChange:
    number: int
    change: ChangeRecord


def queued_form(record: ChangeRecord) -> ChangeRecord:
    """What the queue keeps of a change: its two sealed rows (``forward_old``, ``version``),
    a time-to-live deletion's old row being its ``old_sealed``; never the stream's images."""
    if record.by_service and not record.forwarded:
        old, old_size, new, new_size = record.old_sealed, record.size, None, 0
    else:
        old, old_size = record.forward_old, record.forward_old_size
        new, new_size = record.version, record.version_size
    return ChangeRecord(
        event=record.event,
        hash_token=record.hash_token,
        sort_token=record.sort_token,
        old_sealed=None,
        new_sealed=None,
        size=0,
        created=record.created,
        by_service=record.by_service,
        version=new,
        version_size=new_size,
        forwarded=True,
        forward_old=old,
        forward_old_size=old_size,
    )


class ForwardQueue(Protocol):
    async def queued_tables(self, limit: int) -> list[tuple[str, str]]:
        """(account, table) of the queues holding changes, at most ``limit``."""
        ...

    async def take_lease(
        self, tenant_id: str, table_name: str, owner: str, now: int, until: int
    ) -> bool:
        """The table's forwarding leased to ``owner`` until ``until`` (ms) if its lease ran
        out by ``now`` or is ``owner``'s already: one forwarder per table across gateways."""
        ...

    async def queued(self, tenant_id: str, table_name: str, limit: int) -> list[QueuedChange]:
        """The table's oldest queued changes, in order, at most ``limit``."""
        ...

    async def dequeue(self, tenant_id: str, table_name: str, numbers: Sequence[int]) -> None:
        """The table's queued changes of those ``numbers`` removed (delivered): by number,
        not below a bound, since on PostgreSQL a change numbered lower may commit later."""
        ...

    async def drop_queue(self, tenant_id: str, table_name: str) -> None: ...


class MemoryForwardQueue:
    """The queue in memory: a mixin of the in-memory DynamoDB store (whose constructor does
    not call its bases', hence the state made on first use)."""

    _forwards: dict[tuple[str, str], list[QueuedChange]]
    _forward_leases: dict[tuple[str, str], tuple[str, int]]
    _forward_numbers: int

    def _forward_state(self) -> None:
        if not hasattr(self, "_forwards"):
            self._forwards, self._forward_leases, self._forward_numbers = {}, {}, 0

    def _queue_forward(self, tenant_id: str, table_name: str, change: ChangeRecord) -> None:
        self._forward_state()
        self._forward_numbers += 1
        queued = QueuedChange(self._forward_numbers, queued_form(change))
        self._forwards.setdefault((tenant_id, table_name), []).append(queued)

    async def queued_tables(self, limit: int) -> list[tuple[str, str]]:
        self._forward_state()
        return [key for key, held in self._forwards.items() if held][:limit]

    async def take_lease(
        self, tenant_id: str, table_name: str, owner: str, now: int, until: int
    ) -> bool:
        self._forward_state()
        held = self._forward_leases.get((tenant_id, table_name))
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._forward_leases[(tenant_id, table_name)] = (owner, until)
        return True

    async def queued(self, tenant_id: str, table_name: str, limit: int) -> list[QueuedChange]:
        self._forward_state()
        return list(self._forwards.get((tenant_id, table_name), [])[:limit])

    async def dequeue(self, tenant_id: str, table_name: str, numbers: Sequence[int]) -> None:
        self._forward_state()
        held, gone = self._forwards.get((tenant_id, table_name), []), set(numbers)
        self._forwards[(tenant_id, table_name)] = [q for q in held if q.number not in gone]

    async def drop_queue(self, tenant_id: str, table_name: str) -> None:
        self._forward_state()
        self._forwards.pop((tenant_id, table_name), None)
        self._forward_leases.pop((tenant_id, table_name), None)

    def _forget_forwards(self, tenant_id: str) -> None:
        self._forward_state()
        for key in [k for k in self._forwards if k[0] == tenant_id]:
            del self._forwards[key]
        for key in [k for k in self._forward_leases if k[0] == tenant_id]:
            del self._forward_leases[key]
