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
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Row

from andromede.db import tables
from andromede.storage import named_points
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


class MultiRegionAccessPointExists(named_points.PointExists):
    """The account already has a Multi-Region Access Point of that name."""


class MultiRegionAccessPointQuotaExceeded(named_points.PointQuotaExceeded):
    """The account has as many Multi-Region Access Points as the quota allows."""


_KIND = named_points.PointKind(
    MultiRegionAccessPointExists,
    MultiRegionAccessPointQuotaExceeded,
    tables.multi_region_access_points,
)


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


class MultiRegionAccessPointStore(named_points.NamedPointStore[MultiRegionAccessPoint], Protocol):
    async def set_routes(
        self, tenant_id: str, name: str, routes: tuple[MultiRegionRoute, ...]
    ) -> bool: ...

    async def record(self, operation: AsyncOperation) -> None: ...

    async def operation(self, tenant_id: str, token: str) -> AsyncOperation | None: ...


class MemoryMultiRegionAccessPointStore(named_points.MemoryNamedPoints[MultiRegionAccessPoint]):
    """The in-memory twin, for tests and apps built without a database."""

    kind = _KIND

    def __init__(self) -> None:
        super().__init__()
        self._operations: dict[tuple[str, str], AsyncOperation] = {}

    async def set_routes(
        self, tenant_id: str, name: str, routes: tuple[MultiRegionRoute, ...]
    ) -> bool:
        return self._change(tenant_id, name, lambda found: replace(found, routes=routes))

    async def record(self, operation: AsyncOperation) -> None:
        self._operations[(operation.tenant_id, operation.token)] = operation

    async def operation(self, tenant_id: str, token: str) -> AsyncOperation | None:
        return self._operations.get((tenant_id, token))


_OPS = tables.multi_region_access_point_operations


def _routes_json(routes: tuple[MultiRegionRoute, ...]) -> str:
    return json.dumps([[r.bucket, r.bucket_account, r.region, r.dial] for r in routes])


class SqlMultiRegionAccessPointStore(named_points.SqlNamedPoints[MultiRegionAccessPoint]):
    """Multi-Region Access Points in the metadata database."""

    kind = _KIND

    def _columns(self, point: MultiRegionAccessPoint) -> dict[str, object]:
        return {
            "routes": _routes_json(point.routes),
            "public_access_block": point.public_access_block.to_json(),
            "format_version": _FORMAT_VERSION,
        }

    def _point(self, row: Row[tuple[object, ...]]) -> MultiRegionAccessPoint:
        m = row._mapping
        routes = tuple(
            MultiRegionRoute(str(b), str(a), str(r), int(d))
            for b, a, r, d in json.loads(m["routes"])
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

    async def set_routes(
        self, tenant_id: str, name: str, routes: tuple[MultiRegionRoute, ...]
    ) -> bool:
        return await self._update(tenant_id, name, routes=_routes_json(routes))

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
