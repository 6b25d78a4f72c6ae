"""Decision 0330's traffic policy store over every implementation (memory, SQLite,
PostgreSQL): versions kept as written, found only by their account and in order; a version
written twice refused (``VersionTaken``: the other gateway won); a comment changed and a
version deleted; instances added, replaced by id and deleted; all gone with a closed
tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.route53.traffic import (
    MemoryTrafficStore,
    TrafficPolicy,
    TrafficPolicyInstance,
    TrafficStore,
    VersionTaken,
)
from andromede.route53.traffic_store_sql import SqlTrafficStore
from support.store_backends import BACKENDS, backend_database

A1, A2 = "000000000001", "000000000002"
DOCUMENT = '{"AWSPolicyFormatVersion": "2015-10-01"}'


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TrafficStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryTrafficStore() if db is None else SqlTrafficStore(db)


def policy(policy_id: str, version: int, tenant_id: str = A1) -> TrafficPolicy:
    return TrafficPolicy(tenant_id, policy_id, version, f"name-{policy_id}", "A", DOCUMENT,
                         "", 1_800_000_000_000 + version)  # fmt: skip


def instance(instance_id: str, tenant_id: str = A1) -> TrafficPolicyInstance:
    return TrafficPolicyInstance(tenant_id, instance_id, "Z1", "www.example.com.", 60, "p-1", 1,
                                 "A", "Applied", "", 1_800_000_000_000)  # fmt: skip


async def test_versions_kept_in_order_and_by_account(store: TrafficStore) -> None:
    for made in (policy("p-1", 2), policy("p-1", 1), policy("p-0", 1), policy("p-9", 1, A2)):
        await store.add_version(made)
    with pytest.raises(VersionTaken):
        await store.add_version(policy("p-1", 2))
    assert await store.versions(A1, "p-1") == [policy("p-1", 1), policy("p-1", 2)]
    assert await store.versions(A2, "p-1") == []
    assert [(p.policy_id, p.version) for p in await store.policies(A1)] == [
        ("p-0", 1), ("p-1", 1), ("p-1", 2),
    ]  # fmt: skip
    assert await store.set_comment(A1, "p-1", 2, "second")
    assert not await store.set_comment(A2, "p-1", 2, "not mine")
    assert (await store.versions(A1, "p-1"))[1].comment == "second"
    assert await store.delete_version(A1, "p-1", 1)
    assert not await store.delete_version(A1, "p-1", 1)
    assert [p.version for p in await store.versions(A1, "p-1")] == [2]


async def test_instances_replaced_by_id_and_gone_with_the_tenant(store: TrafficStore) -> None:
    await store.add_version(policy("p-1", 1))
    await store.add_version(policy("p-2", 1, A2))
    await store.put_instance(instance("i-1"))
    await store.put_instance(instance("i-2", A2))
    assert await store.instance(A1, "i-1") == instance("i-1")
    assert await store.instance(A2, "i-1") is None
    moved = replace(instance("i-1"), ttl=300, policy_version=2)
    await store.put_instance(moved)
    assert await store.instances(A1) == [moved]
    assert not await store.delete_instance(A2, "i-1")
    await store.put_instance(instance("i-3"))
    assert await store.delete_instance(A1, "i-3")
    assert await store.forget_tenant(A1) == 2
    assert await store.instances(A1) == [] and await store.policies(A1) == []
    assert [i.instance_id for i in await store.instances(A2)] == ["i-2"]
