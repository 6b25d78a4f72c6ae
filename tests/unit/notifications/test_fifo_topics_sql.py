"""SNS FIFO topics' deduplication keys over the metadata database (decision 0171, migration
0079), on SQLite and on a real PostgreSQL: a key answers the first message's id and sequence
for five minutes, then is new again; sequences grow; a topic deleted takes its keys with it;
a FIFO topic's subscription's events are claimed in order; the migration comes and goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from andromede.db.database import create_engine, open_database
from andromede.notifications.model import Topic
from andromede.notifications.store_sql import SqlEventQueue, SqlTopicStore
from support.migrations import migrate

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


async def _check(url: str) -> None:
    migrate(url, "0078")
    assert "topic_deduplications" not in _tables(url)
    migrate(url, "0079")
    assert "topic_deduplications" in _tables(url)
    # Today's store over today's schema (later migrations add columns it reads: 0149's).
    migrate(url, "head")
    db = open_database(url)
    try:
        store = SqlTopicStore(db)
        topic = await store.put_topic(
            Topic("t1", "orders.fifo", "eu", {"FifoTopic": "true"}, NOW), limit=10
        )
        other = await store.put_topic(
            Topic("t2", "orders.fifo", "eu", {"FifoTopic": "true"}, NOW), limit=10
        )
        first = await store.deduplicate(topic, "k1", "m1", NOW, LATER)
        assert first[0] == "m1" and first[2]
        again = await store.deduplicate(topic, "k1", "m9", NOW + timedelta(minutes=4), LATER)
        assert again == ("m1", first[1], False)
        second = await store.deduplicate(topic, "k2", "m2", NOW, LATER)
        assert second[2] and second[1] > first[1]
        # Another account's topic of the same name keeps its own keys.
        assert (await store.deduplicate(other, "k1", "m3", NOW, LATER))[2]
        # Five minutes on, the key is new again, with a new sequence.
        renewed = await store.deduplicate(topic, "k1", "m4", LATER, LATER + timedelta(minutes=5))
        assert renewed[0] == "m4" and renewed[2] and renewed[1] > second[1]
        assert await store.delete_topic("t1", "orders.fifo")
        await store.put_topic(topic, limit=10)
        assert (await store.deduplicate(topic, "k2", "m5", NOW, LATER))[2]
        await _claims_in_order(SqlEventQueue(db))
        if url.startswith("postgresql"):
            await _not_beside_another_claim(SqlEventQueue(db), url)
    finally:
        await db.close()
    migrate(url, "0078", down=True)
    assert "topic_deduplications" not in _tables(url)


async def _claims_in_order(queue: SqlEventQueue) -> None:
    """A FIFO topic's subscription's event is not claimed while an earlier one of it is
    leased or waiting for its retry; other destinations are, meanwhile."""
    ordered = "arn:aws:sns:eu:t1:orders.fifo:0b6c9d3e-1111-4222-8333-944455556666"
    other = "arn:aws:sns:eu:t1:plain:0b6c9d3e-1111-4222-8333-944455556666"
    lease = timedelta(seconds=60)
    for n in range(3):
        assert await queue.add("t1", ordered, f"m{n}", NOW, bound=100)
    assert await queue.add("t1", other, "x", NOW, bound=100)
    [first] = await queue.claim(NOW, lease=lease, limit=1)
    assert first.message == "m0"
    # m1 and m2 wait behind the leased m0; the other destination's event does not.
    assert [e.message for e in await queue.claim(NOW, lease=lease, limit=10)] == ["x"]
    await queue.retry(first, NOW + timedelta(seconds=30), "refused")
    assert await queue.claim(NOW + timedelta(seconds=10), lease=lease, limit=10) == []
    due = await queue.claim(NOW + timedelta(seconds=30), lease=lease, limit=10)
    assert [e.message for e in due] == ["m0", "m1", "m2"]


async def _not_beside_another_claim(queue: SqlEventQueue, url: str) -> None:
    """Another gateway's claim holding a subscription's first event, not committed yet (its
    lease unseen): this claim skips that event and must not take the next one either."""
    ordered = "arn:aws:sns:eu:t1:other.fifo:0b6c9d3e-1111-4222-8333-944455556666"
    for n in range(2):
        assert await queue.add("t1", ordered, f"p{n}", NOW, bound=100)
    lease = timedelta(seconds=60)
    moment = NOW + timedelta(hours=1)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT id FROM notification_events WHERE message = 'p0' FOR UPDATE")
            )
            taken = await queue.claim(moment, lease=lease, limit=20)
            assert not {"p0", "p1"} & {e.message for e in taken}
    finally:
        engine.dispose()
    taken = await queue.claim(moment, lease=lease, limit=20)
    assert [e.message for e in taken] == ["p0", "p1"]


async def test_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite:///{tmp_path / 'meta.db'}")


async def test_on_postgresql(postgres_empty_url: str) -> None:
    await _check(postgres_empty_url)
