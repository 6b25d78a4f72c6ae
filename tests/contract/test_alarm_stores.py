"""Decision 0177's alarm store over every implementation (memory, SQLite, PostgreSQL): an alarm
put, replaced and read back whole; changes only over the revision read; a period claimed by
one gateway only; the due alarms in order across accounts; deletion with the history; the
history newest first and forgotten by age a batch at a time. Decision 0184: a composite
alarm (a rule, a suppressor) read back whole, never due."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.metrics.alarm_store import AlarmStore, MemoryAlarmStore
from andromede.metrics.alarm_store_sql import SqlAlarmStore
from andromede.metrics.alarms import Alarm, AlarmState, HistoryItem
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AlarmStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryAlarmStore() if db is None else SqlAlarmStore(db)


def alarm(name: str = "high", tenant: str = "t1", due: int = 1000) -> Alarm:
    return Alarm(
        tenant_id=tenant,
        name=name,
        namespace="App",
        metric_name="Load",
        dimensions=(("Host", "a"), ("Zone", "é")),
        period=60,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=1.5,
        comparison="GreaterThanThreshold",
        statistic=None,
        extended_statistic="p99",
        unit="Percent",
        treat_missing_data="breaching",
        description="load",
        alarm_actions=("arn:aws:sns:r:t1:ops",),
        tags=(("team", "blue"),),
        state_updated=T0,
        configuration_updated=T0,
        next_evaluation=due,
    )


async def test_put_replace_change_and_claim(store: AlarmStore) -> None:
    await store.put(alarm())
    held = await store.get("t1", "high")
    assert held == replace(alarm(), revision=0)
    await store.put(replace(alarm(), threshold=2.0))
    held = await store.get("t1", "high")
    assert held is not None and (held.threshold, held.revision) == (2.0, 1)
    moved = replace(held, state=AlarmState.ALARM, state_reason="crossed")
    assert await store.change(moved)
    assert not await store.change(moved)  # the revision read is gone
    held = await store.get("t1", "high")
    assert held is not None and (held.state, held.revision) == (AlarmState.ALARM, 2)
    # Two gateways claim the same period: one wins.
    assert await store.claim(held, 1060)
    assert not await store.claim(held, 1060)
    claimed = await store.get("t1", "high")
    assert claimed is not None and (claimed.next_evaluation, claimed.revision) == (1060, 3)
    assert claimed.state is AlarmState.ALARM  # a claim moves nothing else


async def test_due_alarms_listing_and_deletion(store: AlarmStore) -> None:
    await store.put(alarm("b", due=900))
    await store.put(alarm("a", due=1000))
    await store.put(alarm("a", tenant="t2", due=800))
    await store.put(alarm("late", due=5000))
    assert [(a.tenant_id, a.name) for a in await store.due(1000, 10)] == [
        ("t2", "a"),
        ("t1", "b"),
        ("t1", "a"),
    ]
    assert len(await store.due(1000, 1)) == 1
    assert [a.name for a in await store.alarms("t1")] == ["a", "b", "late"]
    await store.add_history(HistoryItem("t1", "a", T0, "StateUpdate", "s", "{}"))
    await store.add_history(HistoryItem("t1", "b", T0, "StateUpdate", "s", "{}"))
    assert await store.delete("t1", ["a", "zzz", "a"]) == ["a"]
    assert [h.alarm_name for h in await store.history("t1", None)] == ["b"]
    assert [a.name for a in await store.alarms("t2")] == ["a"]


async def test_history_newest_first_and_forgotten_by_age(store: AlarmStore) -> None:
    await store.put(alarm())
    for minutes in (0, 1, 2, 2):
        await store.add_history(
            HistoryItem("t1", "high", T0 + timedelta(minutes=minutes), "StateUpdate", "s", "{}")
        )
    await store.add_history(HistoryItem("t2", "x", T0, "Action", "other", "{}"))
    history = await store.history("t1", "high")
    assert [h.timestamp for h in history] == [
        T0 + timedelta(minutes=m) for m in (2, 2, 1, 0)
    ]  # both items of one instant kept
    assert await store.forget_history(T0 + timedelta(minutes=2), 2) == 2
    assert await store.forget_history(T0 + timedelta(minutes=2), 2) == 1
    assert len(await store.history("t1", None)) == 2
    assert await store.history("t2", None) == []  # forgotten too: older, any account


async def test_a_composite_alarm_reads_back_whole_and_is_never_due(store: AlarmStore) -> None:
    """Decision 0184: a composite is an alarm with a rule, stored in the same rows (no
    migration); with nothing pending its next evaluation is never reached."""
    composite = replace(
        alarm("both"),
        namespace="",
        metric_name="",
        dimensions=(),
        rule='ALARM("a") AND NOT OK(b)',
        suppressor="deploying",
        suppressor_wait=30,
        suppressor_extension=90,
        next_evaluation=2**62,
    )
    await store.put(composite)
    assert await store.get("t1", "both") == replace(composite, revision=0)
    assert await store.due(2**40, 10) == []
