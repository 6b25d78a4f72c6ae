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
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.errors import AndromedeError
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
_ALPHABET = string.ascii_lowercase + string.digits
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


class AccessPointExists(AndromedeError):
    """The account already has an access point of that name."""


class AccessPointQuotaExceeded(AndromedeError):
    """The account has as many access points as the quota allows."""


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
    random = "".join(secrets.choice(_ALPHABET) for _ in range(_ALIAS_RANDOM))
    return f"{name[:_ALIAS_PREFIX].rstrip('-')}-{random}{ALIAS_SUFFIX}"


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


class AccessPointStore(Protocol):
    async def create(self, access_point: AccessPoint, *, quota: int) -> None:
        """:class:`AccessPointExists`, :class:`AccessPointQuotaExceeded`."""
        ...

    async def get(self, tenant_id: str, name: str) -> AccessPoint | None: ...

    async def by_alias(self, alias: str) -> AccessPoint | None: ...

    async def list(
        self, tenant_id: str, *, bucket: str | None, after: str | None, limit: int
    ) -> Sequence[AccessPoint]:
        """The account's access points by name, those after ``after`` (a name), at most
        ``limit``; only ``bucket``'s when it is given."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...

    async def set_policy(self, tenant_id: str, name: str, policy: str | None) -> bool: ...

    async def change_tags(self, tenant_id: str, name: str, change: TagChange) -> bool:
        """Apply ``change`` to the access point's tags, atomically (False: no such access
        point); an exception ``change`` raises leaves them as they were."""
        ...


class MemoryAccessPointStore:
    """The in-memory twin (tests, apps built without a database)."""

    def __init__(self) -> None:
        self._points: dict[tuple[str, str], AccessPoint] = {}

    async def create(self, access_point: AccessPoint, *, quota: int) -> None:
        key = (access_point.tenant_id, access_point.name)
        if key in self._points:
            raise AccessPointExists(access_point.name)
        if sum(1 for t, _ in self._points if t == access_point.tenant_id) >= quota:
            raise AccessPointQuotaExceeded(access_point.tenant_id)
        if any(p.alias == access_point.alias for p in self._points.values()):
            raise AccessPointExists(access_point.alias)
        self._points[key] = access_point

    async def get(self, tenant_id: str, name: str) -> AccessPoint | None:
        return self._points.get((tenant_id, name))

    async def by_alias(self, alias: str) -> AccessPoint | None:
        return next((p for p in self._points.values() if p.alias == alias), None)

    async def list(
        self, tenant_id: str, *, bucket: str | None, after: str | None, limit: int
    ) -> Sequence[AccessPoint]:
        found = sorted(
            (
                p
                for (t, name), p in self._points.items()
                if t == tenant_id
                and (bucket is None or p.bucket == bucket)
                and (after is None or name > after)
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

    async def change_tags(self, tenant_id: str, name: str, change: TagChange) -> bool:
        found = self._points.get((tenant_id, name))
        if found is None:
            return False
        self._points[(tenant_id, name)] = replace(found, tags=change(found.tags))
        return True


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


_T = tables.access_points


def _access_point(row: sa.Row[tuple[object, ...]]) -> AccessPoint:
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


class SqlAccessPointStore:
    """Access points in the metadata database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, access_point: AccessPoint, *, quota: int) -> None:
        count_q = sa.select(sa.func.count()).where(_T.c.tenant_id == access_point.tenant_id)
        exists_q = sa.select(_T.c.name).where(
            _T.c.tenant_id == access_point.tenant_id, _T.c.name == access_point.name
        )
        row = {
            "tenant_id": access_point.tenant_id,
            "name": access_point.name,
            "bucket": access_point.bucket,
            "bucket_account": access_point.bucket_account,
            "alias": access_point.alias,
            "policy": access_point.policy,
            "vpc_id": access_point.vpc_id,
            "public_access_block": access_point.public_access_block.to_json(),
            "format_version": _FORMAT_VERSION,
            "tags": _tags_json(access_point.tags),
            "created_at": access_point.created_at,
        }

        def work(conn: Connection) -> None:
            if conn.execute(exists_q).first() is not None:
                raise AccessPointExists(access_point.name)
            # Two gateways creating the account's last allowed ones at once may both pass
            # this count: the quota is a guard against runaway scripts, not a billing line.
            if int(conn.execute(count_q).scalar_one()) >= quota:
                raise AccessPointQuotaExceeded(access_point.tenant_id)
            conn.execute(_T.insert(), [row])

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            # The same name created at once through another gateway (or, once in an age, an
            # alias drawn twice): the other's row stands.
            raise AccessPointExists(access_point.name) from exc

    async def get(self, tenant_id: str, name: str) -> AccessPoint | None:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.name == name)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _access_point(row)

    async def by_alias(self, alias: str) -> AccessPoint | None:
        query = sa.select(_T).where(_T.c.alias == alias)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _access_point(row)

    async def list(
        self, tenant_id: str, *, bucket: str | None, after: str | None, limit: int
    ) -> Sequence[AccessPoint]:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id)
        if bucket is not None:
            query = query.where(_T.c.bucket == bucket)
        if after is not None:
            query = query.where(_T.c.name > after)
        query = query.order_by(_T.c.name).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [_access_point(row) for row in rows]

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

    async def change_tags(self, tenant_id: str, name: str, change: TagChange) -> bool:
        where = (_T.c.tenant_id == tenant_id, _T.c.name == name)
        columns = (_T.c.public_access_block, _T.c.format_version, _T.c.tags)
        query = sa.select(*columns).where(*where).with_for_update()

        def work(conn: Connection) -> bool:
            row = conn.execute(query).first()
            if row is None:
                return False
            block, tags = _settings(row.public_access_block, row.format_version, row.tags)
            # A format-2 row (0392's gateway wrote it) is rewritten as format 1, its Block
            # Public Access and tags kept.
            conn.execute(
                _T.update()
                .where(*where)
                .values(
                    public_access_block=block.to_json(),
                    format_version=_FORMAT_VERSION,
                    tags=_tags_json(change(tags)),
                )
            )
            return True

        return await self._db.write(work)
