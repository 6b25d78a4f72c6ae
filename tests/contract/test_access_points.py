"""The S3 access point store (decision 0157) on memory, SQLite and PostgreSQL: created once
per account and name, the quota, the alias unique across accounts and found from any account,
listed by name page by page and by bucket, the policy set and removed, deleted; the tags
(decision 0392, their column of migration 0159) kept and changed atomically."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.storage.access_points import (
    AccessPoint,
    AccessPointExists,
    AccessPointQuotaExceeded,
    AccessPointStore,
    MemoryAccessPointStore,
    SqlAccessPointStore,
    new_alias,
)
from andromede.storage.model import PublicAccessBlock
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AccessPointStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryAccessPointStore() if db is None else SqlAccessPointStore(db)


def point(name: str, *, tenant: str = "111111111111", bucket: str = "b1",
          alias: str | None = None) -> AccessPoint:  # fmt: skip
    return AccessPoint(
        tenant_id=tenant,
        name=name,
        bucket=bucket,
        bucket_account="111111111111",
        alias=alias or new_alias(name),
        public_access_block=PublicAccessBlock(True, False, True, False),
        created_at=NOW,
    )


async def test_create_get_by_alias_and_delete(store: AccessPointStore) -> None:
    created = point("app")
    await store.create(created, quota=10)
    assert await store.get("111111111111", "app") == created
    assert await store.by_alias(created.alias) == created
    assert await store.get("222222222222", "app") is None
    assert await store.delete("111111111111", "app")
    assert not await store.delete("111111111111", "app")
    assert await store.get("111111111111", "app") is None
    assert await store.by_alias(created.alias) is None


async def test_the_vpc_is_kept(store: AccessPointStore) -> None:
    """Decision 0157's addendum: an access point restricted to a VPC reads back with it."""
    inside = dataclasses.replace(point("inside"), vpc_id="vpc-0aaaaaaaaaaaaaaaa")
    await store.create(inside, quota=10)
    assert await store.get("111111111111", "inside") == inside
    found = await store.by_alias(inside.alias)
    assert found is not None and found.use("eu-fr-1").vpc_id == "vpc-0aaaaaaaaaaaaaaaa"
    assert found.network_origin == "VPC" and point("x").network_origin == "Internet"


async def test_a_name_is_the_accounts_once(store: AccessPointStore) -> None:
    await store.create(point("app"), quota=10)
    with pytest.raises(AccessPointExists):
        await store.create(point("app", bucket="b2"), quota=10)
    # Another account may use the name.
    await store.create(point("app", tenant="222222222222"), quota=10)
    # An alias is unique across accounts.
    taken = point("x", alias="dup-aaaaaaaaaaaaaa-s3alias")
    await store.create(taken, quota=10)
    with pytest.raises(AccessPointExists):
        await store.create(point("y", tenant="333333333333", alias=taken.alias), quota=10)


async def test_the_quota_counts_the_accounts_own(store: AccessPointStore) -> None:
    await store.create(point("a1"), quota=2)
    await store.create(point("a2"), quota=2)
    with pytest.raises(AccessPointQuotaExceeded):
        await store.create(point("a3"), quota=2)
    await store.create(point("a3", tenant="222222222222"), quota=2)
    assert await store.delete("111111111111", "a1")
    await store.create(point("a3"), quota=2)


async def test_list_by_name_pages_and_bucket(store: AccessPointStore) -> None:
    for name, bucket in [("c", "b1"), ("a", "b2"), ("b", "b1"), ("d", "b2")]:
        await store.create(point(name, bucket=bucket), quota=10)
    await store.create(point("e", tenant="222222222222"), quota=10)
    names = [p.name for p in await store.list("111111111111", bucket=None, after=None, limit=10)]
    assert names == ["a", "b", "c", "d"]
    page = await store.list("111111111111", bucket=None, after="b", limit=1)
    assert [p.name for p in page] == ["c"]
    by_bucket = await store.list("111111111111", bucket="b2", after=None, limit=10)
    assert [p.name for p in by_bucket] == ["a", "d"]


async def test_the_policy_is_set_and_removed(store: AccessPointStore) -> None:
    await store.create(point("app"), quota=10)
    assert await store.set_policy("111111111111", "app", '{"Statement": []}')
    found = await store.get("111111111111", "app")
    assert found is not None
    assert found.policy == '{"Statement": []}'
    assert await store.set_policy("111111111111", "app", None)
    found = await store.get("111111111111", "app")
    assert found is not None
    assert found.policy is None
    assert not await store.set_policy("222222222222", "app", "{}")


async def test_tags_are_kept_and_changed_in_place(store: AccessPointStore) -> None:
    # Decision 0392: the first tags come with the access point, TagResource and UntagResource
    # change them through change_tags, and the rest of the access point stays as it was.
    created = dataclasses.replace(point("app"), tags=(("team", "blue"),))
    await store.create(created, quota=10)
    assert (await store.get("111111111111", "app")) == created
    assert await store.change_tags("111111111111", "app", lambda tags: (*tags, ("env", "prod")))
    found = await store.get("111111111111", "app")
    assert found is not None
    assert found.tags == (("team", "blue"), ("env", "prod"))
    assert found.public_access_block == created.public_access_block
    assert await store.by_alias(created.alias) == found
    assert not await store.change_tags("222222222222", "app", lambda tags: ())
    assert not await store.change_tags("111111111111", "nope", lambda tags: ())


async def test_a_refused_tag_change_changes_nothing(store: AccessPointStore) -> None:
    await store.create(dataclasses.replace(point("app"), tags=(("a", "1"),)), quota=10)

    def refuse(tags: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        raise ValueError("too many")

    with pytest.raises(ValueError):
        await store.change_tags("111111111111", "app", refuse)
    found = await store.get("111111111111", "app")
    assert found is not None and found.tags == (("a", "1"),)


async def test_tag_changes_at_once_lose_none(store: AccessPointStore) -> None:
    # Each change reads the tags and writes them back in one transaction (the row locked on
    # PostgreSQL): changes made at once all land, none overwrites another's key.
    await store.create(dataclasses.replace(point("app"), tags=(("a", "1"),)), quota=10)

    async def add(key: str) -> bool:
        return await store.change_tags("111111111111", "app", lambda tags: (*tags, (key, "v")))

    assert all(await asyncio.gather(*(add(f"k{n}") for n in range(8))))
    found = await store.get("111111111111", "app")
    assert found is not None
    assert dict(found.tags) == {"a": "1"} | {f"k{n}": "v" for n in range(8)}
    assert found.public_access_block == point("x").public_access_block
