"""One suite over every Auto Scaling group store (decision 0156): in memory, SQLite and
PostgreSQL (migration 0069). A group is one per account and name; a change lands only over the
revision it read (the reconciler's lease and the calls rely on it, so two gateways never both
win); deleting takes the group's activities with it; activities list newest first, per account
and group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.autoscaling.model import Activity, Group, GroupTag
from andromede.autoscaling.records import (
    HOOK_LAUNCHING,
    LifecycleHook,
    NotificationConfig,
    Refresh,
    RefreshStatus,
    ScheduledAction,
    Waiting,
    WarmPool,
)
from andromede.autoscaling.store import GroupStore, MemoryGroupStore
from andromede.autoscaling.store_sql import SqlGroupStore
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[GroupStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryGroupStore() if db is None else SqlGroupStore(db)


def group(tenant: str = "t1", name: str = "web", **changes: object) -> Group:
    made = Group(
        tenant_id=tenant,
        name=name,
        group_id="6f1c0a4e-0000-4000-8000-000000000001",
        template_id="lt-0123456789abcdef0",
        template_name="web",
        template_version="$Latest",
        min_size=1,
        max_size=4,
        desired_capacity=2,
        subnets=("subnet-a", "subnet-b"),
        created_at=NOW,
        tags=(GroupTag("team", "blue", True),),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def activity(tenant: str, name: str, minutes: int) -> Activity:
    return Activity(
        activity_id=f"act-{tenant}-{name}-{minutes}",
        tenant_id=tenant,
        group_name=name,
        description="Launching a new EC2 instance: i-1",
        cause="test",
        status_code="Successful",
        start_time=NOW + timedelta(minutes=minutes),
        end_time=NOW + timedelta(minutes=minutes, seconds=5),
    )


async def test_a_group_is_one_per_account_and_name(store: GroupStore) -> None:
    assert await store.insert(group())
    assert not await store.insert(group(desired_capacity=3))
    assert await store.insert(group(tenant="t2"))
    read = await store.get("t1", "web")
    assert read == group(revision=0)
    assert [g.tenant_id for g in await store.groups(None)] == ["t1", "t2"]
    assert [g.tenant_id for g in await store.groups("t2")] == ["t2"]
    assert await store.get("t3", "web") is None


async def test_a_change_lands_only_over_the_revision_read(store: GroupStore) -> None:
    await store.insert(group())
    read = await store.get("t1", "web")
    assert read is not None
    claimed = replace(read, claimed_by="gw-1", claimed_until=NOW + timedelta(minutes=1))
    assert await store.change(claimed)
    assert not await store.change(replace(read, desired_capacity=4))  # stale
    again = await store.get("t1", "web")
    assert again is not None and again.revision == 1 and again.claimed_by == "gw-1"
    assert again.claimed_until == NOW + timedelta(minutes=1)
    assert not await store.delete(read)  # stale too
    assert await store.delete(again)
    assert await store.get("t1", "web") is None


async def test_two_claims_at_once_one_wins(store: GroupStore) -> None:
    await store.insert(group())
    read = await store.get("t1", "web")
    assert read is not None
    won = await asyncio.gather(
        store.change(replace(read, claimed_by="gw-1")),
        store.change(replace(read, claimed_by="gw-2")),
    )
    assert sorted(won) == [False, True]


async def test_activities_newest_first_and_gone_with_their_group(store: GroupStore) -> None:
    await store.insert(group())
    await store.insert(group(name="db"))
    for minutes in (1, 3, 2):
        await store.add_activity(activity("t1", "web", minutes))
    await store.add_activity(activity("t1", "db", 5))
    await store.add_activity(activity("t2", "web", 9))
    web = await store.activities("t1", "web")
    assert [a.start_time.minute for a in web] == [3, 2, 1]
    assert web[0] == activity("t1", "web", 3)
    assert [a.group_name for a in await store.activities("t1", None)] == [
        "db", "web", "web", "web",
    ]  # fmt: skip
    read = await store.get("t1", "web")
    assert read is not None and await store.delete(read)
    assert await store.activities("t1", "web") == []
    assert len(await store.activities("t1", "db")) == 1


async def test_schedules_hooks_waits_and_refreshes_ride_in_the_group(store: GroupStore) -> None:
    """Decision 0159 keeps them in the group's document: written with it under its revision,
    read back whole; a document written before (without them) reads with none."""
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert await store.insert(group())
    held = await store.get("t1", "web")
    assert held is not None and held.scheduled_actions == () and held.refreshes == ()
    full = replace(
        held,
        scheduled_actions=(
            ScheduledAction(
                "am",
                "a-1",
                now,
                recurrence="0 9 * * *",
                time_zone="Europe/Paris",
                desired_capacity=2,
            ),
        ),
        hooks=(LifecycleHook("warm", HOOK_LAUNCHING, 120, "CONTINUE", "meta"),),
        waiting=(
            Waiting(
                "i-1",
                "warm",
                HOOK_LAUNCHING,
                "tok",
                now,
                now + timedelta(minutes=2),
                now + timedelta(hours=3),
                "CONTINUE",
            ),
        ),
        refreshes=(
            Refresh("r-1", RefreshStatus.IN_PROGRESS, now, 50, 30, True, ("i-1", "i-2"), ("i-1",)),
        ),
    )
    assert await store.change(full)
    back = await store.get("t1", "web")
    assert back is not None
    assert (back.scheduled_actions, back.hooks, back.waiting, back.refreshes) == (
        full.scheduled_actions,
        full.hooks,
        full.waiting,
        full.refreshes,
    )
    assert back.active_refresh == full.refreshes[0] and back.refreshes[0].percentage == 50


async def test_notification_configurations_ride_in_the_group(store: GroupStore) -> None:
    """Decision 0188 keeps them in the group's document too; one written before has none."""
    assert await store.insert(group())
    held = await store.get("t1", "web")
    assert held is not None and held.notifications == ()
    topic = "arn:aws:sns:eu-fr-1:t1:scaling"
    types = ("autoscaling:EC2_INSTANCE_LAUNCH", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR")
    assert await store.change(replace(held, notifications=(NotificationConfig(topic, types),)))
    back = await store.get("t1", "web")
    assert back is not None and back.notifications == (NotificationConfig(topic, types),)


async def test_warm_pool_rides_in_the_group(store: GroupStore) -> None:
    """Decision 0194 keeps the pool, its instances and the warm-up in the group's document;
    one written before has none."""
    assert await store.insert(group())
    held = await store.get("t1", "web")
    assert held is not None
    assert (held.warm_pool, held.warmed, held.default_instance_warmup) == (None, (), None)
    pool = WarmPool(min_size=1, max_prepared=3, pool_state="Running", reuse_on_scale_in=True)
    changed = replace(held, warm_pool=pool, warmed=("i-1", "i-2"), default_instance_warmup=45)
    assert await store.change(changed)
    back = await store.get("t1", "web")
    assert back is not None
    assert (back.warm_pool, back.warmed, back.default_instance_warmup) == (
        pool,
        ("i-1", "i-2"),
        45,
    )
    assert pool.size(max_size=10, desired=2, ceiling=100) == 1  # 3 - 2, at least MinSize 1
    assert replace(pool, max_prepared=None).size(10, 2, 100) == 8  # MaxSize - desired
    assert replace(pool, max_prepared=None).size(10, 2, 5) == 5  # the setting's cap
    assert replace(pool, deleting=True).size(10, 2, 100) == 0
