"""Decision 0186's log store over every implementation (memory, SQLite, PostgreSQL): groups
made once and bounded per account, listed by name under a prefix or a case-insensitive
pattern; streams listed by name or last event time, either way; events appended with the
bytes of the stream and group kept, read by time range, stream and position both ways; the
retention sweep deleting only what its group no longer keeps; a group deleted with all."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.logs.account_policies import AccountPolicy
from andromede.logs.errors import LimitExceeded, ResourceAlreadyExists, ResourceNotFound
from andromede.logs.log_classes import DeletionProtected
from andromede.logs.memory import MemoryLogStore
from andromede.logs.metric_filters import MetricFilter, MetricTransformation
from andromede.logs.model import LogGroup, LogStream, Position, StoredEvent
from andromede.logs.resource_policies import ResourcePolicy
from andromede.logs.store import EventQuery, FilterQuery, LogStore
from andromede.logs.store_sql import SqlLogStore
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_url

T0 = 1_800_000_000_000
DAY = 86_400_000


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LogStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryLogStore() if db is None else SqlLogStore(db)


def event(stream: str, at: int, size: int = 10) -> StoredEvent:
    return StoredEvent(stream, at, T0, size, b"sealed-%d" % at)


async def test_groups(store: LogStore) -> None:
    group = LogGroup("t1", "/b", T0, None, None, {"k": "v"})
    await store.create_group(group, 3)
    with pytest.raises(ResourceAlreadyExists):
        await store.create_group(group, 3)
    for name in ("/a", "/APP/x"):
        await store.create_group(dataclasses.replace(group, name=name), 3)
    with pytest.raises(LimitExceeded):
        await store.create_group(dataclasses.replace(group, name="/c"), 3)
    await store.create_group(dataclasses.replace(group, tenant_id="t2"), 3)
    assert await store.get_group("t1", "/b") == group
    names = [g.name for g in await store.list_groups("t1", "", "", "", 10)]
    assert names == ["/APP/x", "/a", "/b"]
    assert [g.name for g in await store.list_groups("t1", "/a", "", "", 10)] == ["/a"]
    assert [g.name for g in await store.list_groups("t1", "", "app", "", 10)] == ["/APP/x"]
    assert [g.name for g in await store.list_groups("t1", "", "", "/APP/x", 1)] == ["/a"]
    await store.put_group(dataclasses.replace(group, retention_days=7, kms_key_id="arn:k", tags={}))
    assert await store.get_group("t1", "/b") == LogGroup("t1", "/b", T0, 7, "arn:k", {})
    assert await store.delete_group("t1", "/b") and not await store.delete_group("t1", "/b")


async def test_group_classes_and_deletion_protection(store: LogStore) -> None:
    """Decision 0222: the class kept and listed by, never changed by put_group; deletion
    protection set apart, honoured by the deletions that ask (the group's and its streams'),
    not by the account's closure."""
    cold = LogGroup("t1", "cold", T0, log_class="INFREQUENT_ACCESS", deletion_protection=True)
    await store.create_group(cold, 10)
    await store.create_group(LogGroup("t1", "std", T0), 10)
    assert await store.get_group("t1", "cold") == cold
    listed = await store.list_groups("t1", "", "", "", 10, "INFREQUENT_ACCESS")
    assert [g.name for g in listed] == ["cold"]
    assert [g.name for g in await store.list_groups("t1", "", "", "", 10, "STANDARD")] == ["std"]
    assert len(await store.list_groups("t1", "", "", "", 10)) == 2
    # put_group neither changes the class nor the protection.
    await store.put_group(
        dataclasses.replace(cold, log_class="STANDARD", deletion_protection=False, tags={"a": "b"})
    )
    assert await store.get_group("t1", "cold") == dataclasses.replace(cold, tags={"a": "b"})
    await store.create_stream(LogStream("t1", "cold", "s", T0))
    with pytest.raises(DeletionProtected):
        await store.delete_stream("t1", "cold", "s", honour_protection=True)
    with pytest.raises(DeletionProtected):
        await store.delete_group("t1", "cold", honour_protection=True)
    assert await store.get_stream("t1", "cold", "s") is not None
    assert not await store.delete_stream("t1", "cold", "gone", honour_protection=True)
    assert not await store.delete_group("t1", "gone", honour_protection=True)
    assert await store.set_deletion_protection("t1", "cold", False)
    assert not await store.set_deletion_protection("t1", "gone", True)
    assert await store.delete_stream("t1", "cold", "s", honour_protection=True)
    assert await store.set_deletion_protection("t1", "cold", True)
    # The retention the owner set still expires a protected group's events.
    await store.put_group(dataclasses.replace(cold, retention_days=1))
    await store.create_stream(LogStream("t1", "cold", "kept", T0))
    assert await store.append("t1", "cold", "kept", [event("kept", T0 - 2 * DAY)])
    assert await store.expire(T0, 100) == 1
    got = await store.get_group("t1", "cold")
    assert got is not None and got.deletion_protection and got.log_class == "INFREQUENT_ACCESS"
    # The account's closure deletes what is protected.
    assert await store.delete_group("t1", "cold")
    assert await store.get_group("t1", "cold") is None


async def test_streams_events_bytes_and_expiry(store: LogStore) -> None:
    await store.create_group(LogGroup("t1", "g", T0), 10)
    for name in ("s1", "s2", "s3"):
        await store.create_stream(LogStream("t1", "g", name, T0))
    with pytest.raises(ResourceAlreadyExists):
        await store.create_stream(LogStream("t1", "g", "s1", T0))
    assert await store.append("t1", "g", "s2", [event("s2", T0 - 2 * DAY), event("s2", T0 + 5)])
    assert await store.append("t1", "g", "s1", [event("s1", T0 + 1), event("s1", T0 + 1, 4)])
    assert not await store.append("t1", "g", "gone", [event("gone", T0)])
    s1 = await store.get_stream("t1", "g", "s1")
    assert s1 is not None
    assert (s1.first_event, s1.last_event, s1.last_ingestion, s1.stored_bytes) == (
        T0 + 1,
        T0 + 1,
        T0,
        14,
    )
    group = await store.get_group("t1", "g")
    assert group is not None and group.stored_bytes == 34
    # The storage meter's reading (decision 0224): per tenant, groups holding bytes only.
    await store.create_group(LogGroup("t1", "h", T0), 10)
    await store.create_group(LogGroup("t2", "empty", T0), 10)
    await store.create_stream(LogStream("t1", "h", "s", T0))
    assert await store.append("t1", "h", "s", [event("s", T0, 6)])
    assert await store.stored_bytes_by_tenant() == {"t1": 40}
    assert await store.delete_group("t1", "h")
    by_name = await store.list_streams("t1", "g", "", False, False, 0, 10)
    assert [s.name for s in by_name] == ["s1", "s2", "s3"]
    by_time = await store.list_streams("t1", "g", "", True, True, 0, 10)
    assert [s.name for s in by_time] == ["s2", "s1", "s3"]
    assert [s.name for s in await store.list_streams("t1", "g", "s", False, True, 1, 1)] == ["s2"]
    every = await store.read(EventQuery("t1", "g"))
    assert [(e.stream, e.timestamp) for e in every] == [
        ("s2", T0 - 2 * DAY),
        ("s1", T0 + 1),
        ("s1", T0 + 1),
        ("s2", T0 + 5),
    ]
    assert every[0].sealed == b"sealed-%d" % (T0 - 2 * DAY)
    first_s1 = every[1].position
    after = await store.read(EventQuery("t1", "g", ["s1"], after=first_s1))
    assert [e.size for e in after] == [4]
    before = await store.read(
        EventQuery("t1", "g", before=Position(T0 + 5, 0), descending=True, limit=2)
    )
    assert [e.position for e in before] == [every[2].position, every[1].position]
    ranged = await store.read(EventQuery("t1", "g", start=T0, end=T0 + 5, stream_prefix="s1"))
    assert len(ranged) == 2
    await store.put_group(LogGroup("t1", "g", T0, retention_days=1))
    assert await store.expire(T0, 100) == 1
    assert await store.expire(T0, 100) == 0
    s2 = await store.get_stream("t1", "g", "s2")
    group = await store.get_group("t1", "g")
    assert s2 is not None and s2.stored_bytes == 10
    assert group is not None and group.stored_bytes == 24
    assert await store.delete_stream("t1", "g", "s1")
    group = await store.get_group("t1", "g")
    assert group is not None and group.stored_bytes == 10
    assert await store.read(EventQuery("t1", "g", ["s1"])) == []
    assert await store.delete_group("t1", "g")
    assert await store.get_stream("t1", "g", "s2") is None
    assert await store.read(EventQuery("t1", "g")) == []


@pytest.fixture(params=SQL_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return sql_url(request, tmp_path)


async def test_two_gateways_sweep_once(url: str) -> None:
    """Two gateways' sweeps at once over one database: each expired event deleted once, the
    bytes taken off once."""
    first, second = open_database(url), open_database(url)
    try:
        one, two = SqlLogStore(first), SqlLogStore(second)
        await one.create_group(LogGroup("t1", "g", T0, retention_days=1), 10)
        await one.create_stream(LogStream("t1", "g", "s", T0))
        old = [event("s", T0 - 2 * DAY + n, 3) for n in range(300)]
        await one.append("t1", "g", "s", [*old, event("s", T0, 5)])
        removed = 0
        while True:
            done = await asyncio.gather(one.expire(T0, 40), two.expire(T0, 40))
            removed += sum(done)
            if done == [0, 0]:
                break
        assert removed == 300
        group = await two.get_group("t1", "g")
        stream = await one.get_stream("t1", "g", "s")
        assert group is not None and group.stored_bytes == 5
        assert stream is not None and stream.stored_bytes == 5
    finally:
        await first.close()
        await second.close()


def metric_filter(group: str, name: str, metric: str = "M", created: int = T0) -> MetricFilter:
    transformation = MetricTransformation(metric, "App", "$size", None, {"S": "$status"}, "Bytes")
    return MetricFilter("t1", group, name, "[ip, status, size]", transformation, created)


async def test_metric_filters(store: LogStore) -> None:
    """Session 48: made, replaced (creation time kept), bounded per group, listed by group
    and name under a prefix or by metric, counted per group, deleted with their group."""
    with pytest.raises(ResourceNotFound):
        await store.put_metric_filter(metric_filter("g", "f"), 2)
    for group in ("g", "h"):
        await store.create_group(LogGroup("t1", group, T0), 10)
    await store.put_metric_filter(metric_filter("g", "f1"), 2)
    await store.put_metric_filter(metric_filter("g", "f2", "Other"), 2)
    await store.put_metric_filter(metric_filter("g", "f1", "New", created=T0 + 5), 2)  # replaced
    with pytest.raises(LimitExceeded):
        await store.put_metric_filter(metric_filter("g", "f3"), 2)
    await store.put_metric_filter(metric_filter("h", "f1"), 2)
    listed = await store.list_metric_filters(FilterQuery("t1"))
    assert [(f.group, f.name) for f in listed] == [("g", "f1"), ("g", "f2"), ("h", "f1")]
    assert listed[0].transformation == metric_filter("g", "f1", "New").transformation
    assert listed[0].created == T0
    after = await store.list_metric_filters(FilterQuery("t1", after=("g", "f1"), limit=1))
    assert [(f.group, f.name) for f in after] == [("g", "f2")]
    by_metric = await store.list_metric_filters(FilterQuery("t1", metric_name="M", namespace="App"))
    assert [(f.group, f.name) for f in by_metric] == [("h", "f1")]
    in_g = await store.list_metric_filters(FilterQuery("t1", group="g", prefix="f2"))
    assert [f.name for f in in_g] == ["f2"]
    assert await store.list_metric_filters(FilterQuery("t2")) == []
    assert await store.count_metric_filters("t1", ["g", "h", "x"]) == {"g": 2, "h": 1}
    assert await store.count_metric_filters("t1", []) == {}
    assert await store.delete_metric_filter("t1", "g", "f2")
    assert not await store.delete_metric_filter("t1", "g", "f2")
    assert await store.delete_group("t1", "g")
    assert [f.group for f in await store.list_metric_filters(FilterQuery("t1"))] == ["h"]


async def test_resource_policies(store: LogStore) -> None:
    """Session 48: an account's policies made, replaced, bounded, listed by name, deleted."""
    await store.put_resource_policy(ResourcePolicy("t1", "b", "{}", T0), 2)
    await store.put_resource_policy(ResourcePolicy("t1", "a", "{}", T0), 2)
    await store.put_resource_policy(ResourcePolicy("t1", "b", '{"v": 2}', T0 + 1), 2)
    with pytest.raises(LimitExceeded):
        await store.put_resource_policy(ResourcePolicy("t1", "c", "{}", T0), 2)
    await store.put_resource_policy(ResourcePolicy("t2", "c", "{}", T0), 2)
    assert await store.list_resource_policies("t1", "", 10) == [
        ResourcePolicy("t1", "a", "{}", T0),
        ResourcePolicy("t1", "b", '{"v": 2}', T0 + 1),
    ]
    assert [p.name for p in await store.list_resource_policies("t1", "a", 10)] == ["b"]
    assert await store.delete_resource_policy("t1", "a")
    assert not await store.delete_resource_policy("t1", "a")
    assert [p.name for p in await store.list_resource_policies("t1", "", 10)] == ["b"]


async def test_events_stored_since(store: LogStore) -> None:
    """Session 50 (live tail): the ``seq`` stored last, any group's, and a group's events
    stored after a ``seq`` in the order stored — whatever their timestamps — of given
    streams, another group's and account's left out."""
    assert await store.last_seq() == 0
    for tenant, group in (("t1", "g"), ("t1", "h"), ("t2", "g")):
        await store.create_group(LogGroup(tenant, group, T0), 10)
        for name in ("s1", "s2"):
            await store.create_stream(LogStream(tenant, group, name, T0))
    assert await store.append("t1", "g", "s1", [event("s1", T0 + 50)])
    start = await store.last_seq()
    assert start > 0
    assert await store.append("t1", "g", "s2", [event("s2", T0 + 9), event("s2", T0 + 1)])
    assert await store.append("t2", "g", "s1", [event("s1", T0 + 3)])
    assert await store.append("t1", "h", "s1", [event("s1", T0 + 4)])
    assert await store.append("t1", "g", "s1", [event("s1", T0 - 5)])
    assert await store.last_seq() > start
    since = await store.read(EventQuery("t1", "g", stored_after=start))
    assert [(e.stream, e.timestamp) for e in since] == [
        ("s2", T0 + 9),
        ("s2", T0 + 1),
        ("s1", T0 - 5),
    ]
    assert [e.seq for e in since] == sorted(e.seq for e in since)
    assert all(e.seq > start for e in since)
    first = await store.read(EventQuery("t1", "g", stored_after=start, limit=1))
    rest = await store.read(EventQuery("t1", "g", stored_after=first[0].seq))
    assert first + rest == since
    only = await store.read(EventQuery("t1", "g", ["s1"], stored_after=start))
    assert [(e.stream, e.timestamp) for e in only] == [("s1", T0 - 5)]
    assert await store.read(EventQuery("t1", "g", stored_after=since[-1].seq)) == []


async def test_data_protection_policies_and_masked_spans(store: LogStore) -> None:
    """Decision 0211: a group's policy set and removed on its own (a group's other writes
    leave it), the spans kept with each event, the account's policies per type and name."""
    group = LogGroup("t1", "g", T0)
    await store.create_group(group, 10)
    assert await store.set_data_protection("t1", "g", '{"Name": "p"}', T0 + 1)
    assert not await store.set_data_protection("t1", "absent", "{}", T0)
    await store.put_group(dataclasses.replace(group, retention_days=7))
    held = await store.get_group("t1", "g")
    assert held is not None
    assert (held.data_protection, held.data_protection_updated, held.retention_days) == (
        '{"Name": "p"}',
        T0 + 1,
        7,
    )
    assert await store.set_data_protection("t1", "g", None, None)
    assert (await store.get_group("t1", "g")) == dataclasses.replace(group, retention_days=7)
    await store.create_stream(LogStream("t1", "g", "s", T0))
    masked = dataclasses.replace(event("s", T0), masks="0-5,9-12")
    assert await store.append("t1", "g", "s", [masked, event("s", T0 + 1)])
    read = await store.read(EventQuery("t1", "g", ["s"]))
    assert [e.masks for e in read] == ["0-5,9-12", None]
    kind = "DATA_PROTECTION_POLICY"
    first = AccountPolicy("t1", kind, "acct", "{}", "ALL", T0)
    await store.put_account_policy(first)
    await store.put_account_policy(dataclasses.replace(first, document='{"v": 2}', updated=T0 + 5))
    await store.put_account_policy(dataclasses.replace(first, tenant_id="t2"))
    assert await store.list_account_policies("t1", kind) == [
        dataclasses.replace(first, document='{"v": 2}', updated=T0 + 5)
    ]
    assert await store.list_account_policies("t1", "OTHER") == []
    assert await store.delete_account_policy("t1", kind, "acct")
    assert not await store.delete_account_policy("t1", kind, "acct")
    assert await store.list_account_policies("t1", kind) == []
    assert len(await store.list_account_policies("t2", kind)) == 1


async def test_subscription_account_policies_keep_their_selection_criteria(
    store: LogStore,
) -> None:
    """Decision 0232: a subscription filter policy's selection criteria as it was put, beside
    the data protection policy of the same name, each type listed apart."""
    kind = "SUBSCRIPTION_FILTER_POLICY"
    criteria = 'LogGroupName NOT IN ["/a", "/b"]'
    policy = AccountPolicy("t1", kind, "p", '{"DestinationArn": "x"}', "ALL", T0, criteria)
    await store.put_account_policy(policy)
    await store.put_account_policy(
        AccountPolicy("t1", "DATA_PROTECTION_POLICY", "p", "{}", "ALL", T0)
    )
    assert await store.list_account_policies("t1", kind) == [policy]
    [protection] = await store.list_account_policies("t1", "DATA_PROTECTION_POLICY")
    assert protection.selection_criteria is None
    cleared = dataclasses.replace(policy, selection_criteria=None, updated=T0 + 1)
    await store.put_account_policy(cleared)  # replaced: the criteria removed
    assert await store.list_account_policies("t1", kind) == [cleared]
    assert await store.delete_account_policy("t1", kind, "p")
    assert len(await store.list_account_policies("t1", "DATA_PROTECTION_POLICY")) == 1


async def test_a_groups_field_index_policy_is_its_own_and_goes_with_it(store: LogStore) -> None:
    """Decision 0232: the group's field index policy kept beside it, untouched by put_group,
    deleted with the group."""
    group = LogGroup("t1", "g", T0)
    await store.create_group(group, 10)
    assert await store.set_index_policy("t1", "g", '{"Fields": ["a"]}', T0 + 1)
    assert not await store.set_index_policy("t1", "absent", "{}", T0)
    await store.put_group(dataclasses.replace(group, retention_days=7, index_policy=None))
    held = await store.get_group("t1", "g")
    assert held is not None
    assert (held.index_policy, held.index_policy_updated, held.retention_days) == (
        '{"Fields": ["a"]}',
        T0 + 1,
        7,
    )
    [listed] = await store.list_groups("t1", "", "", "", 10)
    assert listed.index_policy == '{"Fields": ["a"]}'
    assert await store.set_index_policy("t1", "g", None, None)
    held = await store.get_group("t1", "g")
    assert held is not None and (held.index_policy, held.index_policy_updated) == (None, None)
    await store.set_index_policy("t1", "g", "{}", T0)
    assert await store.delete_group("t1", "g")
    await store.create_group(group, 10)
    again = await store.get_group("t1", "g")
    assert again is not None and again.index_policy is None
