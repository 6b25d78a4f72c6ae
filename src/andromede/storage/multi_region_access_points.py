"""S3 Multi-Region Access Points (decision 0385): the access point as stored, AWS's rules for
its name and alias, which of its Regions serves a request, and its store — one Protocol, a
memory twin and the SQL store (SQLite or PostgreSQL, the tables of migration 0155).

A Multi-Region Access Point is an account's one global door onto buckets in several Regions,
one bucket a Region. Its alias (``<letter><12 letters or digits>.mrap``) is its global name:
requests reach it as ``<alias>.accesspoint.s3-global.<domain>`` and are served by one of its
buckets. Each Region's route has a traffic dial, 100 (active) or 0 (passive): a passive
Region gets no new request. The management calls are asynchronous on AWS; each one leaves a
record (its request token ARN, operation, parameters and outcome) that
DescribeMultiRegionAccessPointOperation reads back.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.errors import AndromedeError
from andromede.storage.model import AccessPointUse, PublicAccessBlock

__all__ = [
    "ACTIVE",
    "PASSIVE",
    "AsyncOperation",
    "MemoryMultiRegionAccessPointStore",
    "MultiRegionAccessPoint",
    "MultiRegionAccessPointExists",
    "MultiRegionAccessPointQuotaExceeded",
    "MultiRegionAccessPointStore",
    "MultiRegionRoute",
    "NearestRegion",
    "SqlMultiRegionAccessPointStore",
    "client_region",
    "is_alias",
    "new_alias",
    "serving_region",
    "serving_route",
]

ACTIVE, PASSIVE = 100, 0
# AWS: the name as an access point's (3 to 50 lower-case letters, digits, hyphens); the alias
# ``^[a-z][a-z0-9]*[.]mrap$``, at most 63 characters (AWS draws 13 before ``.mrap``).
_ALIAS = re.compile(r"[a-z][a-z0-9]{1,57}\.mrap")
_ALIAS_RANDOM = 12
_ALPHABET = string.ascii_lowercase + string.digits
# The rows' format: routes as a JSON list of [bucket, bucket account, Region, dial],
# Block Public Access as PublicAccessBlock's JSON, an operation's parameters and Regions JSON.
_FORMAT_VERSION = 1


class MultiRegionAccessPointExists(AndromedeError):
    """The account already has a Multi-Region Access Point of that name."""


class MultiRegionAccessPointQuotaExceeded(AndromedeError):
    """The account has as many Multi-Region Access Points as the quota allows."""


def new_alias() -> str:
    """A fresh alias of AWS's shape: a letter, then 12 random letters or digits, ``.mrap``."""
    head = secrets.choice(string.ascii_lowercase)
    return head + "".join(secrets.choice(_ALPHABET) for _ in range(_ALIAS_RANDOM)) + ".mrap"


def is_alias(text: str) -> bool:
    return _ALIAS.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class MultiRegionRoute:
    """One Region of a Multi-Region Access Point: its bucket there and its traffic dial."""

    bucket: str
    bucket_account: str
    region: str
    dial: int = ACTIVE

    @property
    def active(self) -> bool:
        return self.dial == ACTIVE


@dataclass(frozen=True, slots=True)
class MultiRegionAccessPoint:
    tenant_id: str
    name: str
    alias: str
    routes: tuple[MultiRegionRoute, ...]
    public_access_block: PublicAccessBlock
    created_at: datetime
    policy: str | None = None

    @property
    def arn(self) -> str:
        """``arn:aws:s3::<account>:accesspoint/<alias>``: no Region, the alias (AWS's form,
        which clients pass as ``Bucket`` and policies name)."""
        return f"arn:aws:s3::{self.tenant_id}:accesspoint/{self.alias}"

    def use(self) -> AccessPointUse:
        """What a request through this Multi-Region Access Point carries to the authoriser:
        its ARN (the ``s3:DataAccessPoint*`` keys, the resource its policy is asked about),
        its policy, its Block Public Access; always the Internet network origin."""
        return AccessPointUse(
            arn=self.arn,
            account=self.tenant_id,
            policy=self.policy,
            public_access_block=self.public_access_block,
        )


def serving_region(region: str, served: frozenset[str]) -> str:
    """The Region a Multi-Region Access Point request taken by a gateway is nearest to: the
    gateway's own, or (a gateway serving other Regions only) the first it serves."""
    return region if region in served or not served else min(served)


class NearestRegion(Protocol):
    """The Region nearest a client (its address) among some, None when the operator places
    it nowhere (decision 0413: Route 53's client places, ``route53.client_places``)."""

    def __call__(self, address: str | None, regions: Collection[str], /) -> str | None: ...


def client_region(
    region: str,
    served: frozenset[str],
    routes: Iterable[MultiRegionRoute],
    nearest: NearestRegion | None = None,
    client: str | None = None,
) -> str:
    """The Region a request from ``client`` is nearest to (decision 0413): among the active
    Regions (AWS routes to "the closest" of them), the one nearest the client where the
    operator places it; else the gateway's (``serving_region``, decision 0385)."""
    if nearest is not None and client:
        found = nearest(client, [route.region for route in routes if route.active])
        if found is not None:
            return found
    return serving_region(region, served)


def serving_route(
    routes: Iterable[MultiRegionRoute], serving_region: str, served: frozenset[str]
) -> MultiRegionRoute | None:
    """The route a request taken in ``serving_region`` goes to: that Region's when it is
    active (the nearest a request can be), else the first active Region this gateway serves,
    else the first active one at all (its gateway redirects); Regions by name, so every
    gateway picks the same. A passive Region is never chosen; None when all are."""
    active = sorted((r for r in routes if r.active), key=lambda r: r.region)
    for route in active:
        if route.region == serving_region:
            return route
    for route in active:
        if route.region in served:
            return route
    return active[0] if active else None


@dataclass(frozen=True, slots=True)
class AsyncOperation:
    """One asynchronous management request (Create, Delete, PutPolicy) and its outcome.
    Andromède applies the change before answering, so a recorded request has succeeded."""

    tenant_id: str
    token: str
    operation: str
    # The request's Details (JSON: Name, and Regions, PublicAccessBlock or Policy) as
    # DescribeMultiRegionAccessPointOperation shows them.
    details: str
    regions: tuple[str, ...]
    created_at: datetime
    status: str = "SUCCEEDED"


class MultiRegionAccessPointStore(Protocol):
    async def create(self, point: MultiRegionAccessPoint, *, quota: int) -> None:
        """:class:`MultiRegionAccessPointExists`, :class:`MultiRegionAccessPointQuotaExceeded`."""
        ...

    async def get(self, tenant_id: str, name: str) -> MultiRegionAccessPoint | None: ...

    async def by_alias(self, alias: str) -> MultiRegionAccessPoint | None: ...

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[MultiRegionAccessPoint]:
        """The account's Multi-Region Access Points by name, those after ``after``."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...

    async def set_policy(self, tenant_id: str, name: str, policy: str) -> bool: ...

    async def set_routes(
        self, tenant_id: str, name: str, routes: tuple[MultiRegionRoute, ...]
    ) -> bool: ...

    async def record(self, operation: AsyncOperation) -> None: ...

    async def operation(self, tenant_id: str, token: str) -> AsyncOperation | None: ...


class MemoryMultiRegionAccessPointStore:
    """The in-memory twin, for tests and apps built without a database."""

    def __init__(self) -> None:
        self._points: dict[tuple[str, str], MultiRegionAccessPoint] = {}
        self._operations: dict[tuple[str, str], AsyncOperation] = {}

    async def create(self, point: MultiRegionAccessPoint, *, quota: int) -> None:
        key = (point.tenant_id, point.name)
        if key in self._points or any(p.alias == point.alias for p in self._points.values()):
            raise MultiRegionAccessPointExists(point.name)
        if sum(1 for t, _ in self._points if t == point.tenant_id) >= quota:
            raise MultiRegionAccessPointQuotaExceeded(point.tenant_id)
        self._points[key] = point

    async def get(self, tenant_id: str, name: str) -> MultiRegionAccessPoint | None:
        return self._points.get((tenant_id, name))

    async def by_alias(self, alias: str) -> MultiRegionAccessPoint | None:
        return next((p for p in self._points.values() if p.alias == alias), None)

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[MultiRegionAccessPoint]:
        names = sorted(
            n for t, n in self._points if t == tenant_id and (after is None or n > after)
        )
        return [self._points[(tenant_id, n)] for n in names[:limit]]

    async def delete(self, tenant_id: str, name: str) -> bool:
        return self._points.pop((tenant_id, name), None) is not None

    async def set_policy(self, tenant_id: str, name: str, policy: str) -> bool:
        found = self._points.get((tenant_id, name))
        if found is None:
            return False
        self._points[(tenant_id, name)] = replace(found, policy=policy)
        return True

    async def set_routes(
        self, tenant_id: str, name: str, routes: tuple[MultiRegionRoute, ...]
    ) -> bool:
        found = self._points.get((tenant_id, name))
        if found is None:
            return False
        self._points[(tenant_id, name)] = replace(found, routes=routes)
        return True

    async def record(self, operation: AsyncOperation) -> None:
        self._operations[(operation.tenant_id, operation.token)] = operation

    async def operation(self, tenant_id: str, token: str) -> AsyncOperation | None:
        return self._operations.get((tenant_id, token))


_T = tables.multi_region_access_points
_OPS = tables.multi_region_access_point_operations


def _routes_json(routes: tuple[MultiRegionRoute, ...]) -> str:
    return json.dumps([[r.bucket, r.bucket_account, r.region, r.dial] for r in routes])


def _point(row: Row[tuple[object, ...]]) -> MultiRegionAccessPoint:
    m = row._mapping
    routes = tuple(
        MultiRegionRoute(str(b), str(a), str(r), int(d)) for b, a, r, d in json.loads(m["routes"])
    )
    return MultiRegionAccessPoint(
        tenant_id=m["tenant_id"],
        name=m["name"],
        alias=m["alias"],
        routes=routes,
        public_access_block=PublicAccessBlock.from_json(m["public_access_block"]),
        created_at=m["created_at"],
        policy=m["policy"],
    )


class SqlMultiRegionAccessPointStore:
    """Multi-Region Access Points in the metadata database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, point: MultiRegionAccessPoint, *, quota: int) -> None:
        count_q = sa.select(sa.func.count()).where(_T.c.tenant_id == point.tenant_id)
        exists_q = sa.select(_T.c.name).where(
            _T.c.tenant_id == point.tenant_id, _T.c.name == point.name
        )
        row = {
            "tenant_id": point.tenant_id,
            "name": point.name,
            "alias": point.alias,
            "routes": _routes_json(point.routes),
            "policy": point.policy,
            "public_access_block": point.public_access_block.to_json(),
            "format_version": _FORMAT_VERSION,
            "created_at": point.created_at,
        }

        def work(conn: Connection) -> None:
            if conn.execute(exists_q).first() is not None:
                raise MultiRegionAccessPointExists(point.name)
            # As for access points: two gateways may both pass the count at once; the quota
            # guards against runaway scripts, it is not a billing line.
            if int(conn.execute(count_q).scalar_one()) >= quota:
                raise MultiRegionAccessPointQuotaExceeded(point.tenant_id)
            conn.execute(_T.insert(), [row])

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise MultiRegionAccessPointExists(point.name) from exc

    async def get(self, tenant_id: str, name: str) -> MultiRegionAccessPoint | None:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.name == name)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _point(row)

    async def by_alias(self, alias: str) -> MultiRegionAccessPoint | None:
        query = sa.select(_T).where(_T.c.alias == alias)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _point(row)

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[MultiRegionAccessPoint]:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(_T.c.name > after)
        query = query.order_by(_T.c.name).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [_point(row) for row in rows]

    async def delete(self, tenant_id: str, name: str) -> bool:
        statement = _T.delete().where(_T.c.tenant_id == tenant_id, _T.c.name == name)
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def set_policy(self, tenant_id: str, name: str, policy: str) -> bool:
        statement = (
            _T.update().where(_T.c.tenant_id == tenant_id, _T.c.name == name).values(policy=policy)
        )
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def set_routes(
        self, tenant_id: str, name: str, routes: tuple[MultiRegionRoute, ...]
    ) -> bool:
        statement = (
            _T.update()
            .where(_T.c.tenant_id == tenant_id, _T.c.name == name)
            .values(routes=_routes_json(routes))
        )
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def record(self, operation: AsyncOperation) -> None:
        row = {
            "tenant_id": operation.tenant_id,
            "token": operation.token,
            "operation": operation.operation,
            "parameters": operation.details,
            "regions": json.dumps(list(operation.regions)),
            "format_version": _FORMAT_VERSION,
            "created_at": operation.created_at,
        }
        await self._db.write(lambda conn: conn.execute(_OPS.insert(), [row]))

    async def operation(self, tenant_id: str, token: str) -> AsyncOperation | None:
        query = sa.select(_OPS).where(_OPS.c.tenant_id == tenant_id, _OPS.c.token == token)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        m = row._mapping
        return AsyncOperation(
            tenant_id=m["tenant_id"],
            token=m["token"],
            operation=m["operation"],
            details=m["parameters"],
            regions=tuple(str(r) for r in json.loads(m["regions"])),
            created_at=m["created_at"],
        )
