"""S3 Object Lambda access points (decision 0384): the access point as stored, its
configuration, and its store — one Protocol, a memory twin and the SQL store (SQLite or
PostgreSQL, the table of migration 0158).

An Object Lambda access point is an account's named door in front of one of its S3 access
points (the *supporting* access point): a GetObject through it runs the account's Lambda
function, which reads the object through the supporting access point and answers the
caller with what it makes of it. Its name follows the access points' rules and belongs to
one account; its alias (``<name>-<random>--ol-s3``) is unique across accounts.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.errors import AndromedeError

__all__ = [
    "OBJECT_LAMBDA_ALIAS_SUFFIX",
    "MemoryObjectLambdaStore",
    "ObjectLambdaAccessPoint",
    "ObjectLambdaConfiguration",
    "ObjectLambdaExists",
    "ObjectLambdaQuotaExceeded",
    "ObjectLambdaStore",
    "SqlObjectLambdaStore",
    "Transformation",
    "new_object_lambda_alias",
]

OBJECT_LAMBDA_ALIAS_SUFFIX = "--ol-s3"
_ALIAS_PREFIX = 34
_ALIAS_RANDOM = 14
_ALPHABET = string.ascii_lowercase + string.digits
# The row's format (configuration as ObjectLambdaConfiguration.to_json, policy as sent).
_FORMAT_VERSION = 1


class ObjectLambdaExists(AndromedeError):
    """The account already has an Object Lambda access point of that name."""


class ObjectLambdaQuotaExceeded(AndromedeError):
    """The account has as many Object Lambda access points as the quota allows."""


def new_object_lambda_alias(name: str) -> str:
    random = "".join(secrets.choice(_ALPHABET) for _ in range(_ALIAS_RANDOM))
    return f"{name[:_ALIAS_PREFIX].rstrip('-')}-{random}{OBJECT_LAMBDA_ALIAS_SUFFIX}"


@dataclass(frozen=True, slots=True)
class Transformation:
    """One ``TransformationConfiguration``: the actions it transforms and the function."""

    actions: tuple[str, ...]
    function_arn: str
    function_payload: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectLambdaConfiguration:
    supporting_access_point: str  # the supporting access point's ARN
    transformations: tuple[Transformation, ...]
    allowed_features: tuple[str, ...] = ()
    cloudwatch_metrics_enabled: bool = False

    def transformation_for(self, action: str) -> Transformation | None:
        return next((t for t in self.transformations if action in t.actions), None)

    def to_json(self) -> str:
        return json.dumps(
            {
                "supporting_access_point": self.supporting_access_point,
                "transformations": [
                    {
                        "actions": list(t.actions),
                        "function_arn": t.function_arn,
                        "function_payload": t.function_payload,
                    }
                    for t in self.transformations
                ],
                "allowed_features": list(self.allowed_features),
                "cloudwatch_metrics_enabled": self.cloudwatch_metrics_enabled,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> ObjectLambdaConfiguration:
        raw = json.loads(text)
        return cls(
            supporting_access_point=raw["supporting_access_point"],
            transformations=tuple(
                Transformation(tuple(t["actions"]), t["function_arn"], t["function_payload"])
                for t in raw["transformations"]
            ),
            allowed_features=tuple(raw["allowed_features"]),
            cloudwatch_metrics_enabled=bool(raw["cloudwatch_metrics_enabled"]),
        )


@dataclass(frozen=True, slots=True)
class ObjectLambdaAccessPoint:
    tenant_id: str
    name: str
    alias: str
    configuration: ObjectLambdaConfiguration
    created_at: datetime
    policy: str | None = None  # the Object Lambda access point policy's JSON, as sent

    def arn(self, region: str) -> str:
        return f"arn:aws:s3-object-lambda:{region}:{self.tenant_id}:accesspoint/{self.name}"


class ObjectLambdaStore(Protocol):
    async def create(self, point: ObjectLambdaAccessPoint, *, quota: int) -> None:
        """:class:`ObjectLambdaExists`, :class:`ObjectLambdaQuotaExceeded`."""
        ...

    async def get(self, tenant_id: str, name: str) -> ObjectLambdaAccessPoint | None: ...

    async def by_alias(self, alias: str) -> ObjectLambdaAccessPoint | None:
        """The Object Lambda access point of that alias, whatever its account (0399)."""
        ...

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[ObjectLambdaAccessPoint]:
        """The account's Object Lambda access points by name, after ``after``, at most
        ``limit``."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...

    async def set_policy(self, tenant_id: str, name: str, policy: str | None) -> bool: ...

    async def set_configuration(
        self, tenant_id: str, name: str, configuration: ObjectLambdaConfiguration
    ) -> bool: ...


class MemoryObjectLambdaStore:
    """The in-memory twin (tests, apps built without a database)."""

    def __init__(self) -> None:
        self._points: dict[tuple[str, str], ObjectLambdaAccessPoint] = {}

    async def create(self, point: ObjectLambdaAccessPoint, *, quota: int) -> None:
        if (point.tenant_id, point.name) in self._points:
            raise ObjectLambdaExists(point.name)
        if sum(1 for t, _ in self._points if t == point.tenant_id) >= quota:
            raise ObjectLambdaQuotaExceeded(point.tenant_id)
        if any(p.alias == point.alias for p in self._points.values()):
            raise ObjectLambdaExists(point.alias)
        self._points[(point.tenant_id, point.name)] = point

    async def get(self, tenant_id: str, name: str) -> ObjectLambdaAccessPoint | None:
        return self._points.get((tenant_id, name))

    async def by_alias(self, alias: str) -> ObjectLambdaAccessPoint | None:
        return next((p for p in self._points.values() if p.alias == alias), None)

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[ObjectLambdaAccessPoint]:
        found = sorted(
            (
                p
                for (t, name), p in self._points.items()
                if t == tenant_id and (after is None or name > after)
            ),
            key=lambda p: p.name,
        )
        return found[:limit]

    async def delete(self, tenant_id: str, name: str) -> bool:
        return self._points.pop((tenant_id, name), None) is not None

    async def set_policy(self, tenant_id: str, name: str, policy: str | None) -> bool:
        found = self._points.get((tenant_id, name))
        if found is None:
            return False
        self._points[(tenant_id, name)] = replace(found, policy=policy)
        return True

    async def set_configuration(
        self, tenant_id: str, name: str, configuration: ObjectLambdaConfiguration
    ) -> bool:
        found = self._points.get((tenant_id, name))
        if found is None:
            return False
        self._points[(tenant_id, name)] = replace(found, configuration=configuration)
        return True


_T = tables.object_lambda_access_points


def _point(row: sa.Row[tuple[object, ...]]) -> ObjectLambdaAccessPoint:
    m = row._mapping
    return ObjectLambdaAccessPoint(
        tenant_id=m["tenant_id"],
        name=m["name"],
        alias=m["alias"],
        configuration=ObjectLambdaConfiguration.from_json(m["configuration"]),
        created_at=m["created_at"],
        policy=m["policy"],
    )


class SqlObjectLambdaStore:
    """Object Lambda access points in the metadata database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, point: ObjectLambdaAccessPoint, *, quota: int) -> None:
        count_q = sa.select(sa.func.count()).where(_T.c.tenant_id == point.tenant_id)
        exists_q = sa.select(_T.c.name).where(
            _T.c.tenant_id == point.tenant_id, _T.c.name == point.name
        )
        row = {
            "tenant_id": point.tenant_id,
            "name": point.name,
            "alias": point.alias,
            "configuration": point.configuration.to_json(),
            "policy": point.policy,
            "format_version": _FORMAT_VERSION,
            "created_at": point.created_at,
        }

        def work(conn: Connection) -> None:
            if conn.execute(exists_q).first() is not None:
                raise ObjectLambdaExists(point.name)
            # As for access points: two gateways at once may both pass the count; the quota
            # guards against runaway scripts.
            if int(conn.execute(count_q).scalar_one()) >= quota:
                raise ObjectLambdaQuotaExceeded(point.tenant_id)
            conn.execute(_T.insert(), [row])

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise ObjectLambdaExists(point.name) from exc

    async def get(self, tenant_id: str, name: str) -> ObjectLambdaAccessPoint | None:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.name == name)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _point(row)

    async def by_alias(self, alias: str) -> ObjectLambdaAccessPoint | None:
        query = sa.select(_T).where(_T.c.alias == alias)  # unique: the table's constraint
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _point(row)

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[ObjectLambdaAccessPoint]:
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

    async def set_policy(self, tenant_id: str, name: str, policy: str | None) -> bool:
        statement = (
            _T.update().where(_T.c.tenant_id == tenant_id, _T.c.name == name).values(policy=policy)
        )
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)

    async def set_configuration(
        self, tenant_id: str, name: str, configuration: ObjectLambdaConfiguration
    ) -> bool:
        statement = (
            _T.update()
            .where(_T.c.tenant_id == tenant_id, _T.c.name == name)
            .values(configuration=configuration.to_json())
        )
        result = await self._db.write(lambda conn: conn.execute(statement))
        return bool(result.rowcount)
