"""Decision 0266's resource-policy store over every implementation (memory, SQLite,
PostgreSQL), through the service that uses it: a first policy and its revision, the same text
keeping its revision, ``ExpectedRevisionId`` (a revision, ``NO_POLICY``) refused with
PolicyNotFound when it does not hold, a stale revision never overwriting, a table made again
not inheriting its predecessor's policy, and removal with the table and the tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.dynamodb.resource_policies import (
    NO_POLICY,
    DynamoResourcePolicies,
    PolicyNotFound,
    ResourcePolicy,
    ResourcePolicyStore,
)
from andromede.dynamodb.resource_policies_memory import MemoryResourcePolicyStore
from andromede.dynamodb.resource_policies_sql import SqlResourcePolicyStore
from support.store_backends import BACKENDS, backend_database

TABLE = "arn:aws:dynamodb:eu-fr-1:t1:table/things"
STREAM = f"{TABLE}/stream/2026-12-06T00:00:00.000"
CREATED = 1_800_000_000_000


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ResourcePolicyStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryResourcePolicyStore() if db is None else SqlResourcePolicyStore(db)


async def test_put_get_and_revisions(store: ResourcePolicyStore) -> None:
    policies = DynamoResourcePolicies(store)
    assert await policies.policy("t1", TABLE, CREATED) is None
    first = await policies.put("t1", TABLE, "things", CREATED, '{"a": 1}', NO_POLICY)
    assert first.isdigit()
    held = await policies.policy("t1", TABLE, CREATED)
    assert held is not None and (held.text, held.revision_id) == ('{"a": 1}', first)
    # The same text keeps its revision (AWS: PutResourcePolicy is idempotent).
    assert await policies.put("t1", TABLE, "things", CREATED, '{"a": 1}') == first
    with pytest.raises(PolicyNotFound):
        await policies.put("t1", TABLE, "things", CREATED, '{"a": 2}', NO_POLICY)
    with pytest.raises(PolicyNotFound):
        await policies.put("t1", TABLE, "things", CREATED, '{"a": 2}', "123")
    second = await policies.put("t1", TABLE, "things", CREATED, '{"a": 2}', first)
    assert int(second) > int(first)
    # Another account's resource of the same ARN text is another row.
    assert await policies.policy("t2", TABLE, CREATED) is None
    # A write conditional on a stale revision never lands in the store itself.
    stale = ResourcePolicy("t1", TABLE, "things", CREATED, '{"a": 3}', "9" * 13)
    assert not await store.replace_policy(stale, first)
    assert not await store.replace_policy(stale, None)
    assert not await store.delete_policy("t1", TABLE, first)


async def test_delete_with_and_without_an_expected_revision(store: ResourcePolicyStore) -> None:
    policies = DynamoResourcePolicies(store)
    assert await policies.delete("t1", TABLE, CREATED) is None  # idempotent
    with pytest.raises(PolicyNotFound):
        await policies.delete("t1", TABLE, CREATED, "1")
    revision = await policies.put("t1", TABLE, "things", CREATED, "{}")
    with pytest.raises(PolicyNotFound):
        await policies.delete("t1", TABLE, CREATED, "1")
    assert await policies.delete("t1", TABLE, CREATED, revision) == revision
    assert await policies.policy("t1", TABLE, CREATED) is None


async def test_a_new_table_does_not_inherit_and_deletion_removes(
    store: ResourcePolicyStore,
) -> None:
    policies = DynamoResourcePolicies(store)
    await policies.put("t1", TABLE, "things", CREATED, '{"old": 1}')
    await policies.put("t1", STREAM, "things", CREATED, '{"stream": 1}')
    await policies.put("t1", TABLE + "x", "thingsx", CREATED, "{}")
    # A global table's replica of the same name in another region (decision 0265).
    replica = TABLE.replace(":eu-fr-1:", ":eu-de-1:")
    await policies.put("t1", replica, "things", CREATED, "{}")
    # The table made again under the name: the old policy is none of it, and is replaced.
    assert await policies.policy("t1", TABLE, CREATED + 1) is None
    with pytest.raises(PolicyNotFound):
        await policies.put("t1", TABLE, "things", CREATED + 1, "{}", "1")
    await policies.put("t1", TABLE, "things", CREATED + 1, '{"new": 1}', NO_POLICY)
    held = await policies.policy("t1", TABLE, CREATED + 1)
    assert held is not None and held.text == '{"new": 1}'
    assert await policies.drop_table("t1", TABLE) == 2
    assert await store.get_policy("t1", STREAM) is None
    assert await store.get_policy("t1", TABLE + "x") is not None
    assert await store.get_policy("t1", replica) is not None
    await policies.put("t2", TABLE, "things", CREATED, "{}")
    assert await store.forget_tenant("t1") == 2
    assert await store.get_policy("t2", TABLE) is not None
