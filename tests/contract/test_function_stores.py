"""Decision 0286's function store over every implementation (memory, SQLite, PostgreSQL): a
function kept with its record and ``$LATEST`` as written; one name an account;
compare-and-set on the record's version and on ``$LATEST``'s revision; published versions
written once, listed in order; sealed code kept while a version uses it; a closed tenant's
functions forgotten."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.errors import FunctionChanged
from andromede.functions.layer_model import FunctionLayer
from andromede.functions.memory import MemoryFunctionStore
from andromede.functions.model import LATEST, Alias, FunctionRecord, FunctionVersion
from andromede.functions.store import FunctionStore
from andromede.functions.store_sql import SqlFunctionStore
from support.store_backends import BACKENDS, backend_database

TENANT = "000000000001"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FunctionStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryFunctionStore() if db is None else SqlFunctionStore(db)


def record(name: str, tenant_id: str = TENANT) -> FunctionRecord:
    return FunctionRecord(tenant_id=tenant_id, name=name, created=1_800_000_000_000)


def latest(name: str, tenant_id: str = TENANT, **fields: object) -> FunctionVersion:
    made = FunctionVersion(
        tenant_id=tenant_id,
        name=name,
        version=LATEST,
        runtime="python3.11",
        role=f"arn:aws:iam::{tenant_id}:role/fn",
        handler="app.handler",
        code_sha256="c2hh",
        code_size=120,
        revision_id="r1",
        last_modified=1_800_000_000_000,
        sealed_environment=b"\x01sealed",
    )
    return dataclasses.replace(made, **fields)  # type: ignore[arg-type]


async def test_kept_as_written_and_replaced_by_version(store: FunctionStore) -> None:
    await store.create(record("fn"), latest("fn"))
    assert await store.get(TENANT, "fn") == record("fn")
    assert await store.version(TENANT, "fn", LATEST) == latest("fn")
    assert await store.get("000000000002", "fn") is None
    with pytest.raises(FunctionChanged):
        await store.create(record("fn"), latest("fn"))
    changed = record("fn").replaced(
        tags=(("team", "web"),),
        aliases=(Alias("live", "1", "prod", "ra", (("2", 0.25),)),),
        policies=(("", '{"Statement":[]}'),),
        reserved_concurrency=10,
        last_version=1,
    )
    await store.replace(changed)
    assert await store.get(TENANT, "fn") == changed
    with pytest.raises(FunctionChanged):
        await store.replace(record("fn").replaced(tags=(("stale", "1"),)))
    assert [r.name for r in await store.records(TENANT)] == ["fn"]


async def test_latest_by_revision_and_versions_in_order(store: FunctionStore) -> None:
    await store.create(record("fn"), latest("fn"))
    await store.create(record("another"), latest("another"))
    newer = latest("fn", revision_id="r2", timeout=30, code_sha256="bmV3")
    await store.replace_latest(newer, "r1")
    with pytest.raises(FunctionChanged):
        await store.replace_latest(latest("fn", revision_id="r3"), "r1")
    assert await store.version(TENANT, "fn", LATEST) == newer
    for number in ("2", "1", "10"):
        await store.add_version(newer.replaced(version=number))
    with pytest.raises(FunctionChanged):
        await store.add_version(newer.replaced(version="1"))
    assert [v.version for v in await store.versions(TENANT, "fn")] == [LATEST, "1", "2", "10"]
    assert [v.name for v in await store.latest_versions(TENANT)] == ["another", "fn"]
    assert await store.delete_version(TENANT, "fn", "2")
    assert not await store.delete_version(TENANT, "fn", "2")
    assert await store.code_bytes(TENANT) == 120 * 4


async def test_code_kept_while_used(store: FunctionStore) -> None:
    await store.create(record("fn"), latest("fn"))
    await store.put_code(TENANT, "fn", "c2hh", b"sealed-1")
    await store.put_code(TENANT, "fn", "c2hh", b"sealed-again")
    await store.put_code(TENANT, "fn", "bmV3", b"sealed-2")
    assert await store.code(TENANT, "fn", "c2hh") == b"sealed-1"
    assert await store.drop_unused_code(TENANT, "fn") == 1
    assert await store.code(TENANT, "fn", "bmV3") is None
    assert await store.code(TENANT, "fn", "c2hh") == b"sealed-1"


async def test_deleted_and_tenant_forgotten(store: FunctionStore) -> None:
    await store.create(record("fn"), latest("fn"))
    await store.put_code(TENANT, "fn", "c2hh", b"sealed")
    await store.create(record("fn", "000000000002"), latest("fn", "000000000002"))
    assert await store.delete(TENANT, "fn")
    assert not await store.delete(TENANT, "fn")
    assert await store.version(TENANT, "fn", LATEST) is None
    assert await store.code(TENANT, "fn", "c2hh") is None
    await store.create(record("again"), latest("again"))
    assert await store.forget_tenant(TENANT) == 1
    assert await store.records(TENANT) == []
    assert await store.get("000000000002", "fn") is not None


async def test_a_versions_signature_is_kept(store: FunctionStore) -> None:
    """Decision 0394: the deployed package's signing profile version and job."""
    signed = latest(
        "signed",
        signing_profile_version_arn=f"arn:aws:signer:eu-fr-1:{TENANT}:/signing-profiles/p/v",
        signing_job_arn=f"arn:aws:signer:eu-fr-1:{TENANT}:/signing-jobs/j",
        layers=(
            FunctionLayer(f"arn:aws:lambda:eu-fr-1:{TENANT}:layer:l:1", 10, 20, "pv", "job"),
            FunctionLayer(f"arn:aws:lambda:eu-fr-1:{TENANT}:layer:m:1", 10, 20),
        ),
    )
    await store.create(record("signed"), signed)
    assert await store.version(TENANT, "signed", LATEST) == signed
