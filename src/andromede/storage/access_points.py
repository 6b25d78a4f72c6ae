"""S3 access points (decision 0157): the access point as stored, AWS's rules for its name and
its alias, and its store — one Protocol, a memory twin and the SQL store (SQLite or
PostgreSQL, the table of migration 0070).

An access point is an account's named door onto one bucket, with its own policy and its own
Block Public Access (all four switches on unless the creator says otherwise, as on AWS). Its
alias (``<name>-<random>-s3alias``) is a bucket-shaped name the S3 API accepts wherever a
bucket name goes; the alias is unique across all accounts, the name within one account. An
access point made with a ``VpcConfiguration`` keeps its VPC (column of migration 0074): only
requests through a VPC endpoint of that VPC pass it. Its tags (decision 0392: TagResource,
CreateAccessPoint's ``Tags``) live in the row's ``tags`` column (migration 0159), changed in
one transaction so that two taggings never lose one another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.storage import named_points
from andromede.storage.model import AccessPointUse, PublicAccessBlock

__all__ = [
    "ALIAS_SUFFIX",
    "AccessPoint",
    "AccessPointExists",
    "AccessPointQuotaExceeded",
    "AccessPointStore",
    "MemoryAccessPointStore",
    "SqlAccessPointStore",
    "Tags",
    "access_point_name_problem",
    "new_alias",
]

ALIAS_SUFFIX = "-s3alias"
# AWS: 3 to 50 characters, lower-case letters, digits and hyphens, beginning and ending with
# a letter or a digit; not an IP address, not "xn--…", not "…-s3alias".
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,48}[a-z0-9]")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
# An alias is a bucket name (at most 63 characters): the name's first 40, a hyphen, 14 random
# characters, "-s3alias" — AWS's shape (its random part is longer; clients treat it opaque).
_ALIAS_PREFIX = 40
_ALIAS_RANDOM = 14
# The row's format: policy text as sent; ``public_access_block`` PublicAccessBlock's JSON
# (format 1), the tags a JSON list of [key, value] pairs in their own column. Format 2 (decision
# 0392, before migration 0159) put a settings document {"block": [...], "tags": [...]} in
# ``public_access_block``: this release writes format 1 again, which every release reads (0392's
# reads format 2 as that document and would fail on a format 3), and still reads format 2: a
# gateway of 0392's release that tags during a rolling upgrade writes it after the migration.
_FORMAT_VERSION = 1
Tags = tuple[tuple[str, str], ...]
# A change of an access point's tags, made in the store's transaction: the tags it had, the
# tags it gets (it may raise to refuse the change, which is then not made).
TagChange = Callable[[Tags], Tags]


class AccessPointExists(named_points.PointExists):
    """The account already has an access point of that name."""


class AccessPointQuotaExceeded(named_points.PointQuotaExceeded):
    """The account has as many access points as the quota allows."""


_KIND = named_points.PointKind(AccessPointExists, AccessPointQuotaExceeded, tables.access_points)


def access_point_name_problem(name: str) -> str | None:
    """Which of AWS's naming rules ``name`` breaks (None: a valid name)."""
    if not _NAME.fullmatch(name):
        return (
            "must be 3 to 50 lower-case letters, digits or hyphens, beginning and ending with "
            "a letter or a digit"
        )
    if name.startswith("xn--"):
        return "must not begin with 'xn--'"
    if name.endswith(ALIAS_SUFFIX):
        return f"must not end with {ALIAS_SUFFIX!r}"
    if _IPV4.fullmatch(name):
        return "must not be formatted as an IP address"
    return None


def new_alias(name: str) -> str:
    """A fresh alias for an access point named ``name``."""
    return named_points.random_alias(
        name, prefix=_ALIAS_PREFIX, random=_ALIAS_RANDOM, suffix=ALIAS_SUFFIX
    )


@dataclass(frozen=True, slots=True)
class AccessPoint:
    tenant_id: str
    name: str
    bucket: str
    bucket_account: str
    alias: str
    public_access_block: PublicAccessBlock
    created_at: datetime
    policy: str | None = None  # the access point policy's JSON text, as sent
    vpc_id: str | None = None  # network origin VPC (None: Internet)
    tags: Tags = ()

    @property
    def network_origin(self) -> str:
        return "Internet" if self.vpc_id is None else "VPC"

    def arn(self, region: str) -> str:
        return f"arn:aws:s3:{region}:{self.tenant_id}:accesspoint/{self.name}"

    def use(self, region: str) -> AccessPointUse:
        """What a request through this access point carries to the authoriser."""
        return AccessPointUse(
            arn=self.arn(region),
            account=self.tenant_id,
            policy=self.policy,
            public_access_block=self.public_access_block,
            vpc_id=self.vpc_id,
        )


class AccessPointStore(named_points.NamedPointStore[AccessPoint], Protocol):
    async def list(
        self, tenant_id: str, *, after: str | None, limit: int, bucket: str | None = None
    ) -> Sequence[AccessPoint]:
        """The account's access points by name, those after ``after`` (a name), at most
        ``limit``; only ``bucket``'s when it is given."""
        ...

    async def change_tags(self, tenant_id: str, name: str, change: TagChange) -> bool:
        """Apply ``change`` to the access point's tags, atomically (False: no such access
        point); an exception ``change`` raises leaves them as they were."""
        ...


class MemoryAccessPointStore(named_points.MemoryNamedPoints[AccessPoint]):
    """The in-memory twin (tests, apps built without a database)."""

    kind = _KIND

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int, bucket: str | None = None
    ) -> Sequence[AccessPoint]:
        return self._page(
            tenant_id, after=after, limit=limit, keep=lambda p: bucket is None or p.bucket == bucket
        )

    async def change_tags(self, tenant_id: str, name: str, change: TagChange) -> bool:
        return self._change(tenant_id, name, lambda found: replace(found, tags=change(found.tags)))


def _tags_json(tags: Tags) -> str:
    return json.dumps([list(t) for t in tags])


def _pairs(items: Sequence[Sequence[object]]) -> dict[str, str]:
    return {str(k): str(v) for k, v in items}


def _settings(text: str, format_version: int, tags: str) -> tuple[PublicAccessBlock, Tags]:
    """The Block Public Access and tags of a row (its ``public_access_block``, ``format_version``
    and ``tags`` columns)."""
    if format_version < 2:
        return PublicAccessBlock.from_json(text), tuple(_pairs(json.loads(tags)).items())
    # Written by a gateway of 0392's release since migration 0159: it saw no tags in the
    # column, so its document holds what it added; over the column's, key by key.
    document = json.loads(text)
    block = PublicAccessBlock.from_json(json.dumps(document["block"]))
    return block, tuple((_pairs(json.loads(tags)) | _pairs(document["tags"])).items())


class SqlAccessPointStore(named_points.SqlNamedPoints[AccessPoint]):
    """Access points in the metadata database."""

    kind = _KIND

    def _columns(self, point: AccessPoint) -> dict[str, object]:
        return {
            "bucket": point.bucket,
            "bucket_account": point.bucket_account,
            "vpc_id": point.vpc_id,
            "public_access_block": point.public_access_block.to_json(),
            "format_version": _FORMAT_VERSION,
            "tags": _tags_json(point.tags),
        }

    def _point(self, row: sa.Row[tuple[object, ...]]) -> AccessPoint:
        m = row._mapping
        block, tags = _settings(m["public_access_block"], m["format_version"], m["tags"])
        return AccessPoint(
            tenant_id=m["tenant_id"],
            name=m["name"],
            bucket=m["bucket"],
            bucket_account=m["bucket_account"],
            alias=m["alias"],
            public_access_block=block,
            created_at=m["created_at"],
            policy=m["policy"],
            vpc_id=m["vpc_id"],
            tags=tags,
        )

    async def list(
        self, tenant_id: str, *, after: str | None, limit: int, bucket: str | None = None
    ) -> Sequence[AccessPoint]:
        where = () if bucket is None else (self.table.c.bucket == bucket,)
        return await self._page(tenant_id, after=after, limit=limit, where=where)

    async def change_tags(self, tenant_id: str, name: str, change: TagChange) -> bool:
        t = self.table
        where = self._named(tenant_id, name)
        query = sa.select(t.c.public_access_block, t.c.format_version, t.c.tags).where(*where)
        query = query.with_for_update()

        def work(conn: Connection) -> bool:
            row = conn.execute(query).first()
            if row is None:
                return False
            block, tags = _settings(row.public_access_block, row.format_version, row.tags)
            # A format-2 row (0392's gateway wrote it) is rewritten as format 1, its Block
            # Public Access and tags kept.
            conn.execute(
                t.update()
                .where(*where)
                .values(
                    public_access_block=block.to_json(),
                    format_version=_FORMAT_VERSION,
                    tags=_tags_json(change(tags)),
                )
            )
            return True

        return await self._db.write(work)
