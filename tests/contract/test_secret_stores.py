"""Decision 0190's secret store over every implementation (memory, SQLite, PostgreSQL): a
secret created once per name, read back whole; its versions written against the revision
read (a stale writer changes nothing); relabelled and dropped in one write; touched;
listed per account and region; purged once due. And the canary: through the real service and
KMS envelope over a SQLite file, no byte of a value reaches the database in clear."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.secrets.errors import Conflict, SecretExists
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.model import CURRENT, PREVIOUS, Secret, SecretVersion
from andromede.secrets.store import SecretStore
from andromede.secrets.store_sql import SqlSecretStore
from support.schema import migrated_sqlite
from support.secretsapp import harness
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:eu-fr-1:111122223333:secret:db-AbCdEf"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SecretStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemorySecretStore() if db is None else SqlSecretStore(db)


def secret(name: str = "db", arn: str = ARN, tenant: str = "111122223333") -> Secret:
    return Secret(
        arn,
        tenant,
        "eu-fr-1",
        name,
        T0,
        T0,
        description="é ✓",
        kms_key_id="alias/k",
        tags=(("b", "2"), ("a", "")),
        policy='{"Version":"2012-10-17"}',
    )


def version(vid: str, stages: tuple[str, ...], at: int = 0) -> SecretVersion:
    return SecretVersion(
        ARN, vid, stages, T0 + timedelta(seconds=at), b"\x00sealed" + vid.encode(), False
    )


async def test_create_get_and_names_are_unique(store: SecretStore) -> None:
    await store.create(secret(), version("v1", (CURRENT,)))
    assert await store.get("111122223333", "eu-fr-1", "db") == secret()
    assert await store.get("111122223333", "eu-fr-2", "db") is None
    with pytest.raises(SecretExists):
        await store.create(secret(arn=ARN[:-6] + "XyZ123"), None)
    await store.create(secret(arn="arn:other", tenant="444455556666"), None)
    assert await store.count("111122223333", "eu-fr-1") == 1
    assert [s.name for s in await store.list_all("444455556666", "eu-fr-1")] == ["db"]
    assert await store.versions(ARN) == [version("v1", (CURRENT,))]


async def test_versions_written_against_the_revision(store: SecretStore) -> None:
    await store.create(secret(), version("v1", (CURRENT,)))
    held = await store.get("111122223333", "eu-fr-1", "db")
    assert held is not None and held.revision == 0
    changed = await store.write_versions(
        replace(held, description="new"), 0, version("v2", (CURRENT,), 1), {"v1": (PREVIOUS,)}
    )
    assert changed.revision == 1
    with pytest.raises(Conflict):  # a writer that read revision 0 changes nothing
        await store.write_versions(held, 0, version("v3", (CURRENT,), 2), {"v2": ()})
    assert [(v.version_id, v.stages) for v in await store.versions(ARN)] == [
        ("v1", (PREVIOUS,)),
        ("v2", (CURRENT,)),
    ]
    stored = await store.get("111122223333", "eu-fr-1", "db")
    assert stored is not None and (stored.description, stored.revision) == ("new", 1)
    await store.write_versions(stored, 1, version("v3", ("x",), 3), {}, drop=["v1"])
    assert [v.version_id for v in await store.versions(ARN)] == ["v2", "v3"]
    with pytest.raises(Conflict):
        await store.update(stored, 1)
    day = T0.replace(hour=0, minute=0, second=0, microsecond=0)
    await store.touch(ARN, "v2", day)
    touched = await store.get("111122223333", "eu-fr-1", "db")
    assert touched is not None and touched.last_accessed == day
    assert [v.last_accessed for v in await store.versions(ARN)] == [day, None]


async def test_resealed_crowded_and_held(store: SecretStore) -> None:
    # Session 49: a key change writes new sealed values in the revision-checked write.
    await store.create(secret(), version("v1", (PREVIOUS,)))
    held = await store.get("111122223333", "eu-fr-1", "db")
    assert held is not None
    await store.write_versions(held, 0, version("v2", (CURRENT,), 1), {})
    with pytest.raises(Conflict):  # a stale re-encryption changes nothing
        await store.write_versions(held, 0, None, {}, resealed={"v1": b"stale"})
    moved = await store.write_versions(
        replace(held, kms_key_id="alias/new"), 1, None, {}, resealed={"v1": b"\x01new", "v9": b""}
    )
    assert moved.revision == 2
    assert [(v.version_id, v.sealed, v.stages) for v in await store.versions(ARN)] == [
        ("v1", b"\x01new", (PREVIOUS,)),
        ("v2", b"\x00sealedv2", (CURRENT,)),
    ]
    stored = await store.get("111122223333", "eu-fr-1", "db")
    assert stored is not None and stored.kms_key_id == "alias/new"
    # Crowded: the secrets with more versions than a number, whole.
    await store.create(secret("other", arn="arn:other"), None)
    assert [s.arn for s in await store.crowded(1, 10)] == [ARN]
    assert await store.crowded(1, 10) == [stored]
    assert await store.crowded(2, 10) == []
    assert await store.crowded(1, 0) == []
    # Held: per account and region, a secret marked for deletion not counted.
    await store.create(secret("elsewhere", arn="arn:e", tenant="444455556666"), None)
    assert await store.held() == {("111122223333", "eu-fr-1"): 2, ("444455556666", "eu-fr-1"): 1}
    await store.update(replace(stored, deleted_date=T0), stored.revision)
    assert await store.held() == {("111122223333", "eu-fr-1"): 1, ("444455556666", "eu-fr-1"): 1}


async def test_purge_due(store: SecretStore) -> None:
    await store.create(replace(secret(), deleted_date=T0), version("v1", (CURRENT,)))
    await store.create(secret("later", arn="arn:later"), None)
    held = await store.get("111122223333", "eu-fr-1", "later")
    assert held is not None
    await store.update(replace(held, deleted_date=T0 + timedelta(days=1)), 0)
    assert await store.purge_due(T0 - timedelta(seconds=1), 10) == []
    assert await store.purge_due(T0, 10) == [ARN]
    assert await store.versions(ARN) == []
    assert await store.purge_due(T0, 10) == []
    assert [s.name for s in await store.list_all("111122223333", "eu-fr-1")] == ["later"]
    assert await store.delete("arn:later") is True
    assert await store.delete("arn:later") is False


async def test_no_value_reaches_the_database_in_clear(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    canary = "CANARY-" + os.urandom(8).hex()
    try:
        async for sm in harness(tmp_path, SqlSecretStore(db)):
            await sm.ok("CreateSecret", {"Name": "c", "SecretString": canary})
            await sm.ok("PutSecretValue", {"SecretId": "c", "SecretString": canary + "-2"})
            got = await sm.ok("GetSecretValue", {"SecretId": "c", "VersionStage": "AWSPREVIOUS"})
            assert got["SecretString"] == canary
    finally:
        await db.close()
    for path in tmp_path.glob("meta.db*"):
        data = path.read_bytes()
        assert canary.encode() not in data, path
        assert canary.encode("utf-16-le") not in data, path
    assert any(tmp_path.glob("meta.db*"))
