"""The witnesses' latest cosignatures of the region's logs (decision 0122, increment 2): for
each (log, witness), the size and root it vouched for and its cosignature line, kept so that
the cosigned checkpoint can be served (``AuditTrail.cosigned_checkpoint``) and the next
submission to that witness starts from that size. A record is replaced only by one of a
size at least as large: a slow gateway's older cosignature never replaces a newer one.

:class:`MemoryCosignatureStore` (tests) and :class:`SqlCosignatureStore` (table
``audit_witness_cosignatures``, migration 0048), held to one contract suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict

__all__ = ["CosignatureStore", "Cosigned", "MemoryCosignatureStore", "SqlCosignatureStore"]


@dataclass(frozen=True, slots=True)
class Cosigned:
    log: str
    witness: str
    size: int
    root_hash: bytes
    cosignature: str  # the note signature line, without its newline
    cosigned_at: datetime


class CosignatureStore(Protocol):
    async def latest(self, log: str) -> list[Cosigned]:
        """Each witness's latest cosignature of ``log``, by witness name."""
        ...

    async def record(self, cosigned: Cosigned) -> bool:
        """Keep ``cosigned`` unless a cosignature of a larger size is kept for its (log,
        witness); whether it was kept."""
        ...


class MemoryCosignatureStore:
    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], Cosigned] = {}

    async def latest(self, log: str) -> list[Cosigned]:
        return sorted(
            (c for (held, _), c in self._kept.items() if held == log), key=lambda c: c.witness
        )

    async def record(self, cosigned: Cosigned) -> bool:
        key = (cosigned.log, cosigned.witness)
        held = self._kept.get(key)
        if held is not None and held.size > cosigned.size:
            return False
        self._kept[key] = cosigned
        return True


_C = tables.audit_witness_cosignatures
_NEW = InsertIgnoringConflict(_C, ["log_id", "witness"])


class SqlCosignatureStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def latest(self, log: str) -> list[Cosigned]:
        query = sa.select(_C).where(_C.c.log_id == log).order_by(_C.c.witness)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query))

        return [
            Cosigned(
                row.log_id,
                row.witness,
                int(row.size),
                bytes(row.root_hash),
                row.cosignature,
                row.cosigned_at,
            )
            for row in await self._db.read(work)
        ]

    async def record(self, cosigned: Cosigned) -> bool:
        values = {
            "log_id": cosigned.log,
            "witness": cosigned.witness,
            "size": cosigned.size,
            "root_hash": cosigned.root_hash,
            "cosignature": cosigned.cosignature,
            "cosigned_at": cosigned.cosigned_at,
        }
        update = (
            _C.update()
            .where(
                _C.c.log_id == cosigned.log,
                _C.c.witness == cosigned.witness,
                _C.c.size <= cosigned.size,
            )
            .values(**values)
        )

        def work(conn: Connection) -> bool:
            if _NEW(conn, values):
                return True
            # A row exists (or one being inserted committed first): replaced only by a size
            # at least as large, in one statement.
            return bool(conn.execute(update).rowcount)

        return bool(await self._db.write(work))
