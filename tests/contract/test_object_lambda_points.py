"""The Object Lambda access point store (decisions 0384, 0399) on memory, SQLite and
PostgreSQL: found by account and name, and by its alias from any account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.storage.object_lambda_points import (
    MemoryObjectLambdaStore,
    ObjectLambdaAccessPoint,
    ObjectLambdaConfiguration,
    ObjectLambdaStore,
    SqlObjectLambdaStore,
    Transformation,
    new_object_lambda_alias,
)
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectLambdaStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryObjectLambdaStore() if db is None else SqlObjectLambdaStore(db)


async def test_found_by_alias_from_any_account(store: ObjectLambdaStore) -> None:
    configuration = ObjectLambdaConfiguration(
        "arn:aws:s3:eu-west-3:111111111111:accesspoint/data",
        (Transformation(("GetObject",), "arn:aws:lambda:eu-west-3:111111111111:function:f"),),
    )
    point = ObjectLambdaAccessPoint("111111111111", "upper", new_object_lambda_alias("upper"),
        configuration, NOW)  # fmt: skip
    await store.create(point, quota=10)
    assert await store.by_alias(point.alias) == point
    assert await store.by_alias("upper-nobody--ol-s3") is None
    assert await store.delete("111111111111", "upper")
    assert await store.by_alias(point.alias) is None
