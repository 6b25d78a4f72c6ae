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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from andromede.db import tables
from andromede.storage import named_points

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
# The row's format (configuration as ObjectLambdaConfiguration.to_json, policy as sent).
_FORMAT_VERSION = 1


class ObjectLambdaExists(named_points.PointExists):
    """The account already has an Object Lambda access point of that name."""


class ObjectLambdaQuotaExceeded(named_points.PointQuotaExceeded):
    """The account has as many Object Lambda access points as the quota allows."""


_KIND = named_points.PointKind(
    ObjectLambdaExists, ObjectLambdaQuotaExceeded, tables.object_lambda_access_points
)


def new_object_lambda_alias(name: str) -> str:
    return named_points.random_alias(
        name, prefix=_ALIAS_PREFIX, random=_ALIAS_RANDOM, suffix=OBJECT_LAMBDA_ALIAS_SUFFIX
    )


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


class ObjectLambdaStore(named_points.NamedPointStore[ObjectLambdaAccessPoint], Protocol):
    async def set_configuration(
        self, tenant_id: str, name: str, configuration: ObjectLambdaConfiguration
    ) -> bool: ...


class MemoryObjectLambdaStore(named_points.MemoryNamedPoints[ObjectLambdaAccessPoint]):
    """The in-memory twin (tests, apps built without a database)."""

    kind = _KIND

    async def set_configuration(
        self, tenant_id: str, name: str, configuration: ObjectLambdaConfiguration
    ) -> bool:
        return self._change(
            tenant_id, name, lambda found: replace(found, configuration=configuration)
        )


class SqlObjectLambdaStore(named_points.SqlNamedPoints[ObjectLambdaAccessPoint]):
    """Object Lambda access points in the metadata database."""

    kind = _KIND

    def _columns(self, point: ObjectLambdaAccessPoint) -> dict[str, object]:
        return {
            "configuration": point.configuration.to_json(),
            "format_version": _FORMAT_VERSION,
        }

    def _point(self, row: sa.Row[tuple[object, ...]]) -> ObjectLambdaAccessPoint:
        m = row._mapping
        return ObjectLambdaAccessPoint(
            tenant_id=m["tenant_id"],
            name=m["name"],
            alias=m["alias"],
            configuration=ObjectLambdaConfiguration.from_json(m["configuration"]),
            created_at=m["created_at"],
            policy=m["policy"],
        )

    async def set_configuration(
        self, tenant_id: str, name: str, configuration: ObjectLambdaConfiguration
    ) -> bool:
        return await self._update(tenant_id, name, configuration=configuration.to_json())
