"""Decision 0285's health check store over every implementation (memory, SQLite,
PostgreSQL): a check kept as written, its definition replaced by revision (a stale one
refused) and its status apart; one caller reference an account, a deleted check's included;
the rounds claimed by one gateway; found by id for DNS; a closed tenant's checks forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.route53.health_errors import HealthCheckChanged
from andromede.route53.health_memory import MemoryHealthCheckStore
from andromede.route53.health_model import (
    AlarmIdentifier,
    HealthCheck,
    HealthCheckConfig,
    HealthStatus,
    Observation,
    completed,
)
from andromede.route53.health_store import HealthCheckStore
from andromede.route53.health_store_sql import SqlHealthCheckStore
from support.store_backends import BACKENDS, backend_database

A, B = "000000000001", "000000000002"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HealthCheckStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryHealthCheckStore() if db is None else SqlHealthCheckStore(db)


def check(check_id: str, tenant_id: str = A, **fields: object) -> HealthCheck:
    config = completed(
        HealthCheckConfig(
            type="HTTPS_STR_MATCH", fqdn="www.example.com", search_string="ok",
            regions=("us-east-1", "eu-west-1", "sa-east-1"),
        )
    )  # fmt: skip
    made = HealthCheck(
        tenant_id=tenant_id,
        health_check_id=check_id,
        caller_reference=f"ref-{check_id}",
        config=config,
        created=1_800_000_000_000,
        tags=(("team", "web"),),
    )
    return made.replaced(**fields)


async def test_kept_as_written_replaced_by_revision_and_deleted(store: HealthCheckStore) -> None:
    first = check("h1")
    await store.create(first)
    assert await store.get(A, "h1") == first
    assert await store.get(B, "h1") is None
    assert await store.by_reference(A, "ref-h1") == (first, False)
    with pytest.raises(HealthCheckChanged):
        await store.create(check("h9", caller_reference="ref-h1"))
    metric = completed(
        HealthCheckConfig(type="CLOUDWATCH_METRIC", alarm=AlarmIdentifier("eu-west-1", "cpu"))
    )
    second = first.replaced(config=metric, version=2, revision=2, tags=())
    await store.replace(second)
    assert await store.get(A, "h1") == second
    with pytest.raises(HealthCheckChanged):
        await store.replace(first.replaced(revision=2, tags=(("stale", "1"),)))
    with pytest.raises(HealthCheckChanged):
        await store.delete(A, "h1", 1)
    await store.delete(A, "h1", 2)
    assert await store.get(A, "h1") is None
    assert await store.find("h1") is None
    assert await store.checks(A) == []
    found = await store.by_reference(A, "ref-h1")
    assert found is not None and found[1] is True  # the reference stays used
    with pytest.raises(HealthCheckChanged):
        await store.create(check("h2", caller_reference="ref-h1"))


async def test_rounds_are_claimed_once_and_status_kept_apart(store: HealthCheckStore) -> None:
    await store.create(check("h1"))
    await store.create(check("h2", tenant_id=B))
    due = await store.due(1_000, 10)
    assert [(c.health_check_id, token) for c, token in due] == [("h1", 0), ("h2", 0)]
    assert await store.due(1_000, 1) == due[:1]
    assert await store.claim("h1", 0, 31_000) is True
    assert await store.claim("h1", 0, 31_000) is False  # another gateway came second
    assert [c.health_check_id for c, _ in await store.due(1_000, 10)] == ["h2"]
    tokens = [t for c, t in await store.due(31_000, 10) if c.health_check_id == "h1"]
    assert tokens == [1]
    seen = Observation("eu-fr-1", "10.0.0.5", "Failure: HTTP Status Code 500", 5_000)
    status = HealthStatus(False, 0, (seen,), (seen,), 5_000)
    await store.set_status("h1", status)
    got = await store.get(A, "h1")
    assert got is not None and got.status == status
    # A definition written after the status keeps the status.
    await store.replace(got.replaced(tags=(), revision=got.revision + 1))
    kept = await store.find("h1")
    assert kept is not None and kept.status == status and kept.tags == ()
    assert await store.forget_tenant(A) == 1
    assert await store.find("h1") is None
    assert [c.health_check_id for c in await store.checks(B)] == ["h2"]
