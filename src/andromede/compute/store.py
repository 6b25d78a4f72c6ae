"""Persistence of the compute records: the :class:`ComputeStore` protocol.

One store for every kind of record (instances, volumes, snapshots, images, key pairs, security
groups, import tasks), addressed by the record's class and id: the records share one shape
(an id, an owning tenant, a revision, a format version) and the service never needs a join.
Implementations: :class:`andromede.compute.store_memory.MemoryComputeStore` (tests) and
:class:`andromede.compute.store_sql.SqlComputeStore` (SQLite, PostgreSQL), held to one contract
suite (``tests/contract/test_compute_store.py``).

Writes are optimistic: :meth:`ComputeStore.replace` names the revision the new record was
computed from and returns False, changing nothing, when another writer got there first.
:meth:`ComputeStore.insert` writes all its records or none (RunInstances never half-creates).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from andromede.compute.model import (
    Image,
    ImportTask,
    Instance,
    KeyPair,
    SecurityGroup,
    Snapshot,
    Volume,
)
from andromede.compute.network import NetworkInterface, Subnet, Vpc

__all__ = ["RECORD_TYPES", "ComputeStore", "Record", "RecordT"]

Record = (
    Instance
    | Volume
    | Snapshot
    | Image
    | KeyPair
    | SecurityGroup
    | ImportTask
    | Vpc
    | Subnet
    | NetworkInterface
)
RecordT = TypeVar("RecordT", bound=Record)

RECORD_TYPES: tuple[type[Record], ...] = (
    Instance,
    Volume,
    Snapshot,
    Image,
    KeyPair,
    SecurityGroup,
    ImportTask,
    Vpc,
    Subnet,
    NetworkInterface,
)


class ComputeStore(Protocol):
    async def insert(self, *records: Record) -> None:
        """Add new records, all or none; Duplicate if an id is taken, or — for network
        interfaces — if their (subnet, private address) or their MAC is."""
        ...

    async def get(self, kind: type[RecordT], resource_id: str) -> RecordT | None: ...

    async def list(self, kind: type[RecordT], tenant_id: str | None) -> list[RecordT]:
        """The tenant's records of ``kind`` in id order; with ``tenant_id`` None, every
        tenant's (the scheduler's and the reconciler's view). For images, public images
        (no owner) are listed with every tenant's own."""
        ...

    async def replace(self, record: Record) -> bool:
        """Store ``record`` (whose ``revision`` is the one it was read at) with the revision
        incremented; False if the stored revision moved on or the record is gone."""
        ...

    async def delete(self, kind: type[Record], resource_id: str) -> None:
        """Idempotent."""
        ...
