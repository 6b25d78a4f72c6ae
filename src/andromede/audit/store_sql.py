"""The audit store over the metadata database (SQLite or PostgreSQL), tables of migration 0040.

An append locks each log's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writer is one
``BEGIN IMMEDIATE`` transaction at a time anyway), in log id order so that two gateways
appending to the same logs never deadlock, reads the log's frontier (at most one stored node
per bit of its size), then writes the entries, the new perfect subtrees and the new head in
the same transaction: two gateways never fork a tree, and a crash leaves the batch either
wholly in the logs or not at all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.audit.errors import SigningKeyMismatch
from andromede.audit.merkle import (
    EMPTY_ROOT,
    Node,
    append_leaves,
    fold,
    leaf_hash,
    perfect_subtrees,
)
from andromede.audit.model import AuditEvent, TreeHead, entry_text, log_of, parse_entry
from andromede.audit.store import NodeKey, first_not_before
from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict

__all__ = [
    "SqlAuditStore",
    "claim_signing_key",
    "register_signing_key",
    "registered_signing_key",
]

_L = tables.audit_logs
_E = tables.audit_log_entries
_N = tables.audit_log_nodes
_NEW_LOG = InsertIgnoringConflict(_L, ["log_id"])
# Node reads name at most a few dozen (level, index) pairs; chunked below this many.
_NODES_PER_QUERY = 200
# Entries pruned per transaction: a first prune of a long log never holds the writer long.
_PRUNE_BATCH = 5000


class SqlAuditStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        texts = [entry_text(e) for e in events]
        logs = [log_of(e.tenant_id) for e in events]
        now = datetime.now(UTC)
        await self._db.write(lambda conn: _append(conn, texts, logs, now))

    async def list_events(
        self, tenant_id: str | None, *, after_id: int, limit: int
    ) -> list[tuple[int, AuditEvent]]:
        query = (
            sa.select(_E.c.id, _E.c.entry)
            .where(_E.c.id > after_id, _E.c.entry.is_not(None))
            .order_by(_E.c.id)
        )
        if tenant_id is not None:
            query = query.where(_E.c.log_id == tenant_id)
        query = query.limit(limit)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).all())

        return [(int(r.id), parse_entry(r.entry)) for r in await self._db.read(work)]

    async def log_ids(self) -> list[str]:
        query = sa.select(_L.c.log_id).where(_L.c.size > 0).order_by(_L.c.log_id)

        def work(conn: Connection) -> list[str]:
            return [str(row.log_id) for row in conn.execute(query)]

        return await self._db.read(work)

    async def tree_head(self, log: str) -> TreeHead:
        query = sa.select(_L.c.size, _L.c.root_hash).where(_L.c.log_id == log)

        def work(conn: Connection) -> Any:
            return conn.execute(query).first()

        row = await self._db.read(work)
        return TreeHead(0, EMPTY_ROOT) if row is None else TreeHead(int(row.size), row.root_hash)

    async def entries(self, log: str, start: int, end: int) -> list[str]:
        query = (
            sa.select(_E.c.entry)
            .where(_E.c.log_id == log, _E.c.leaf_index >= start, _E.c.leaf_index < end)
            .order_by(_E.c.leaf_index)
        )

        def work(conn: Connection) -> list[str]:
            return [str(r.entry) for r in conn.execute(query)]

        return await self._db.read(work)

    async def node_hashes(self, log: str, nodes: Collection[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = sorted(set(nodes))
        if not wanted:
            return {}
        return await self._db.read(lambda conn: _read_nodes(conn, log, wanted))

    async def pruned_size(self, log: str) -> int:
        query = sa.select(_L.c.pruned_size).where(_L.c.log_id == log)

        def work(conn: Connection) -> int | None:
            return conn.execute(query).scalar()

        found = await self._db.read(work)
        return 0 if found is None else int(found)

    async def prune(self, before: datetime) -> int:
        """Per log: bisect for the cut on the entries' times, then NULL the text below it in
        transactions of ``_PRUNE_BATCH`` entries, each advancing ``pruned_size`` with them."""
        query = sa.select(_L.c.log_id, _L.c.size, _L.c.pruned_size)

        def logs(conn: Connection) -> list[Any]:
            return list(conn.execute(query).all())

        count = 0
        for row in await self._db.read(logs):
            log, pruned = str(row.log_id), int(row.pruned_size)

            async def occurred(index: int, log: str = log) -> datetime:
                (text,) = await self.entries(log, index, index + 1)
                return parse_entry(text).occurred_at

            cut = await first_not_before(pruned, int(row.size), occurred, before)
            while pruned < cut:
                upto = min(cut, pruned + _PRUNE_BATCH)
                await self._db.write(partial(_prune, log=log, low=pruned, high=upto))
                count += upto - pruned
                pruned = upto
        return count


def _prune(conn: Connection, *, log: str, low: int, high: int) -> None:
    conn.execute(
        _E.update()
        .where(_E.c.log_id == log, _E.c.leaf_index >= low, _E.c.leaf_index < high)
        .values(entry=None)
    )
    # Never backwards: another gateway's prune of the same log may have gone further.
    conn.execute(
        _L.update().where(_L.c.log_id == log, _L.c.pruned_size < high).values(pruned_size=high)
    )


def _read_nodes(conn: Connection, log: str, wanted: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
    """Leaf hashes (level 0) from the entries, the other heads from the nodes."""
    found: dict[NodeKey, bytes] = {}
    leaves = [index for level, index in wanted if level == 0]
    inner = [key for key in wanted if key[0] > 0]
    for offset in range(0, len(leaves), _NODES_PER_QUERY):
        query = sa.select(_E.c.leaf_index, _E.c.leaf_hash).where(
            _E.c.log_id == log, _E.c.leaf_index.in_(leaves[offset : offset + _NODES_PER_QUERY])
        )
        found.update({(0, int(r.leaf_index)): r.leaf_hash for r in conn.execute(query)})
    for offset in range(0, len(inner), _NODES_PER_QUERY):
        chunk = inner[offset : offset + _NODES_PER_QUERY]
        query = sa.select(_N.c.level, _N.c.node_index, _N.c.hash).where(
            _N.c.log_id == log, sa.tuple_(_N.c.level, _N.c.node_index).in_(chunk)
        )
        found.update({(int(r.level), int(r.node_index)): r.hash for r in conn.execute(query)})
    return found


def _append(conn: Connection, texts: Sequence[str], logs: Sequence[str], now: datetime) -> None:
    sizes: dict[str, int] = {}
    for log in sorted(set(logs)):  # one lock order for every gateway: no deadlock
        _NEW_LOG(conn, {"log_id": log, "size": 0, "root_hash": EMPTY_ROOT, "updated_at": now})
        lock = sa.select(_L.c.size).where(_L.c.log_id == log).with_for_update()
        sizes[log] = int(conn.execute(lock).scalar_one())
    rows: list[dict[str, Any]] = []
    leaves: dict[str, list[bytes]] = {log: [] for log in sizes}
    next_index = dict(sizes)
    for text, log in zip(texts, logs, strict=True):
        value = leaf_hash(text.encode())
        rows.append(
            {"log_id": log, "leaf_index": next_index[log], "entry": text, "leaf_hash": value}
        )
        next_index[log] += 1
        leaves[log].append(value)
    conn.execute(_E.insert(), rows)  # in the events' order: ids follow it across logs
    nodes: list[dict[str, Any]] = []
    for log, size in sizes.items():
        keys = perfect_subtrees(0, size)
        stored = _read_nodes(conn, log, keys)
        if len(stored) != len(keys):
            raise RuntimeError(f"audit log {log}: nodes of its frontier are missing")
        frontier = [Node(level, index, stored[(level, index)]) for level, index in keys]
        made, frontier = append_leaves(frontier, size, leaves[log])
        nodes.extend(
            {"log_id": log, "level": n.level, "node_index": n.index, "hash": n.hash}
            for n in made
            if n.level > 0  # leaves are in their entries' rows
        )
        conn.execute(
            _L.update()
            .where(_L.c.log_id == log)
            .values(
                size=next_index[log],
                root_hash=fold([n.hash for n in frontier]),
                updated_at=now,
            )
        )
    if nodes:
        conn.execute(_N.insert(), nodes)


async def register_signing_key(db: Database, name: str, public_key: bytes) -> None:
    """Record the region's public key on first use; refuse another one afterwards (a key
    file's: the error says which file to copy)."""
    if await claim_signing_key(db, name, public_key) != public_key:
        raise SigningKeyMismatch(
            f"the audit log key {name} registered in the database is not the one in this "
            "gateway's data folder (keys/audit-log.key): copy the first gateway's file here"
        )


async def claim_signing_key(db: Database, name: str, public_key: bytes) -> bytes:
    """The public key registered under ``name``, ``public_key`` if none was yet: the first
    gateway's claim wins, whichever gateways race for it."""
    registration = InsertIgnoringConflict(tables.audit_signing_keys, ["key_name"])

    def work(conn: Connection) -> bytes:
        values = {"key_name": name, "public_key": public_key, "created_at": datetime.now(UTC)}
        registration(conn, values)
        return _registered(conn, name) or public_key

    return await db.write(work)


async def registered_signing_key(db: Database, name: str) -> bytes | None:
    """The public key registered under ``name``, None before the first gateway's."""
    return await db.read(lambda conn: _registered(conn, name))


def _registered(conn: Connection, name: str) -> bytes | None:
    keys = tables.audit_signing_keys
    query = sa.select(keys.c.public_key).where(keys.c.key_name == name)
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else bytes(found)
