"""One suite over every implementation of SNS FIFO topics' archive store and of topics' tags
(decision 0175): the in-memory twin, SQLite and PostgreSQL. Archived messages come back in
publish order within a replay's window and after its cursor, not once expired; an ended
archive expires at once and is deleted in bounded batches; each tenant's archived bytes are
counted; a replay's progress is a compare-and-set (a stale or replaced replay does not
advance). At rest (SQL): no record in clear, and a row moved to another topic does not open.
Migration 0081 comes and goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database, create_engine, open_database
from andromede.notifications.archive import (
    REPLAY_COMPLETED,
    REPLAY_PENDING,
    REPLAY_RUNNING,
    Replay,
)
from andromede.notifications.memory import MemoryTopicStore
from andromede.notifications.memory_archive import MemoryArchiveStore
from andromede.notifications.model import Topic
from andromede.notifications.store import ArchiveStore, TopicStore
from andromede.notifications.store_sql import SqlTopicStore
from andromede.notifications.store_sql_archive import SqlArchiveStore
from andromede.wiring.queues import EventKeySealer
from support.keys import key_service_in
from support.migrations import migrate
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
DAY = timedelta(days=1)
TOPIC = "arn:aws:sns:eu:t1:orders.fifo"
OTHER = "arn:aws:sns:eu:t2:orders.fifo"
SUBSCRIPTION = TOPIC + ":0b6c9d3e-1111-4222-8333-944455556666"
_A = tables.topic_archive


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture
def archive(database: Database | None, tmp_path: Path) -> ArchiveStore:
    if database is None:
        return MemoryArchiveStore()
    return SqlArchiveStore(database, EventKeySealer(key_service_in(tmp_path / "keys")))


@pytest.fixture
def topics(database: Database | None) -> TopicStore:
    return MemoryTopicStore() if database is None else SqlTopicStore(database)


async def _fill(archive: ArchiveStore) -> None:
    for n in range(5):
        at = NOW + timedelta(minutes=n)
        await archive.archive("t1", TOPIC, f"record-{n}", at, at + DAY)
    await archive.archive("t2", OTHER, "record-other", NOW, NOW + DAY)


async def test_archived_messages_in_order_within_a_window(archive: ArchiveStore) -> None:
    await _fill(archive)
    everything = await archive.archived(TOPIC, after=0, start=NOW, end=None, now=NOW, limit=10)
    assert [a.record for a in everything] == [f"record-{n}" for n in range(5)]
    ids = [a.archive_id for a in everything]
    assert ids == sorted(ids)
    assert everything[1].published_at == NOW + timedelta(minutes=1)
    window = await archive.archived(
        TOPIC,
        after=0,
        start=NOW + timedelta(minutes=1),
        end=NOW + timedelta(minutes=3),
        now=NOW,
        limit=10,
    )
    assert [a.record for a in window] == ["record-1", "record-2", "record-3"]
    # After a cursor, a batch at a time.
    page = await archive.archived(TOPIC, after=ids[1], start=NOW, end=None, now=NOW, limit=2)
    assert [a.record for a in page] == ["record-2", "record-3"]
    # Expired ones are not handed back, even before the upkeep deletes them.
    late = NOW + DAY + timedelta(minutes=2, seconds=30)
    kept = await archive.archived(TOPIC, after=0, start=NOW, end=None, now=late, limit=10)
    assert [a.record for a in kept] == ["record-3", "record-4"]
    assert await archive.archived_bytes() == {"t1": 5 * len("record-0"), "t2": 12}


async def test_an_ended_archive_is_deleted_in_bounded_batches(archive: ArchiveStore) -> None:
    await _fill(archive)
    assert await archive.end_archive(TOPIC, NOW) == 5
    assert await archive.archived(TOPIC, after=0, start=NOW, end=None, now=NOW, limit=10) == []
    assert await archive.expire(NOW, limit=2) == 2
    assert await archive.expire(NOW, limit=2) == 2
    assert await archive.expire(NOW, limit=2) == 1
    assert await archive.expire(NOW, limit=2) == 0
    # The other tenant's topic keeps its archive.
    assert await archive.archived_bytes() == {"t2": 12}
    other = await archive.archived(OTHER, after=0, start=NOW, end=None, now=NOW, limit=10)
    assert [a.record for a in other] == ["record-other"]


async def test_a_replays_progress_is_a_compare_and_set(archive: ArchiveStore) -> None:
    replay = Replay(SUBSCRIPTION, TOPIC, "t1", NOW, None, 0, REPLAY_PENDING)
    await archive.put_replay(replay)
    assert await archive.replay(SUBSCRIPTION) == replay
    assert await archive.due_replays(limit=10) == [replay]
    assert await archive.advance_replay(replay, 7, REPLAY_RUNNING)
    # A second gateway holding the replay as it was read advances nothing.
    assert not await archive.advance_replay(replay, 9, REPLAY_COMPLETED)
    running = await archive.replay(SUBSCRIPTION)
    assert running is not None and (running.cursor, running.status) == (7, REPLAY_RUNNING)
    assert await archive.advance_replay(running, 9, REPLAY_COMPLETED)
    assert await archive.due_replays(limit=10) == []
    # A new ReplayPolicy replaces it, from its own start.
    again = Replay(SUBSCRIPTION, TOPIC, "t1", NOW - DAY, NOW, 0, REPLAY_PENDING)
    await archive.put_replay(again)
    assert await archive.replay(SUBSCRIPTION) == again
    assert not await archive.advance_replay(running, 11, REPLAY_RUNNING)
    await archive.drop_replay(SUBSCRIPTION)
    assert await archive.replay(SUBSCRIPTION) is None


async def test_topics_keep_their_tags(topics: TopicStore) -> None:
    topic = Topic("t1", "tagged", "eu", {}, NOW, {"team": "blue", "cost": "42"})
    await topics.put_topic(topic, limit=10)
    held = await topics.get_topic("t1", "tagged")
    assert held is not None and dict(held.tags) == {"team": "blue", "cost": "42"}
    replaced = await topics.put_topic(Topic("t1", "tagged", "eu", {}, NOW, {}), limit=10)
    assert dict(replaced.tags) == {}
    held = await topics.get_topic("t1", "tagged")
    assert held is not None and dict(held.tags) == {}


at_rest = pytest.mark.parametrize("database", SQL_BACKENDS, indirect=True)


async def _rows(database: Database) -> list[tuple[int, str, str]]:
    query = sa.select(_A.c.id, _A.c.topic_arn, _A.c.message).order_by(_A.c.id)
    return await database.read(lambda conn: [tuple(r) for r in conn.execute(query).all()])


@at_rest
async def test_no_archived_message_is_kept_in_clear(
    database: Database, archive: ArchiveStore
) -> None:
    await archive.archive("t1", TOPIC, '{"message":"secret-order"}', NOW, NOW + DAY)
    await archive.archive("t1", TOPIC, '{"message":"second"}', NOW, NOW + DAY)
    rows = await _rows(database)
    assert rows and all("secret" not in message for _, _, message in rows)
    first = rows[0][0]
    moved = _A.update().where(_A.c.id == first).values(topic_arn=OTHER)
    await database.write(lambda conn: conn.execute(moved))
    # A row moved to another topic does not open there: handed back empty, never another's.
    (stolen,) = await archive.archived(OTHER, after=0, start=NOW, end=None, now=NOW, limit=10)
    assert stolen.record == ""
    (kept,) = await archive.archived(TOPIC, after=0, start=NOW, end=None, now=NOW, limit=10)
    assert kept.record == '{"message":"second"}'


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


async def test_migration_0081_comes_and_goes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    migrate(url, "0080")
    assert "topic_archive" not in _tables(url)
    migrate(url, "0081")
    assert {"topic_archive", "topic_replays"} <= _tables(url)
    db = open_database(url)
    try:
        store = SqlArchiveStore(db)
        await store.archive("t1", TOPIC, "r", NOW, NOW + DAY)
        await store.put_replay(Replay(SUBSCRIPTION, TOPIC, "t1", NOW, None, 0, REPLAY_PENDING))
        assert len(await store.due_replays(limit=5)) == 1
    finally:
        await db.close()
    migrate(url, "0080", down=True)
    assert not {"topic_archive", "topic_replays"} & _tables(url)
