"""What S3 Control's access-point-like resources share in storage (decision 0405): an account's
named door with an alias unique across accounts and a resource policy, kept by name — S3 access
points (0157), Object Lambda access points (0384) and Multi-Region Access Points (0385).

This module owns that shape: the :class:`NamedPoint` a store keeps, the refusals of its
``create`` (:class:`PointExists`, :class:`PointQuotaExceeded`, which each kind's own errors
specialise), :func:`random_alias`, and the store as a Protocol (:class:`NamedPointStore`: create
within a quota, get by name, find by alias, list by name, delete, set the policy) with its two
implementations as generic bases: :class:`MemoryNamedPoints` (the memory twin) and
:class:`SqlNamedPoints` (a table keyed by ``tenant_id`` and ``name``, with a unique ``alias``,
``policy`` and ``created_at`` columns). What only one kind has (an access point's tags, an
Object Lambda access point's configuration, a Multi-Region Access Point's routes and
operations) stays in its module.
"""

from __future__ import annotations

import secrets
import string
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import Field, dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db.database import Database
from andromede.errors import AndromedeError

__all__ = [
    "MemoryNamedPoints",
    "NamedPoint",
    "NamedPointStore",
    "PointExists",
    "PointKind",
    "PointQuotaExceeded",
    "SqlNamedPoints",
    "random_alias",
]

_ALPHABET = string.ascii_lowercase + string.digits


class PointExists(AndromedeError):
    """The account already has one of that name (or, once in an age, its alias is taken)."""


class PointQuotaExceeded(AndromedeError):
    """The account has as many of that kind as the quota allows."""


@dataclass(frozen=True, slots=True)
class PointKind:
    """A kind of point as its two stores know it: the errors its ``create`` raises (the
    kind's own, for callers that catch them) and the table its SQL store keeps it in."""

    exists: type[PointExists]
    quota_exceeded: type[PointQuotaExceeded]
    table: sa.Table


def random_alias(name: str, *, prefix: int, random: int, suffix: str) -> str:
    """An alias of the access points' shape: the name's first ``prefix`` characters (no
    trailing hyphen), a hyphen, ``random`` random letters or digits, ``suffix``."""
    drawn = "".join(secrets.choice(_ALPHABET) for _ in range(random))
    return f"{name[:prefix].rstrip('-')}-{drawn}{suffix}"


class NamedPoint(Protocol):
    """A point as a store keeps it: a frozen dataclass (its changes are
    :func:`dataclasses.replace`) with these fields at least."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def tenant_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def alias(self) -> str: ...

    @property
    def policy(self) -> str | None: ...

    @property
    def created_at(self) -> datetime: ...


P = TypeVar("P", bound=NamedPoint)


class NamedPointStore(Protocol[P]):
    async def create(self, point: P, *, quota: int) -> None:
        """The kind's :class:`PointExists` (name or alias taken), its
        :class:`PointQuotaExceeded` (the account has ``quota`` already)."""
        ...

    async def get(self, tenant_id: str, name: str) -> P | None: ...

    async def by_alias(self, alias: str) -> P | None:
        """The point of that alias, whatever its account."""
        ...

    async def list(self, tenant_id: str, *, after: str | None, limit: int) -> Sequence[P]:
        """The account's points by name, those after ``after`` (a name), at most ``limit``."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...

    async def set_policy(self, tenant_id: str, name: str, policy: str | None) -> bool: ...


class MemoryNamedPoints(Generic[P]):
    """The in-memory twin of a :class:`NamedPointStore` (tests, apps built without a
    database); a kind's twin names its kind and adds its own changes."""

    kind: ClassVar[PointKind]

    def __init__(self) -> None:
        self._points: dict[tuple[str, str], P] = {}

    async def create(self, point: P, *, quota: int) -> None:
        key = (point.tenant_id, point.name)
        # In the SQL store's order: the name, the quota, then the alias (its unique index).
        if key in self._points:
            raise self.kind.exists(point.name)
        if sum(1 for t, _ in self._points if t == point.tenant_id) >= quota:
            raise self.kind.quota_exceeded(point.tenant_id)
        if any(p.alias == point.alias for p in self._points.values()):
            raise self.kind.exists(point.alias)
        self._points[key] = point

    async def get(self, tenant_id: str, name: str) -> P | None:
        return self._points.get((tenant_id, name))

    async def by_alias(self, alias: str) -> P | None:
        return next((p for p in self._points.values() if p.alias == alias), None)

    async def list(self, tenant_id: str, *, after: str | None, limit: int) -> Sequence[P]:
        return self._page(tenant_id, after=after, limit=limit)

    def _page(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        keep: Callable[[P], bool] = lambda _: True,
    ) -> Sequence[P]:
        found = sorted(
            (
                p
                for (t, name), p in self._points.items()
                if t == tenant_id and (after is None or name > after) and keep(p)
            ),
            key=lambda p: p.name,
        )
        return found[:limit]

    async def delete(self, tenant_id: str, name: str) -> bool:
        return self._points.pop((tenant_id, name), None) is not None

    async def set_policy(self, tenant_id: str, name: str, policy: str | None) -> bool:
        return self._change(tenant_id, name, lambda found: replace(found, policy=policy))

    def _change(self, tenant_id: str, name: str, change: Callable[[P], P]) -> bool:
        """Replace the point by what ``change`` makes of it (False: no such point); an
        exception ``change`` raises leaves it as it was."""
        found = self._points.get((tenant_id, name))
        if found is None:
            return False
        self._points[(tenant_id, name)] = change(found)
        return True


class SqlNamedPoints(ABC, Generic[P]):
    """A :class:`NamedPointStore` in the metadata database: a kind's store names its kind
    and turns its points into rows and back."""

    kind: ClassVar[PointKind]

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def table(self) -> sa.Table:
        return self.kind.table

    @abstractmethod
    def _columns(self, point: P) -> dict[str, object]:
        """The columns of the kind's own in the row ``create`` inserts (its
        ``format_version`` among them)."""

    @abstractmethod
    def _point(self, row: sa.Row[tuple[object, ...]]) -> P: ...

    def _named(self, tenant_id: str, name: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (self.table.c.tenant_id == tenant_id, self.table.c.name == name)

    async def create(self, point: P, *, quota: int) -> None:
        t = self.table
        count_q = sa.select(sa.func.count()).where(t.c.tenant_id == point.tenant_id)
        exists_q = sa.select(t.c.name).where(*self._named(point.tenant_id, point.name))
        row = {
            "tenant_id": point.tenant_id,
            "name": point.name,
            "alias": point.alias,
            "policy": point.policy,
            "created_at": point.created_at,
            **self._columns(point),
        }

        def work(conn: Connection) -> None:
            if conn.execute(exists_q).first() is not None:
                raise self.kind.exists(point.name)
            # Two gateways creating the account's last allowed ones at once may both pass
            # this count: the quota is a guard against runaway scripts, not a billing line.
            if int(conn.execute(count_q).scalar_one()) >= quota:
                raise self.kind.quota_exceeded(point.tenant_id)
            conn.execute(t.insert(), [row])

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            # The same name created at once through another gateway (or, once in an age, an
            # alias drawn twice): the other's row stands.
            raise self.kind.exists(point.name) from exc

    async def get(self, tenant_id: str, name: str) -> P | None:
        query = sa.select(self.table).where(*self._named(tenant_id, name))
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else self._point(row)

    async def by_alias(self, alias: str) -> P | None:
        query = sa.select(self.table).where(self.table.c.alias == alias)  # unique: its index
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else self._point(row)

    async def list(self, tenant_id: str, *, after: str | None, limit: int) -> Sequence[P]:
        return await self._page(tenant_id, after=after, limit=limit)

    async def _page(
        self, tenant_id: str, *, after: str | None, limit: int, where: Sequence[Any] = ()
    ) -> Sequence[P]:
        t = self.table
        query = sa.select(t).where(t.c.tenant_id == tenant_id, *where)
        if after is not None:
            query = query.where(t.c.name > after)
        query = query.order_by(t.c.name).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [self._point(row) for row in rows]

    async def delete(self, tenant_id: str, name: str) -> bool:
        statement = self.table.delete().where(*self._named(tenant_id, name))
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def set_policy(self, tenant_id: str, name: str, policy: str | None) -> bool:
        return await self._update(tenant_id, name, policy=policy)

    async def _update(self, tenant_id: str, name: str, **values: object) -> bool:
        """Set these columns of the named row (False: no such row)."""
        statement = self.table.update().where(*self._named(tenant_id, name)).values(**values)
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)
