"""Decision 0190's secret store over every implementation (memory, SQLite, PostgreSQL): a
secret created once per name, read back whole; its versions written against the revision
read (a stale writer changes nothing); relabelled and dropped in one write; touched;
listed per account and region; purged once due; a primary's replications (decision 0207:
their durable task due, settled only by a sync of the latest change). And the canary:
through the real service and KMS envelope over a SQLite file, no byte of a value reaches the
database in clear."""

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
from andromede.secrets.model import (
    CURRENT,
    PREVIOUS,
    REPLICA_FAILED,
    REPLICA_IN_PROGRESS,
    REPLICA_IN_SYNC,
    Replica,
    Secret,
    SecretVersion,
)
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


async def test_replications_and_their_durable_task(store: SecretStore) -> None:
    primary = replace(secret(), primary_region="eu-fr-1")
    await store.create(primary, version("v1", (CURRENT,)))
    held = await store.get("111122223333", "eu-fr-1", "db")
    assert held == primary and held.primary_region == "eu-fr-1" and not held.is_replica
    # A replica: its region, the primary's; its versions added several in one write.
    copy_arn = ARN.replace("eu-fr-1", "eu-de-1")
    copy = replace(primary, arn=copy_arn, region="eu-de-1")
    await store.create(copy, None)
    got = await store.get("111122223333", "eu-de-1", "db")
    assert got is not None and got.is_replica and got.primary_region == "eu-fr-1"
    added = [
        replace(version(v, s, n), secret_arn=copy_arn)
        for n, (v, s) in enumerate([("v0", ()), ("v1", (CURRENT,))])
    ]
    await store.write_versions(got, 0, None, {}, added=added)
    assert [v.version_id for v in await store.versions(copy_arn)] == ["v0", "v1"]
    with pytest.raises(Conflict):  # a version of that id again: nothing written
        await store.write_versions(replace(got, revision=1), 1, None, {}, added=added[:1])
    assert (await store.get("111122223333", "eu-de-1", "db")).revision == 1  # type: ignore[union-attr]

    for region in ("eu-de-1", "eu-it-1"):
        await store.put_replica(
            Replica(ARN, "111122223333", region, None, REPLICA_IN_PROGRESS, due=T0)
        )
    keyed = Replica(ARN, "111122223333", "eu-de-1", "alias/de", REPLICA_IN_SYNC, overwrite=True)
    await store.put_replica(keyed)  # replaces the region's row
    assert [r.region for r in await store.replicas(ARN)] == ["eu-de-1", "eu-it-1"]
    assert (await store.replicas(ARN))[0] == keyed
    assert await store.due_replicas(["eu-de-1", "eu-it-1"], T0, 10) == [
        Replica(ARN, "111122223333", "eu-it-1", None, REPLICA_IN_PROGRESS, due=T0)
    ]
    # A change of the primary: every replication due, in progress, one generation more.
    later = T0 + timedelta(seconds=5)
    await store.mark_due(ARN, later)
    marked = await store.replicas(ARN)
    assert {(r.status, r.due, r.generation, r.attempts) for r in marked} == {
        (REPLICA_IN_PROGRESS, later, 1, 0)
    }
    assert await store.due_replicas(["eu-de-1"], T0, 10) == []  # not yet
    assert [r.region for r in await store.due_replicas(["eu-de-1"], later, 10)] == ["eu-de-1"]
    # A sync of an older generation settles nothing; of the latest, it does.
    failed = replace(marked[0], status=REPLICA_FAILED, message="m", due=later, attempts=1)
    assert not await store.settle(failed, 0)
    assert (await store.replicas(ARN))[0].status == REPLICA_IN_PROGRESS
    assert await store.settle(failed, 1)
    assert (await store.replicas(ARN))[0] == failed
    synced = replace(failed, status=REPLICA_IN_SYNC, message=None, due=None, attempts=0)
    assert await store.settle(synced, 1)
    assert [r.region for r in await store.due_replicas(["eu-de-1", "eu-it-1"], later, 10)] == [
        "eu-it-1"
    ]
    assert await store.drop_replica(ARN, "eu-it-1")
    assert not await store.drop_replica(ARN, "eu-it-1")
    # The primary forgotten: its replications with it.
    assert await store.delete(ARN)
    assert await store.replicas(ARN) == []


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
