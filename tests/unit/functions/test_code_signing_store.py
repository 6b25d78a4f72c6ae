"""The code signing configurations' stores (decision 0386), one contract for the memory twin,
SQLite and PostgreSQL: configurations written over, the function's configuration attached
once, the functions using a configuration, a tenant's rows forgotten and no other's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.code_signing import (
    CodeSigningConfig,
    CodeSigningStore,
    MemoryCodeSigningStore,
)
from andromede.functions.code_signing_sql import SqlCodeSigningStore
from support.store_backends import BACKENDS, backend_database

ARN = "arn:aws:signer:eu-fr-1:111111111111:/signing-profiles/ci/abcdefghij"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CodeSigningStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryCodeSigningStore() if db is None else SqlCodeSigningStore(db)


def _config(tenant: str, config_id: str, policy: str = "Warn") -> CodeSigningConfig:
    return CodeSigningConfig(tenant, config_id, (ARN,), policy, "d", 1_800_000_000_000)


async def test_the_contract(store: CodeSigningStore) -> None:
    first, second = "csc-aaaaaaaaaaaaaaaaa", "csc-bbbbbbbbbbbbbbbbb"
    await store.put(_config("t1", second))
    await store.put(_config("t1", first))
    await store.put(_config("t1", first, "Enforce"))  # written over
    await store.put(_config("t2", first))
    assert await store.get("t1", first) == _config("t1", first, "Enforce")
    assert [c.config_id for c in await store.configs("t1")] == [first, second]
    assert await store.get("t3", first) is None
    await store.attach("t1", "fn", second)
    await store.attach("t1", "fn", first)  # a function has one configuration
    await store.attach("t1", "other", first)
    assert await store.attached("t1", "fn") == first
    assert await store.functions("t1", first) == ["fn", "other"]
    assert await store.functions("t1", second) == []
    await store.detach("t1", "fn")
    assert await store.attached("t1", "fn") is None
    await store.delete("t1", second)
    assert await store.get("t1", second) is None
    assert await store.forget_tenant("t1") == 2  # one configuration, one function's
    assert await store.configs("t1") == [] and await store.attached("t1", "other") is None
    assert [c.config_id for c in await store.configs("t2")] == [first]
