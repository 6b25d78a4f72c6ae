"""Decision 0229's parameter store over every implementation (memory, SQLite, PostgreSQL): a
name once per account's region, compare-and-set writes (a stale revision changes nothing),
versions added, relabelled and dropped in one write, listing by prefix, counts per tier, and
a closed account's parameters forgotten; resource policies (decision 0249) added, replaced and
deleted against the hash read, the parameters shared with an account found, and both forgotten
with their parameter or its account."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.ssm.errors import (
    Conflict,
    ParameterAlreadyExists,
    ResourceNotFound,
    ResourcePolicyConflict,
    ResourcePolicyNotFound,
)
from andromede.ssm.memory import MemoryParameterStore
from andromede.ssm.model import Parameter, ParameterType, ParameterVersion, Tier
from andromede.ssm.sharing import ResourcePolicy
from andromede.ssm.store import ParameterStore
from andromede.ssm.store_sql import SqlParameterStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ParameterStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryParameterStore() if db is None else SqlParameterStore(db)


def version(name: str, number: int = 1, tenant: str = "t1", **extra: object) -> ParameterVersion:
    fields: dict[str, object] = {
        "tenant_id": tenant, "region": "eu-fr-1", "name": name, "version": number,
        "type": ParameterType.STRING, "sealed": bytes([number]) * 40, "modified": T0,
        "modified_user": "arn:aws:iam::t1:root", **extra,
    }  # fmt: skip
    return ParameterVersion(**fields)  # type: ignore[arg-type]


async def test_parameters_written_versioned_and_listed(store: ParameterStore) -> None:
    made = await store.write(Parameter(version("/a/b"), (("team", "pay"),)), None)
    assert made.revision == 1 and made.tags == (("team", "pay"),)
    assert await store.get("t1", "eu-fr-1", "/a/b") == made
    assert await store.get("t2", "eu-fr-1", "/a/b") is None
    with pytest.raises(ParameterAlreadyExists):
        await store.write(Parameter(version("/a/b")), None)
    two = version("/a/b", 2, type=ParameterType.SECURE_STRING, key_id="alias/k",
                  description="d", allowed_pattern=".*", tier=Tier.ADVANCED)  # fmt: skip
    written = await store.write(Parameter(two, made.tags, made.revision), made.revision)
    assert written.latest == two and written.revision == 2
    with pytest.raises(Conflict):  # a stale revision changes nothing
        await store.write(Parameter(version("/a/b", 3), made.tags, 1), 1)
    assert [v.version for v in await store.versions("t1", "eu-fr-1", "/a/b")] == [1, 2]
    relabelled = await store.write(
        written, written.revision, add_latest=False, labels={1: ("old",), 2: ("new", "x")}
    )
    assert relabelled.latest.labels == ("new", "x")
    three = await store.write(
        Parameter(version("/a/b", 3), relabelled.tags, relabelled.revision),
        relabelled.revision, drop=[1],
    )  # fmt: skip
    assert [v.version for v in await store.versions("t1", "eu-fr-1", "/a/b")] == [2, 3]
    assert three.latest.version == 3
    retagged = await store.write(dataclasses.replace(three, tags=()), three.revision,
                                 add_latest=False)  # fmt: skip
    assert retagged.tags == () and retagged.latest.version == 3
    await store.write(Parameter(version("/a/c")), None)
    await store.write(Parameter(version("/ab")), None)
    await store.write(Parameter(version("z", tenant="t2")), None)
    assert [p.name for p in await store.list_all("t1", "eu-fr-1")] == ["/a/b", "/a/c", "/ab"]
    assert [p.name for p in await store.list_all("t1", "eu-fr-1", "/a/")] == ["/a/b", "/a/c"]
    assert await store.count("t1", "eu-fr-1", Tier.STANDARD) == 3
    assert await store.held(Tier.STANDARD) == {("t1", "eu-fr-1"): 3, ("t2", "eu-fr-1"): 1}
    assert await store.delete("t1", "eu-fr-1", "/a/c")
    assert not await store.delete("t1", "eu-fr-1", "/a/c")
    assert await store.forget_tenant("t1") == 2
    assert await store.list_all("t1", "eu-fr-1") == []
    assert await store.versions("t1", "eu-fr-1", "/a/b") == []
    assert [p.name for p in await store.list_all("t2", "eu-fr-1")] == ["z"]


async def test_parameters_due_to_expire(store: ParameterStore) -> None:
    soon, later = T0 + timedelta(hours=1), T0 + timedelta(days=1)
    await store.write(Parameter(version("/soon", expires=soon, policies="[]"), next_action=soon),
                      None)  # fmt: skip
    later_one = await store.write(Parameter(version("/later"), next_action=later), None)
    assert later_one.next_action == later
    await store.write(Parameter(version("/never")), None)
    assert await store.due(T0, 10) == []
    assert await store.due(soon, 10) == [("t1", "eu-fr-1", "/soon")]
    assert (await store.get("t1", "eu-fr-1", "/soon")).latest.policies == "[]"  # type: ignore[union-attr]
    # A new version without a policy action takes the parameter out of the due ones.
    await store.write(Parameter(version("/later", 2), (), later_one.revision), later_one.revision)
    assert await store.due(later, 10) == [("t1", "eu-fr-1", "/soon")]
    assert await store.due(later, 0) == []


def policy(name: str, policy_id: str, hash_: str, accounts: tuple[str, ...],
           tenant: str = "t1", at: int = 0) -> ResourcePolicy:  # fmt: skip
    return ResourcePolicy(
        tenant,
        "eu-fr-1",
        name,
        policy_id,
        hash_,
        f'{{"id": "{policy_id}"}}',
        accounts,
        T0 + timedelta(seconds=at),
    )


async def test_resource_policies_shares_and_their_end(store: ParameterStore) -> None:
    with pytest.raises(ResourceNotFound):  # no parameter, no policy
        await store.put_policy(policy("/s", "p1", "h1", ("222222222222",)), None)
    await store.write(Parameter(version("/s", tier=Tier.ADVANCED)), None)
    await store.write(Parameter(version("/t", tier=Tier.ADVANCED)), None)
    await store.write(Parameter(version("/u", tenant="222222222222")), None)
    await store.put_policy(policy("/s", "p1", "h1", ("222222222222", "333333333333")), None)
    await store.put_policy(policy("/s", "p2", "h2", ("444444444444",), at=1), None)
    await store.put_policy(policy("/t", "p3", "h3", ("222222222222",)), None)
    held = await store.policies("t1", "eu-fr-1", "/s")
    assert [(p.policy_id, p.policy_hash, p.accounts) for p in held] == [
        ("p1", "h1", ("222222222222", "333333333333")),
        ("p2", "h2", ("444444444444",)),
    ]
    assert held[0] == policy("/s", "p1", "h1", ("222222222222", "333333333333"))
    assert await store.policies("t2", "eu-fr-1", "/s") == []
    # Replaced against the hash read: a stale hash changes nothing.
    await store.put_policy(policy("/s", "p1", "h1b", ("333333333333",)), "h1")
    with pytest.raises(ResourcePolicyConflict):
        await store.put_policy(policy("/s", "p1", "h1c", ("222222222222",)), "h1")
    with pytest.raises(ResourcePolicyNotFound):
        await store.put_policy(policy("/s", "p9", "h9", ("222222222222",)), "h1")
    shared = await store.shared_with("222222222222", "eu-fr-1")
    assert [(p.tenant_id, p.name) for p in shared] == [("t1", "/t")]  # not its own /u
    assert [p.name for p in await store.shared_with("333333333333", "eu-fr-1")] == ["/s"]
    assert await store.shared_with("333333333333", "eu-fr-2") == []
    assert await store.shared_with("33333333333", "eu-fr-1") == []  # a whole id, not a part
    with pytest.raises(ResourcePolicyConflict):
        await store.delete_policy("t1", "eu-fr-1", "/s", "p2", "h1")
    with pytest.raises(ResourcePolicyNotFound):
        await store.delete_policy("t1", "eu-fr-1", "/s", "p9", "h2")
    await store.delete_policy("t1", "eu-fr-1", "/s", "p2", "h2")
    assert [p.policy_id for p in await store.policies("t1", "eu-fr-1", "/s")] == ["p1"]
    # A deleted parameter's policies go with it: a parameter made again is not shared.
    assert await store.delete("t1", "eu-fr-1", "/s")
    await store.write(Parameter(version("/s", tier=Tier.ADVANCED)), None)
    assert await store.policies("t1", "eu-fr-1", "/s") == []
    assert await store.shared_with("333333333333", "eu-fr-1") == []
    # Closing the account forgets its policies.
    await store.forget_tenant("t1")
    assert await store.policies("t1", "eu-fr-1", "/t") == []
    assert await store.shared_with("222222222222", "eu-fr-1") == []
