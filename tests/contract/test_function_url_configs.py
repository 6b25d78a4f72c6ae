"""Decision 0312's function URL store over every implementation (memory, SQLite,
PostgreSQL): kept per function and qualifier and read back whole (its CORS too), found by
its url-id, a second one for the same qualifier or url-id refused, replaced in place,
listed by qualifier, deleted one qualifier or the whole function's, and a closed tenant's
forgotten — never another account's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.url_configs import (
    FunctionUrlConfig,
    MemoryUrlConfigStore,
    UrlConfigStore,
    UrlCors,
    new_url_id,
)
from andromede.functions.url_configs_sql import SqlUrlConfigStore
from support.store_backends import BACKENDS, backend_database

ONE = "000000000001"
TWO = "000000000002"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UrlConfigStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryUrlConfigStore() if db is None else SqlUrlConfigStore(db)


def config(
    qualifier: str = "$LATEST", tenant_id: str = ONE, name: str = "fn", url_id: str = ""
) -> FunctionUrlConfig:
    return FunctionUrlConfig(
        tenant_id=tenant_id,
        name=name,
        qualifier=qualifier,
        url_id=url_id or new_url_id(),
        auth_type="NONE",
        cors=UrlCors(
            allow_credentials=True,
            allow_methods=("GET", "POST"),
            allow_origins=("https://example.com",),
            max_age=60,
        ),
        invoke_mode="RESPONSE_STREAM",
        created=1000,
        last_modified=2000,
    )


async def test_kept_found_by_url_id_and_never_twice(store: UrlConfigStore) -> None:
    made = config()
    assert await store.create(made)
    assert await store.get(ONE, "fn", "$LATEST") == made
    assert await store.by_url_id(made.url_id) == made
    assert await store.by_url_id(new_url_id()) is None
    assert await store.get(TWO, "fn", "$LATEST") is None
    assert not await store.create(config())  # the qualifier has one
    assert not await store.create(config("live", url_id=made.url_id))  # the url-id is taken
    assert await store.get(ONE, "fn", "live") is None


async def test_replaced_in_place(store: UrlConfigStore) -> None:
    made = config()
    await store.create(made)
    changed = made.replaced(auth_type="AWS_IAM", cors=None, last_modified=3000)
    await store.replace(changed)
    again = await store.get(ONE, "fn", "$LATEST")
    assert again == changed and again.url_id == made.url_id and again.cors is None


async def test_listed_and_deleted_by_qualifier_or_function(store: UrlConfigStore) -> None:
    for qualifier in ("live", "$LATEST", "beta"):
        await store.create(config(qualifier))
    await store.create(config(name="other"))
    await store.create(config(tenant_id=TWO))
    assert [c.qualifier for c in await store.configs(ONE, "fn")] == ["$LATEST", "beta", "live"]
    assert await store.delete(ONE, "fn", "beta") == 1
    assert [c.qualifier for c in await store.configs(ONE, "fn")] == ["$LATEST", "live"]
    assert await store.delete(ONE, "fn", None) == 2
    assert await store.configs(ONE, "fn") == []
    assert await store.get(ONE, "other", "$LATEST") is not None
    assert await store.get(TWO, "fn", "$LATEST") is not None


async def test_a_closed_tenants_forgotten(store: UrlConfigStore) -> None:
    await store.create(config())
    await store.create(config(name="b"))
    kept = config(tenant_id=TWO)
    await store.create(kept)
    assert await store.forget_tenant(ONE) == 2
    assert await store.configs(ONE, "fn") == [] and await store.configs(ONE, "b") == []
    assert await store.get(TWO, "fn", "$LATEST") == kept
