"""The registry of the region's log signing keys over the metadata database (decision 0140).

``audit_signing_keys`` holds the current key (the first gateway registers it: decision 0134);
``audit_key_transitions`` every rotation since, with the statement both keys signed, and
``audit_key_transition_checkpoints`` per log the size at which the key changed and the
checkpoint both keys signed there. :func:`record_rotation` is one transaction: it locks every
log's row (as an append does, in log id order), so no entry lands between the size read and
the switch of the current key; a gateway that signed a checkpoint meanwhile signed one no
larger than that size, which the old key may sign. A second rotation racing from the same key
finds the current key changed and fails (:class:`RotationConflict`).

A scheduled rotation (decision 0140's addendum) is first **claimed**: one conditional update
of the current key's row (:func:`claim_rotation`), which one gateway wins until the claim's
end, so one gateway makes the new key while the others keep signing. The row also carries the
current key's seed **sealed** (the caller seals it under ``secrets.key``; this module never
sees it in clear) when it is a key file, replaced or cleared by each rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.audit.errors import AuditError
from andromede.audit.note import Checkpoint
from andromede.audit.transition import KeyTransition, statement_text
from andromede.db import tables
from andromede.db.database import Database

__all__ = [
    "KeyTransition",
    "RegisteredKey",
    "RetiredKey",
    "RotationConflict",
    "claim_rotation",
    "key_transitions",
    "record_rotation",
    "registered_key",
    "retired_keys",
]

_T = tables.audit_key_transitions
_C = tables.audit_key_transition_checkpoints
_K = tables.audit_signing_keys
_L = tables.audit_logs

# (text, note name) -> the note signed by the outgoing and the incoming key.
SignBoth = Callable[[str, str], str]


class RotationConflict(AuditError):
    """The registered key is not the one the rotation started from (another rotation won)."""


async def key_transitions(db: Database, name: str, log: str) -> list[KeyTransition]:
    """The rotations of key ``name``, oldest first, each with ``log``'s transition checkpoint."""
    query = (
        sa.select(_T.c.generation, _T.c.statement, _C.c.checkpoint, _C.c.size)
        .select_from(
            _T.outerjoin(
                _C,
                sa.and_(
                    _C.c.key_name == _T.c.key_name,
                    _C.c.generation == _T.c.generation,
                    _C.c.log_id == log,
                ),
            )
        )
        .where(_T.c.key_name == name)
        .order_by(_T.c.generation)
    )

    def work(conn: Connection) -> list[Any]:
        return list(conn.execute(query).all())

    return [
        KeyTransition(
            int(r.generation),
            str(r.statement),
            r.checkpoint,
            None if r.size is None else int(r.size),
        )
        for r in await db.read(work)
    ]


async def record_rotation(
    db: Database,
    name: str,
    old: bytes,
    new: bytes,
    reason: str,
    sign_both: SignBoth,
    *,
    sealed: str | None = None,
    now: datetime | None = None,
) -> int:
    """Replace the registered key ``old`` by ``new``: the statement and every log's
    checkpoint at its current size signed by both (``sign_both``), recorded with the new
    current key (and ``sealed``, its sealed seed, or none) in one transaction. Returns the new
    generation. ``now``: when the new key starts (its age counts from then), the clock's."""
    at = now or datetime.now(UTC)

    def work(conn: Connection) -> int:
        current = conn.execute(sa.select(_K.c.public_key).where(_K.c.key_name == name)).scalar()
        if current is None or bytes(current) != old:
            raise RotationConflict(
                f"the audit log key {name} registered is not the key this rotation starts"
                " from: another rotation ran, or the key was never registered"
            )
        last = conn.execute(
            sa.select(sa.func.max(_T.c.generation)).where(_T.c.key_name == name)
        ).scalar()
        generation = 1 if last is None else int(last) + 1
        logs = conn.execute(
            sa.select(_L.c.log_id, _L.c.size, _L.c.root_hash)
            .order_by(_L.c.log_id)
            .with_for_update()  # as an append locks them: no entry lands meanwhile
        ).all()
        statement = sign_both(statement_text(name, generation, old, new, reason), name)
        conn.execute(
            _T.insert().values(
                key_name=name,
                generation=generation,
                old_public_key=old,
                new_public_key=new,
                reason=reason,
                statement=statement,
                created_at=at,
            )
        )
        rows = []
        for row in logs:
            if int(row.size) == 0:
                continue
            origin = f"{name}/{row.log_id}"
            text = Checkpoint(origin, int(row.size), row.root_hash).text()
            rows.append(
                {
                    "key_name": name,
                    "generation": generation,
                    "log_id": row.log_id,
                    "size": int(row.size),
                    "checkpoint": sign_both(text, origin),
                }
            )
        if rows:
            conn.execute(_C.insert(), rows)
        conn.execute(
            _K.update()
            .where(_K.c.key_name == name, _K.c.public_key == old)
            .values(public_key=new, created_at=at, sealed_key=sealed, rotation_claimed_until=None)
        )
        return generation

    return await db.write(work)


@dataclass(frozen=True, slots=True)
class RegisteredKey:
    """The current key's row: since when it signs, and its sealed seed (None: not shared)."""

    public_key: bytes
    created_at: datetime
    sealed: str | None


async def registered_key(db: Database, name: str) -> RegisteredKey | None:
    query = sa.select(_K.c.public_key, _K.c.created_at, _K.c.sealed_key).where(
        _K.c.key_name == name
    )

    def work(conn: Connection) -> Any:
        return conn.execute(query).first()

    row = await db.read(work)
    if row is None:
        return None
    return RegisteredKey(bytes(row.public_key), row.created_at, row.sealed_key)


async def claim_rotation(
    db: Database, name: str, public_key: bytes, now: datetime, until: datetime
) -> bool:
    """Whether this caller won the rotation of the current key ``public_key`` (no unexpired
    claim of another, and the key still current), claimed until ``until``."""
    claim = (
        _K.update()
        .where(
            _K.c.key_name == name,
            _K.c.public_key == public_key,
            sa.or_(_K.c.rotation_claimed_until.is_(None), _K.c.rotation_claimed_until <= now),
        )
        .values(rotation_claimed_until=until)
    )
    return bool(await db.write_statement(lambda conn: conn.execute(claim).rowcount == 1))


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A key a rotation replaced: its public half and when the rotation was recorded."""

    public_key: bytes
    retired_at: datetime


async def retired_keys(db: Database, name: str) -> list[RetiredKey]:
    """The keys of ``name`` that rotations replaced, oldest first (decision 0140's second
    addendum: their key files are removed once retired long enough)."""
    query = (
        sa.select(_T.c.old_public_key, _T.c.created_at)
        .where(_T.c.key_name == name)
        .order_by(_T.c.generation)
    )

    def work(conn: Connection) -> list[Any]:
        return list(conn.execute(query).all())

    return [RetiredKey(bytes(r.old_public_key), r.created_at) for r in await db.read(work)]
