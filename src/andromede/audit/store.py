"""The audit store interface and its in-memory twin (the SQL store is ``store_sql``).

A store keeps the transparency logs (decision 0105): each event is appended, as its canonical
entry, to its tenant's log or to the platform's, and the log's Merkle tree advances in the same
transaction (``append``). Besides the leaves it keeps the head of every perfect subtree, so a
tree head at any size and any proof are folds of O(log n) stored hashes (``node_hashes``; the
arithmetic is :mod:`andromede.audit.merkle`'s, the assembling :mod:`andromede.audit.trail`'s).
Stored nodes never change once written, so they may be read outside the append's transaction.

Retention (``prune``, decision 0107) removes the text of a log's oldest entries — a prefix,
``pruned_size`` long — and keeps their leaf hashes and every node: tree heads and proofs are
unchanged, and a trail carries the heads of the pruned prefix's perfect subtrees instead of
its entries. Entries are appended in time order, so the prefix older than the cut is found by
bisecting on the entries' times (two gateways' batches interleave within a flush interval).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from andromede.audit.merkle import EMPTY_ROOT, Node, append_leaves, fold, leaf_hash
from andromede.audit.model import AuditEvent, TreeHead, entry_text, log_of, parse_entry

__all__ = ["AuditStore", "MemoryAuditStore", "NodeKey", "first_not_before"]

NodeKey = tuple[int, int]  # (level, index) of a perfect subtree


class AuditStore(Protocol):
    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Append in order, each to its log, advancing each log's tree, in one transaction."""

    async def list_events(
        self, tenant_id: str | None, *, after_id: int, limit: int
    ) -> list[tuple[int, AuditEvent]]:
        """Events in the order appended, every log's (``tenant_id`` None) or one tenant's,
        numbered by an id that grows across logs."""

    async def log_ids(self) -> list[str]:
        """Every log that has entries, by id (the witnesses are asked about each)."""

    async def tree_head(self, log: str) -> TreeHead:
        """The log's latest tree (size 0 and the empty root for a log never written)."""

    async def entries(self, log: str, start: int, end: int) -> list[str]:
        """The entries at indexes ``[start, end)`` of the log (fewer past its end)."""

    async def node_hashes(self, log: str, nodes: Collection[NodeKey]) -> dict[NodeKey, bytes]:
        """The heads of the perfect subtrees asked for that exist."""

    async def pruned_size(self, log: str) -> int:
        """How many of the log's first entries retention pruned (their text is gone)."""

    async def prune(self, before: datetime) -> int:
        """Prune every log's entries that occurred before ``before``; how many were pruned."""


async def first_not_before(
    start: int, end: int, occurred: Callable[[int], Awaitable[datetime]], before: datetime
) -> int:
    """The first index of ``[start, end)`` whose entry occurred at ``before`` or later (``end``
    if none), by bisection over entries in time order."""
    low, high = start, end
    while low < high:
        middle = (low + high) // 2
        if await occurred(middle) < before:
            low = middle + 1
        else:
            high = middle
    return low


@dataclass(slots=True)
class _Log:
    entries: list[str | None] = field(default_factory=list)  # None: pruned
    nodes: dict[NodeKey, bytes] = field(default_factory=dict)
    frontier: list[Node] = field(default_factory=list)
    pruned: int = 0


class MemoryAuditStore:
    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._logs: dict[str, _Log] = {}
        self._ids: dict[tuple[str, int], int] = {}  # (log, leaf index) → event id
        self._pruned_ids: set[int] = set()

    async def append(self, events: Sequence[AuditEvent]) -> None:
        for event in events:
            log = self._logs.setdefault(log_of(event.tenant_id), _Log())
            text = entry_text(event)
            made, log.frontier = append_leaves(
                log.frontier, len(log.entries), [leaf_hash(text.encode())]
            )
            self._ids[(log_of(event.tenant_id), len(log.entries))] = len(self._events) + 1
            log.entries.append(text)
            log.nodes.update({(n.level, n.index): n.hash for n in made})
            # Kept as read back from its entry, as the SQL store lists it.
            self._events.append(parse_entry(text))

    async def list_events(
        self, tenant_id: str | None, *, after_id: int, limit: int
    ) -> list[tuple[int, AuditEvent]]:
        numbered = list(enumerate(self._events, start=1))
        return [
            (i, e)
            for i, e in numbered
            if i > after_id
            and i not in self._pruned_ids
            and (tenant_id is None or e.tenant_id == tenant_id)
        ][:limit]

    async def log_ids(self) -> list[str]:
        return sorted(name for name, log in self._logs.items() if log.entries)

    async def tree_head(self, log: str) -> TreeHead:
        found = self._logs.get(log)
        if found is None:
            return TreeHead(0, EMPTY_ROOT)
        return TreeHead(len(found.entries), fold([n.hash for n in found.frontier]))

    async def entries(self, log: str, start: int, end: int) -> list[str]:
        found = self._logs.get(log)
        return [] if found is None else [e for e in found.entries[start:end] if e is not None]

    async def node_hashes(self, log: str, nodes: Collection[NodeKey]) -> dict[NodeKey, bytes]:
        found = self._logs.get(log)
        if found is None:
            return {}
        return {key: found.nodes[key] for key in nodes if key in found.nodes}

    async def pruned_size(self, log: str) -> int:
        found = self._logs.get(log)
        return 0 if found is None else found.pruned

    async def prune(self, before: datetime) -> int:
        count = 0
        for log_id, log in self._logs.items():

            async def occurred(index: int, log: _Log = log) -> datetime:
                return parse_entry(log.entries[index] or "").occurred_at

            cut = await first_not_before(log.pruned, len(log.entries), occurred, before)
            for index in range(log.pruned, cut):
                log.entries[index] = None
                self._pruned_ids.add(self._ids[(log_id, index)])
            count += cut - log.pruned
            log.pruned = cut
        return count
