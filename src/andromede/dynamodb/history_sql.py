"""Point-in-time recovery's item history over the metadata database (decision 0253, migration
0121): :func:`append_versions`, which an item's write calls inside its own database
transaction (through ``append_changes``) for the tables whose point-in-time recovery is on,
and the queries of a table's history: its base copied when recovery is turned on, the items
as they were at an instant, the versions pruned past the recovery period."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.dynamodb.model import StoredItem
from andromede.dynamodb.streams import ChangeRecord

__all__ = ["append_versions", "copy_base", "drop_history", "items_at", "prune_history"]

_T = tables.dynamodb_tables
_I = tables.dynamodb_items
_V = tables.dynamodb_item_versions


def _recovering(conn: Connection, tenant_id: str, name: str) -> int | None:
    """The table's creation (ms) when its point-in-time recovery is on, else None."""
    row = conn.execute(
        sa.select(_T.c.created, _T.c.definition).where(
            _T.c.tenant_id == tenant_id, _T.c.table_name == name
        )
    ).first()
    if row is None or json.loads(row[1]).get("pitr") is None:
        return None
    return int(row[0])


def append_versions(
    conn: Connection, tenant_id: str, changes: Sequence[tuple[str, ChangeRecord]]
) -> None:
    """Each change of a table with point-in-time recovery on kept as a version. Only a write
    that read the table with recovery on (``versioned``) or a time-to-live deletion looks
    the table up: the other tables pay nothing."""
    looked: dict[str, int | None] = {}
    rows = []
    for name, record in changes:
        if not (record.versioned or record.by_service):
            continue
        if name not in looked:
            looked[name] = _recovering(conn, tenant_id, name)
        created = looked[name]
        if created is None:
            continue
        rows.append(
            {
                "tenant_id": tenant_id,
                "table_name": name,
                "table_created": created,
                "hash_token": record.hash_token,
                "sort_token": record.sort_token,
                "at": record.created,
                "sealed": record.version,
                "size": record.version_size,
            }
        )
    if rows:
        conn.execute(sa.insert(_V), rows)


def _of(tenant_id: str, name: str, created: int) -> Any:
    return sa.and_(
        _V.c.tenant_id == tenant_id, _V.c.table_name == name, _V.c.table_created == created
    )


def drop_history(conn: Connection, tenant_id: str, name: str, created: int) -> None:
    conn.execute(sa.delete(_V).where(_of(tenant_id, name, created)))


def copy_base(conn: Connection, tenant_id: str, name: str, created: int, at: int) -> None:
    """The table's items as they are, its history's first versions (at ``at``)."""
    drop_history(conn, tenant_id, name, created)
    conn.execute(
        sa.insert(_V).from_select(
            [
                "tenant_id",
                "table_name",
                "table_created",
                "hash_token",
                "sort_token",
                "at",
                "sealed",
                "size",
            ],
            sa.select(
                _I.c.tenant_id,
                _I.c.table_name,
                sa.literal(created, sa.BigInteger),
                _I.c.hash_token,
                _I.c.sort_token,
                sa.literal(at, sa.BigInteger),
                _I.c.sealed,
                _I.c.size,
            ).where(_I.c.tenant_id == tenant_id, _I.c.table_name == name),
        )
    )


def _latest(at: int) -> Any:
    """A version no later version of its item precedes ``at`` (ms) or equals it."""
    later = _V.alias("later")
    return ~sa.exists().where(
        later.c.tenant_id == _V.c.tenant_id,
        later.c.table_name == _V.c.table_name,
        later.c.table_created == _V.c.table_created,
        later.c.hash_token == _V.c.hash_token,
        later.c.sort_token == _V.c.sort_token,
        later.c.at <= at,
        sa.or_(later.c.at > _V.c.at, sa.and_(later.c.at == _V.c.at, later.c.id > _V.c.id)),
    )


def items_at(
    conn: Connection,
    tenant_id: str,
    name: str,
    created: int,
    at: int,
    after: tuple[bytes, bytes] | None,
    limit: int,
) -> list[StoredItem]:
    """The items as they were at ``at`` in key order, after ``after``."""
    query = sa.select(_V).where(
        _of(tenant_id, name, created), _V.c.at <= at, _V.c.sealed.is_not(None), _latest(at)
    )
    if after is not None:
        query = query.where(
            sa.or_(
                _V.c.hash_token > after[0],
                sa.and_(_V.c.hash_token == after[0], _V.c.sort_token > after[1]),
            )
        )
    query = query.order_by(_V.c.hash_token, _V.c.sort_token).limit(limit)
    return [
        StoredItem(
            bytes(m["hash_token"]), bytes(m["sort_token"]), bytes(m["sealed"]), int(m["size"])
        )
        for m in conn.execute(query).mappings()
    ]


def prune_history(conn: Connection, now: int) -> int:
    """Versions no restore can need removed: before each table's recovery period, all but
    each item's latest (and that one too when a removal); a table gone or no longer
    recovering, all of its versions. How many."""
    held = conn.execute(
        sa.select(_V.c.tenant_id, _V.c.table_name, _V.c.table_created).distinct()
    ).all()
    removed = 0
    for tenant_id, name, created in held:
        table = conn.execute(
            sa.select(_T.c.created, _T.c.definition).where(
                _T.c.tenant_id == tenant_id, _T.c.table_name == name
            )
        ).first()
        pitr = None if table is None else json.loads(table[1]).get("pitr")
        if table is None or pitr is None or int(table[0]) != int(created):
            removed += conn.execute(sa.delete(_V).where(_of(tenant_id, name, created))).rowcount
            continue
        cutoff = now - int(pitr[0]) * 86_400_000
        old = sa.and_(_of(tenant_id, name, created), _V.c.at < cutoff)
        superseded = sa.select(_V.c.id).where(old, ~_latest(cutoff))
        gone = sa.select(_V.c.id).where(old, _V.c.sealed.is_(None))
        for ids in (superseded, gone):
            doomed = [int(r[0]) for r in conn.execute(ids)]
            if doomed:
                removed += conn.execute(sa.delete(_V).where(_V.c.id.in_(doomed))).rowcount
    return removed
