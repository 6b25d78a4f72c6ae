"""Decision 0258's pipe store over every implementation (memory, SQLite, PostgreSQL): one name
an account, the account's bound of pipes, compare-and-set writes, the transitional pipes for
the runner to settle, RUNNING pipes claimed by one gateway at a time under a lease another
takes over once it ran out (the least recently leased first), checkpoints written only by the
lease's owner and gone with the pipe, and a closed tenant's pipes forgotten; a pipe's
enrichment and log destinations (decision 0268) kept as they were given; each Region's view
of the store (decision 0408) keeping its own pipes, its quota counted a Region."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.pipes.errors import PipeConflict, QuotaExceeded
from andromede.pipes.memory import MemoryPipeStore
from andromede.pipes.model import Pipe, PipeState
from andromede.pipes.regional_store import RegionalPipeStore
from andromede.pipes.store import PipeStore
from andromede.pipes.store_sql import SqlPipeStore
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PipeStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryPipeStore() if db is None else SqlPipeStore(db)


def pipe(name: str, tenant_id: str = "000000000001", **fields: Any) -> Pipe:
    made = Pipe(
        tenant_id=tenant_id,
        name=name,
        region="eu-fr-1",
        source=f"arn:aws:sqs:eu-fr-1:{tenant_id}:in",
        source_parameters={
            "SqsQueueParameters": {"BatchSize": 10},
            "FilterCriteria": {"Filters": [{"Pattern": '{"a": [1]}'}]},
        },
        target=f"arn:aws:sqs:eu-fr-1:{tenant_id}:out",
        target_parameters={"InputTemplate": "<$.body>"},
        role_arn=f"arn:aws:iam::{tenant_id}:role/r",
        description="d",
        tags=(("team", "a"),),
        log_configuration={
            "Level": "ERROR",
            "S3LogDestination": {"BucketName": "logs", "BucketOwner": tenant_id},
        },
        enrichment=f"arn:aws:events:eu-fr-1:{tenant_id}:api-destination/lookup/0f1e",
        enrichment_parameters={"InputTemplate": '{"id": <$.body.id>}'},
        created=T0,
        updated=T0,
    )
    return dataclasses.replace(made, **fields)


async def test_made_read_listed_and_replaced(store: PipeStore) -> None:
    made = pipe("b")
    await store.create(made, 3)
    await store.create(pipe("a"), 3)
    assert await store.get("000000000001", "b") == made
    assert [p.name for p in await store.pipes("000000000001")] == ["a", "b"]
    assert await store.pipes("000000000002") == []
    with pytest.raises(PipeConflict):
        await store.create(pipe("b"), 3)
    await store.create(pipe("c"), 3)
    with pytest.raises(QuotaExceeded):
        await store.create(pipe("d"), 3)
    changed = made.changed(description="e", current_state=PipeState.RUNNING)
    assert await store.replace(changed)
    assert not await store.replace(made.changed(description="late"))  # an old revision
    assert await store.get("000000000001", "b") == changed
    assert await store.delete("000000000001", "b")
    assert not await store.delete("000000000001", "b")
    assert await store.get("000000000001", "b") is None


async def test_transitional_pipes_and_the_reader_lease(store: PipeStore) -> None:
    await store.create(pipe("a"), 10)
    await store.create(pipe("b"), 10)
    assert sorted(p.name for p in await store.transitional("eu-fr-1", 10)) == ["a", "b"]
    assert await store.transitional("eu-fr-2", 10) == []
    for name in ("a", "b"):
        found = await store.get("000000000001", name)
        assert found is not None
        assert await store.replace(found.changed(current_state=PipeState.RUNNING))
    assert await store.transitional("eu-fr-1", 10) == []
    first = await store.claim("gw-a", T0, T0 + 60_000, 1, "eu-fr-1")
    assert len(first) == 1
    # The other pipe first at the next pass (the least recently leased).
    second = await store.claim("gw-a", T0 + 1, T0 + 60_001, 1, "eu-fr-1")
    assert [p.name for p in second] != [p.name for p in first]
    assert await store.claim("gw-b", T0 + 2, T0 + 60_002, 10, "eu-fr-1") == []
    assert await store.claim("gw-a", T0 + 2, T0 + 60_002, 10, "eu-fr-2") == []
    taken = await store.claim("gw-b", T0 + 60_001, T0 + 120_000, 10, "eu-fr-1")
    assert sorted(p.name for p in taken) == ["a", "b"]  # both leases ran out


async def test_checkpoints_by_the_lease_owner(store: PipeStore) -> None:
    await store.create(pipe("a", current_state=PipeState.RUNNING), 10)
    assert not await store.save_checkpoint("000000000001", "a", "gw-a", "shard-0", "1")
    await store.claim("gw-a", T0, T0 + 60_000, 10, "eu-fr-1")
    assert await store.save_checkpoint("000000000001", "a", "gw-a", "shardId-000000000000", "5")
    assert await store.save_checkpoint("000000000001", "a", "gw-a", "shardId-000000000000", "9")
    assert not await store.save_checkpoint(
        "000000000001", "a", "gw-b", "shardId-000000000000", "11"
    )
    assert await store.checkpoints("000000000001", "a") == {"shardId-000000000000": "9"}
    await store.delete("000000000001", "a")
    assert await store.checkpoints("000000000001", "a") == {}


async def test_a_closed_tenant_is_forgotten(store: PipeStore) -> None:
    await store.create(pipe("a", current_state=PipeState.RUNNING), 10)
    await store.create(pipe("b"), 10)
    await store.create(pipe("a", tenant_id="000000000002"), 10)
    await store.claim("gw-a", T0, T0 + 60_000, 10, "eu-fr-1")
    await store.save_checkpoint("000000000001", "a", "gw-a", "s", "1")
    assert await store.forget_tenant("000000000001") == 2
    assert await store.pipes("000000000001") == []
    assert await store.checkpoints("000000000001", "a") == {}
    assert [p.name for p in await store.pipes("000000000002")] == ["a"]


async def test_each_regions_view_keeps_its_own_pipes(store: PipeStore) -> None:
    """Decision 0408: a Region's view of every store — a name in each Region, the quota
    counted a Region, the runner's passes and checkpoints of its own pipes, a closed account
    forgotten once through the default Region's view."""
    home = RegionalPipeStore(store, "eu-fr-1", "eu-fr-1")
    de = RegionalPipeStore(store, "eu-de-1", "eu-fr-1")
    await home.create(pipe("a"), 1)
    await de.create(pipe("a", region="eu-de-1"), 1)  # the default Region's does not count
    with pytest.raises(QuotaExceeded):
        await de.create(pipe("b", region="eu-de-1"), 1)
    ours = await de.get("000000000001", "a")
    assert ours is not None and ours.arn == "arn:aws:pipes:eu-de-1:000000000001:pipe/a"
    assert [p.region for p in await home.pipes("000000000001")] == ["eu-fr-1"]
    assert [(p.name, p.region) for p in await de.transitional("eu-fr-1", 10)] == [("a", "eu-de-1")]
    assert await de.replace(ours.changed(current_state=PipeState.RUNNING))
    assert [p.name for p in await de.claim("gw-a", T0, T0 + 60_000, 10, "eu-fr-1")] == ["a"]
    assert await home.claim("gw-a", T0, T0 + 60_000, 10, "eu-fr-1") == []  # home's CREATING
    assert await de.save_checkpoint("000000000001", "a", "gw-a", "s", "7")
    assert await de.checkpoints("000000000001", "a") == {"s": "7"}
    assert await home.checkpoints("000000000001", "a") == {}
    assert await de.delete("000000000001", "a")
    assert await home.get("000000000001", "a") is not None
    await de.create(pipe("c", region="eu-de-1"), 1)
    assert await de.forget_tenant("000000000001") == 0
    assert await home.forget_tenant("000000000001") == 2
    assert await de.pipes("000000000001") == []
