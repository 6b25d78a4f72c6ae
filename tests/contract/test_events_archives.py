"""Decision 0196's archive store over every implementation (memory, SQLite, PostgreSQL):
archives created once, counted against their limit, listed by name, prefix and source,
changed, deleted with their events; events read in (time, id) order within a window after a
cursor, expired past their archive's retention in bounded batches; replays created once,
their unfinished ones counted, listed, cancelled only while STARTING or RUNNING, leased to
one holder at a time and moved on by that holder's compare-and-set only; a closed tenant's
all gone; over SQL, the events sealed at rest and a shredded tenant's never opening."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database
from andromede.events.archive_model import Archive, Replay, ReplayState, micros
from andromede.events.archive_store import ArchiveStore, MemoryArchiveStore
from andromede.events.archive_store_sql import SqlArchiveStore
from andromede.events.errors import (
    IllegalStatus,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
)
from andromede.events.store_sql import SqlEventsStore
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from andromede.wiring.queues import EventKeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

REGION = "eu-west-3"
T0 = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
BUS = f"arn:aws:events:{REGION}:t1:event-bus/default"
LEASE = timedelta(seconds=30)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArchiveStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryArchiveStore() if db is None else SqlArchiveStore(db, REGION)


@pytest.fixture(params=SQL_BACKENDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def archive(name: str, tenant: str = "t1", bus: str = "default", **kw: object) -> Archive:
    source = f"arn:aws:events:{REGION}:{tenant}:event-bus/{bus}"
    return Archive(tenant, REGION, name, bus, source, created=T0, **kw)  # type: ignore[arg-type]


def replay(name: str, tenant: str = "t1", archive_name: str = "a", **kw: object) -> Replay:
    source = f"arn:aws:events:{REGION}:{tenant}:archive/{archive_name}"
    return Replay(
        tenant,
        REGION,
        name,
        archive_name,
        source,
        T0 - timedelta(hours=1),
        T0 + timedelta(hours=1),
        BUS,
        created=T0,
        **kw,  # type: ignore[arg-type]
    )


async def test_archives(store: ArchiveStore) -> None:
    for name in ("b-2", "B-1", "a"):
        await store.create_archive(
            archive(name, description="é", event_pattern='{"a":[1]}'), limit=4
        )
    await store.create_archive(archive("c", bus="other", retention_days=3), limit=4)
    with pytest.raises(ResourceAlreadyExists):
        await store.create_archive(archive("a"), limit=10)
    with pytest.raises(LimitExceeded):
        await store.create_archive(archive("d"), limit=4)
    await store.create_archive(archive("a", tenant="t2"), limit=1)
    assert await store.get_archive("t1", "a") == archive(
        "a", description="é", event_pattern='{"a":[1]}'
    )
    assert await store.get_archive("t1", "zz") is None

    async def names(**kw: object) -> list[str]:
        args: dict[str, object] = {"prefix": "", "source_arn": None, "state": None}
        args |= {"after": "", "limit": 10} | kw
        return [a.name for a in await store.list_archives("t1", **args)]  # type: ignore[arg-type]

    assert await names() == ["B-1", "a", "b-2", "c"]
    assert await names(prefix="b") == ["b-2"]  # case-sensitive
    assert await names(after="B-1", limit=2) == ["a", "b-2"]
    assert await names(source_arn=archive("c", bus="other").source_arn) == ["c"]
    assert await names(state="ENABLED") == ["B-1", "a", "b-2", "c"]
    assert await names(state="DISABLED") == []
    assert [a.name for a in await store.bus_archives("t1", "default")] == ["B-1", "a", "b-2"]

    changed = await store.change_archive(
        "t1", "a", lambda held: replace(held, description=None, retention_days=7, name="x")
    )
    assert (changed.name, changed.description, changed.retention_days) == ("a", None, 7)
    assert changed.event_pattern == '{"a":[1]}'
    with pytest.raises(ResourceNotFound):
        await store.change_archive("t1", "zz", lambda held: held)
    with pytest.raises(ValueError, match="refused"):  # a refused change writes nothing

        def refuse(held: Archive) -> Archive:
            raise ValueError("refused")

        await store.change_archive("t1", "a", refuse)
    assert (await store.get_archive("t1", "a")) == replace(changed, event_count=0)
    # Decision 0332's DISABLED (its managed rule or target gone) is kept by both stores.
    disabled = await store.change_archive("t1", "b-2", lambda held: replace(held, state="DISABLED"))
    assert disabled.state == "DISABLED"
    assert await names(state="DISABLED") == ["b-2"]

    await store.add_events("t1", "a", [(T0, '{"id":"e1"}')], T0)
    await store.delete_archive("t1", "a")
    assert await store.get_archive("t1", "a") is None
    with pytest.raises(ResourceNotFound):
        await store.delete_archive("t1", "a")
    await store.create_archive(archive("a"), limit=10)  # its events did not outlive it
    found = await store.get_archive("t1", "a")
    assert found is not None and (found.event_count, found.size_bytes) == (0, 0)


async def test_events_window_cursor_and_expiry(store: ArchiveStore) -> None:
    await store.create_archive(archive("a", retention_days=1), limit=10)
    await store.create_archive(archive("forever"), limit=10)
    await store.create_archive(archive("longest", retention_days=2**31 - 1), limit=10)
    await store.add_events("t1", "longest", [(T0, "{}")], T0 - timedelta(days=400))
    s = timedelta(seconds=1)
    # Arrival order is not time order: a PutEvents may carry an older Time.
    await store.add_events("t1", "a", [(T0 + 2 * s, '{"n":2}'), (T0, '{"n":0}')], T0)
    await store.add_events("t1", "a", [(T0 + s, '{"n":1}'), (T0 + 2 * s, '{"n":"2b"}')], T0)
    await store.add_events("t1", "missing", [(T0, "{}")], T0)  # no archive: nothing
    await store.add_events("t1", "forever", [(T0, '{"n":"é"}')], T0 - timedelta(days=400))
    held = await store.get_archive("t1", "a")
    assert held is not None and (held.event_count, held.size_bytes) == (4, 7 + 7 + 7 + 10)

    async def window(
        after: tuple[int, int], limit: int = 10, end: datetime = T0 + 3 * s
    ) -> list[str]:
        found = await store.events("t1", "a", start=T0, end=end, after=after, limit=limit)
        return [event.event for event in found]

    assert await window((0, 0)) == ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":"2b"}']
    first_two = await store.events("t1", "a", start=T0, end=T0 + 3 * s, after=(0, 0), limit=2)
    assert [e.time for e in first_two] == [T0, T0 + s]
    cursor = (micros(first_two[-1].time), first_two[-1].event_id)
    assert await window(cursor) == ['{"n":2}', '{"n":"2b"}']
    third = (await store.events("t1", "a", start=T0, end=T0 + 3 * s, after=cursor, limit=1))[0]
    assert await window((micros(third.time), third.event_id)) == ['{"n":"2b"}']
    assert await window((0, 0), end=T0 + 2 * s) == ['{"n":0}', '{"n":1}']  # the end excluded
    assert await store.events("t2", "a", start=T0, end=T0 + s, after=(0, 0), limit=9) == []

    assert await store.expire(T0 + timedelta(hours=23), limit=10) == 0
    assert await store.expire(T0 + timedelta(days=1, seconds=1), limit=3) == 3  # bounded
    assert await store.expire(T0 + timedelta(days=1, seconds=1), limit=3) == 1
    assert await window((0, 0)) == []
    kept = await store.get_archive("t1", "forever")
    assert kept is not None and kept.event_count == 1  # RetentionDays 0: forever
    longest = await store.get_archive("t1", "longest")
    assert longest is not None and longest.event_count == 1  # no overflow, kept


async def test_replays(store: ArchiveStore) -> None:
    await store.create_replay(replay("r1"), limit=2)
    await store.create_replay(replay("r2", archive_name="b", description="é"), limit=2)
    with pytest.raises(ResourceAlreadyExists):
        await store.create_replay(replay("r1"), limit=5)
    with pytest.raises(LimitExceeded):
        await store.create_replay(replay("r3"), limit=2)
    await store.create_replay(replay("r1", tenant="t2"), limit=1)
    assert await store.get_replay("t1", "r2") == replay("r2", archive_name="b", description="é")

    # One holder at a time: A's lease keeps B out until it ends.
    claimed = await store.claim_replays(T0, holder="A", lease=LEASE, limit=10)
    assert [(r.tenant_id, r.name) for r in claimed] == [("t1", "r1"), ("t1", "r2"), ("t2", "r1")]
    assert (
        await store.claim_replays(T0 + timedelta(seconds=1), holder="B", lease=LEASE, limit=9) == []
    )
    r1 = claimed[0]
    running = r1.moved(ReplayState.RUNNING, T0)
    assert not await store.advance_replay(r1, running, holder="B")  # not B's
    assert await store.advance_replay(r1, running, holder="A")
    assert not await store.advance_replay(r1, running, holder="A")  # no longer STARTING
    moved = replace(running, cursor=(5, 7), last_replayed=T0)
    assert await store.advance_replay(running, moved, holder="A")
    assert await store.get_replay("t1", "r1") == moved

    # A cancel between a read and its write wins: the runner's write finds another state.
    cancelling = await store.cancel_replay("t1", "r1", T0)
    assert cancelling.state == ReplayState.CANCELLING
    assert not await store.advance_replay(moved, moved.moved(ReplayState.COMPLETED, T0), holder="A")
    later = T0 + LEASE + timedelta(seconds=1)
    taken = await store.claim_replays(later, holder="B", lease=LEASE, limit=1)
    assert [(r.name, r.state, r.cursor) for r in taken] == [("r1", "CANCELLING", (5, 7))]
    done = taken[0].moved(ReplayState.CANCELLED, later)
    assert await store.advance_replay(taken[0], done, holder="B")
    assert (await store.get_replay("t1", "r1")) == done and done.ended == later
    with pytest.raises(IllegalStatus):
        await store.cancel_replay("t1", "r1", later)
    with pytest.raises(ResourceNotFound):
        await store.cancel_replay("t1", "zz", later)
    # A finished replay is not claimed again, and no longer counts against the limit.
    assert [r.name for r in await store.claim_replays(later, holder="B", lease=LEASE, limit=9)] == [
        "r2",
        "r1",
    ]
    await store.create_replay(replay("r0"), limit=2)

    async def names(**kw: object) -> list[str]:
        args: dict[str, object] = {"prefix": "", "source_arn": None, "state": None}
        args |= {"after": "", "limit": 10} | kw
        return [r.name for r in await store.list_replays("t1", **args)]  # type: ignore[arg-type]

    assert await names() == ["r0", "r1", "r2"]
    assert await names(state="CANCELLED") == ["r1"]
    assert await names(source_arn=replay("x", archive_name="b").source_arn) == ["r2"]
    assert await names(prefix="r", after="r0", limit=1) == ["r1"]


async def test_a_closed_tenant_forgotten(store: ArchiveStore) -> None:
    for tenant in ("t1", "t2"):
        await store.create_archive(archive("a", tenant=tenant), limit=9)
        await store.add_events(tenant, "a", [(T0, "{}")], T0)
        await store.create_replay(replay("r", tenant=tenant), limit=9)
    assert await store.forget_tenant("t1") == 1
    assert await store.get_archive("t1", "a") is None
    assert await store.get_replay("t1", "r") is None
    assert await store.events("t1", "a", start=T0, end=T0 + LEASE, after=(0, 0), limit=9) == []
    kept = await store.get_archive("t2", "a")
    assert kept is not None and kept.event_count == 1
    assert await store.get_replay("t2", "r") is not None


async def test_sealed_at_rest_and_shredded(sql_db: Database, tmp_path: Path) -> None:
    keys = key_service_in(tmp_path / "keys")
    store = SqlArchiveStore(sql_db, REGION, EventKeySealer(keys))
    for tenant in ("t1", "t2"):
        await store.create_archive(archive("a", tenant=tenant), limit=9)
        await store.add_events(tenant, "a", [(T0, '{"secret":"clear-text-é"}')], T0)
    raw = await sql_db.read(
        lambda conn: [r.message for r in conn.execute(sa.select(tables.events_archive_events))]
    )
    assert len(raw) == 2 and not any("clear-text" in message for message in raw)
    found = await store.events("t2", "a", start=T0, end=T0 + LEASE, after=(0, 0), limit=9)
    assert [e.event for e in found] == ['{"secret":"clear-text-é"}']
    # A row moved to another archive does not open (its AAD binds the archive's ARN).
    await store.create_archive(archive("b", tenant="t2"), limit=9)
    moved = tables.events_archive_events.update().where(
        tables.events_archive_events.c.tenant_id == "t2"
    )
    await sql_db.write(lambda conn: conn.execute(moved.values(archive_name="b")))
    assert [
        e.event
        for e in await store.events("t2", "b", start=T0, end=T0 + LEASE, after=(0, 0), limit=9)
    ] == [""]
    keys.destroy_tenant_key("t1")
    shredded = await store.events("t1", "a", start=T0, end=T0 + LEASE, after=(0, 0), limit=9)
    assert [e.event for e in shredded] == [""]  # never opens: the replay skips it
    # The events store's tenant closure (what ``serve`` calls) takes the archives along.
    await store.create_replay(replay("r", tenant="t2"), limit=9)
    await SqlEventsStore(sql_db, REGION).forget_tenant("t2")
    assert await store.get_archive("t2", "b") is None
    assert await store.get_replay("t2", "r") is None
    counted = sa.select(sa.func.count()).select_from(tables.events_archive_events)
    assert await sql_db.read(lambda conn: conn.scalar(counted)) == 1  # t1's


class _Sink:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        self.sent.append(json.loads(message))


async def test_a_second_gateway_resumes_a_replay(sql_db: Database, tmp_path: Path) -> None:
    """Two gateways as ``serve`` wires them (``EventsParts``, sealed over the same keys): the
    first takes a replay one event (``events_replay_batch``) then stops; the second cannot
    take it while the first's lease (``events_replay_lease``) runs, then resumes from the
    cursor — nothing replayed twice, nothing lost."""
    settings = Settings(
        data_dir=tmp_path, region=REGION, events_replay_batch=1, events_replay_lease=0.3
    )
    sinks = [_Sink(), _Sink()]
    gateways = [
        EventsParts(settings, sql_db, sink, EventKeySealer(key_service_in(tmp_path / "keys")))  # type: ignore[arg-type]
        for sink in sinks
    ]
    service = gateways[0].service
    await service.put_rule("t1", "r", "default", event_pattern='{"source": ["app"]}')
    await service.put_targets(
        "t1", "r", "default", [{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:t1:q"}]
    )
    await gateways[0].archives.create_archive("t1", "a", BUS)
    now = datetime.now(UTC).replace(microsecond=0)
    entries = [
        {
            "Source": "app",
            "DetailType": "t",
            "Detail": json.dumps({"n": n}),
            "Time": (now - timedelta(minutes=3 - n)).timestamp(),
        }
        for n in range(3)
    ]
    await service.put_events("t1", entries)
    await gateways[0].deliveries.drain()
    sinks[0].sent.clear()
    archive_arn = (await gateways[0].archives.describe_archive("t1", "a")).arn
    await gateways[0].archives.start_replay(
        "t1", "p", archive_arn, now - timedelta(hours=1), now, BUS
    )
    first, second = (parts.replays(f"gw-{i}") for i, parts in enumerate(gateways))
    assert await first.run_once() == 1  # STARTING → RUNNING
    assert await first.run_once() == 1  # event 0
    assert await second.run_once() == 0  # the first's lease
    await asyncio.sleep(0.35)
    await second.drain()
    for parts in gateways:
        await parts.deliveries.drain()
    replayed = sorted(e["detail"]["n"] for sink in sinks for e in sink.sent)
    assert replayed == [0, 1, 2]
    assert all(e["replay-name"] == "p" for sink in sinks for e in sink.sent)
    assert (await gateways[1].archives.describe_replay("t1", "p")).state == "COMPLETED"


async def test_an_archive_s_customer_key_kept(store: ArchiveStore) -> None:
    """Decision 0204: KmsKeyIdentifier kept, listed, changed; the events the port sealed kept
    as the opaque texts they are."""
    await store.create_archive(archive("k", kms_key="alias/mine"), limit=9)
    held = await store.get_archive("t1", "k")
    assert held is not None and held.kms_key == "alias/mine"
    [listed] = await store.list_archives(
        "t1", prefix="k", source_arn=None, state=None, after="", limit=9
    )
    assert listed.kms_key == "alias/mine"
    [on_bus] = await store.bus_archives("t1", "default")
    assert on_bus.kms_key == "alias/mine"
    changed = await store.change_archive("t1", "k", lambda a: replace(a, kms_key="key-2"))
    assert changed.kms_key == "key-2"
    await store.add_events("t1", "k", [(T0, "kms1.c2VhbGVk")], T0)
    [event] = await store.events("t1", "k", start=T0 - LEASE, end=T0 + LEASE, after=(0, 0), limit=9)
    assert event.event == "kms1.c2VhbGVk"
    await store.create_archive(archive("plain"), limit=9)
    plain = await store.get_archive("t1", "plain")
    assert plain is not None and plain.kms_key is None


async def test_a_limit_counts_the_names_it_is_told(store: ArchiveStore) -> None:
    """Decision 0402: ``counted`` says which stored names count toward a limit (a Region's
    view counting its own, ``~<region>~<name>``); the others, the account's in another
    Region, are no hindrance, and without it every one counts."""
    other = "~eu-de-1~"

    def mine(name: str) -> bool:
        return name.startswith(other)

    for name in ("a", "b"):
        await store.create_archive(archive(name), limit=2)
    with pytest.raises(LimitExceeded):
        await store.create_archive(archive("c"), limit=2)
    await store.create_archive(archive(f"{other}a"), limit=2, counted=mine)
    await store.create_archive(archive(f"{other}b"), limit=2, counted=mine)
    with pytest.raises(LimitExceeded):
        await store.create_archive(archive(f"{other}c"), limit=2, counted=mine)

    await store.create_replay(replay("r1"), limit=1)
    with pytest.raises(LimitExceeded):
        await store.create_replay(replay("r2"), limit=1)
    await store.create_replay(replay(f"{other}r1"), limit=1, counted=mine)
    with pytest.raises(LimitExceeded):
        await store.create_replay(replay(f"{other}r2"), limit=1, counted=mine)
