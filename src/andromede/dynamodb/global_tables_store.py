"""Where DynamoDB global tables' replication state is kept (decision 0265): the
:class:`ReplicationStore` interface and its in-memory twin (the SQL one is
``dynamodb.global_tables_store_sql``; one contract suite for both).

- **Members**: the regions of each global table, and per region the position its
  replicator reached in that region's stream (label, next sequence number): a restart or a
  takeover resumes there.
- **A lease** per global table: one replicator (one gateway) forwards its changes at a time.
- **Item clocks**: per region and item, the write that holds it — its time (ms), the
  region it was made in, and the SHA-256 of the sealed row it left (empty: it deleted the
  item). Last writer wins by (time, region); a row that is not the clock's is a local write
  the replicator has not read yet.
- **Applied writes**: the digests of the rows the replicator itself wrote into a region
  (``del:`` and the digest of the row it removed, for a delete); the record such a write
  leaves in that region's stream is recognised by it and never replicated again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ItemClock", "MemoryReplicationStore", "ReplicationStore"]


@dataclass(frozen=True, slots=True)
class ItemClock:
    time: int  # ms
    origin: str  # the region the write was made in
    row: bytes  # SHA-256 of the sealed row it left; b"" when it deleted the item

    def beats(self, other: ItemClock) -> bool:
        """Last writer wins: the later time, then the greater region name on a tie."""
        return (self.time, self.origin) > (other.time, other.origin)


_Item = tuple[str, str, str, bytes, bytes]  # (account, table, region, hash, sort)


class ReplicationStore(Protocol):
    async def join(self, tenant_id: str, name: str, region: str, label: str, at: int) -> None:
        """``region`` a member of the global table, its replication starting at sequence
        ``at`` of its stream ``label`` (its position replaced if it was one)."""
        ...

    async def leave(self, tenant_id: str, name: str, region: str) -> None:
        """``region`` no longer a member: its position, clocks and applied writes dropped."""
        ...

    async def members(self, tenant_id: str, name: str) -> dict[str, tuple[str, int]]:
        """Each member region's position (stream label, next sequence)."""
        ...

    async def global_tables(self, limit: int) -> list[tuple[str, str]]:
        """(account, table) of the global tables, at most ``limit``."""
        ...

    async def set_position(
        self, tenant_id: str, name: str, region: str, label: str, sequence: int
    ) -> None: ...

    async def take_lease(self, tenant_id: str, name: str, owner: str, now: int, until: int) -> bool:
        """The table's replication leased to ``owner`` until ``until`` (ms) if its lease ran
        out by ``now`` or is ``owner``'s already."""
        ...

    async def clock(
        self, tenant_id: str, name: str, region: str, hash_token: bytes, sort_token: bytes
    ) -> ItemClock | None: ...

    async def set_clock(
        self,
        tenant_id: str,
        name: str,
        region: str,
        hash_token: bytes,
        sort_token: bytes,
        clock: ItemClock,
    ) -> None: ...

    async def mark_applied(
        self, tenant_id: str, name: str, region: str, digest: bytes, at: int
    ) -> None: ...

    async def is_applied(self, tenant_id: str, name: str, region: str, digest: bytes) -> bool:
        """Whether ``digest`` is marked applied in ``region``."""
        ...

    async def take_applied(self, tenant_id: str, name: str, region: str, digest: bytes) -> bool:
        """Whether ``digest`` was marked applied in ``region`` (and it is no longer)."""
        ...

    async def prune_applied(self, before: int) -> int:
        """Applied writes marked before ``before`` (ms) forgotten (their records are past the
        stream's retention, or were never written: a write that changed nothing)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> None: ...


class MemoryReplicationStore:
    def __init__(self) -> None:
        self._members: dict[tuple[str, str], dict[str, tuple[str, int]]] = defaultdict(dict)
        self._leases: dict[tuple[str, str], tuple[str, int]] = {}
        self._clocks: dict[_Item, ItemClock] = {}
        self._applied: dict[tuple[str, str, str, bytes], int] = {}

    async def join(self, tenant_id: str, name: str, region: str, label: str, at: int) -> None:
        self._members[(tenant_id, name)][region] = (label, at)

    async def leave(self, tenant_id: str, name: str, region: str) -> None:
        held = self._members.get((tenant_id, name), {})
        held.pop(region, None)
        if not held:
            self._members.pop((tenant_id, name), None)
            self._leases.pop((tenant_id, name), None)
        for key in [k for k in self._clocks if k[:3] == (tenant_id, name, region)]:
            del self._clocks[key]
        for gone in [k for k in self._applied if k[:3] == (tenant_id, name, region)]:
            del self._applied[gone]

    async def members(self, tenant_id: str, name: str) -> dict[str, tuple[str, int]]:
        return dict(self._members.get((tenant_id, name), {}))

    async def global_tables(self, limit: int) -> list[tuple[str, str]]:
        return sorted(k for k, v in self._members.items() if v)[:limit]

    async def set_position(
        self, tenant_id: str, name: str, region: str, label: str, sequence: int
    ) -> None:
        held = self._members.get((tenant_id, name))
        if held is not None and region in held:
            held[region] = (label, sequence)

    async def take_lease(self, tenant_id: str, name: str, owner: str, now: int, until: int) -> bool:
        held = self._leases.get((tenant_id, name))
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._leases[(tenant_id, name)] = (owner, until)
        return True

    async def clock(
        self, tenant_id: str, name: str, region: str, hash_token: bytes, sort_token: bytes
    ) -> ItemClock | None:
        return self._clocks.get((tenant_id, name, region, hash_token, sort_token))

    async def set_clock(
        self,
        tenant_id: str,
        name: str,
        region: str,
        hash_token: bytes,
        sort_token: bytes,
        clock: ItemClock,
    ) -> None:
        self._clocks[(tenant_id, name, region, hash_token, sort_token)] = clock

    async def mark_applied(
        self, tenant_id: str, name: str, region: str, digest: bytes, at: int
    ) -> None:
        self._applied[(tenant_id, name, region, digest)] = at

    async def is_applied(self, tenant_id: str, name: str, region: str, digest: bytes) -> bool:
        return (tenant_id, name, region, digest) in self._applied

    async def take_applied(self, tenant_id: str, name: str, region: str, digest: bytes) -> bool:
        return self._applied.pop((tenant_id, name, region, digest), None) is not None

    async def prune_applied(self, before: int) -> int:
        gone = [k for k, at in self._applied.items() if at < before]
        for key in gone:
            del self._applied[key]
        return len(gone)

    async def forget_tenant(self, tenant_id: str) -> None:
        self._members = defaultdict(
            dict, {k: v for k, v in self._members.items() if k[0] != tenant_id}
        )
        self._leases = {k: v for k, v in self._leases.items() if k[0] != tenant_id}
        self._clocks = {k: v for k, v in self._clocks.items() if k[0] != tenant_id}
        self._applied = {k: v for k, v in self._applied.items() if k[0] != tenant_id}
