"""One suite over every implementation of the SNS subscription store (decision 0163): the
in-memory twin, SQLite and PostgreSQL. A topic's subscription of one protocol and endpoint
is held once (Subscribe again answers it), a topic holds at most its limit, the listings page
by ARN and filter by topic or subscriber, confirming and changing attributes replace the
document, deleting a topic's subscriptions leaves the others', and the region's signing key
is kept once: the first kept wins."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.notifications.errors import SubscriptionLimitExceeded
from andromede.notifications.memory_subscriptions import MemorySubscriptionStore
from andromede.notifications.store import SubscriptionStore
from andromede.notifications.store_sql_subscriptions import SqlSubscriptionStore
from andromede.notifications.subscriptions import Subscription
from support.schema import migrated_sqlite

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu:t1:events"
OTHER = "arn:aws:sns:eu:t1:other"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SubscriptionStore]:
    if request.param == "memory":
        yield MemorySubscriptionStore()
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    yield SqlSubscriptionStore(db)
    await db.close()


def sub(n: int, topic: str = TOPIC, *, owner: str = "t1", token: str | None = None) -> Subscription:
    return Subscription(
        arn=f"{topic}:{n:04d}-uuid",
        topic_arn=topic,
        tenant_id="t1",
        owner=owner,
        protocol="https",
        endpoint=f"https://hooks.example/{n}",
        attributes={"RawMessageDelivery": "true"},
        token=token,
        created_at=NOW,
    )


async def test_a_subscription_is_kept_once_per_endpoint(store: SubscriptionStore) -> None:
    first = await store.put_subscription(sub(1, token="tok"), limit=10)
    again = await store.put_subscription(dataclasses.replace(sub(1), arn=f"{TOPIC}:x"), limit=10)
    assert again == first and again.token == "tok"
    assert await store.get_subscription(first.arn) == first
    assert await store.get_subscription(f"{TOPIC}:x") is None


async def test_a_topic_holds_at_most_its_limit(store: SubscriptionStore) -> None:
    for n in range(2):
        await store.put_subscription(sub(n), limit=2)
    with pytest.raises(SubscriptionLimitExceeded):
        await store.put_subscription(sub(9), limit=2)
    await store.put_subscription(sub(9, OTHER), limit=2)  # another topic's own count


async def test_listings_page_by_arn_and_filter(store: SubscriptionStore) -> None:
    for n in (3, 1, 2):
        await store.put_subscription(sub(n), limit=10)
    await store.put_subscription(sub(4, OTHER, owner="t2"), limit=10)
    page = await store.list_subscriptions(topic_arn=TOPIC, after="", limit=2)
    assert [s.arn for s in page] == [sub(1).arn, sub(2).arn]
    rest = await store.list_subscriptions(topic_arn=TOPIC, after=page[-1].arn, limit=2)
    assert [s.arn for s in rest] == [sub(3).arn]
    assert [s.arn for s in await store.list_subscriptions(owner="t2", after="", limit=9)] == [
        sub(4, OTHER).arn
    ]


async def test_confirm_change_and_delete(store: SubscriptionStore) -> None:
    held = await store.put_subscription(sub(1, token="tok"), limit=10)
    await store.put_subscription(sub(2, OTHER), limit=10)
    changed = dataclasses.replace(held, token=None, attributes={"FilterPolicy": '{"a":["b"]}'})
    assert await store.update_subscription(changed)
    assert await store.get_subscription(held.arn) == changed
    assert not await store.update_subscription(sub(7))
    assert await store.delete_topic_subscriptions(TOPIC) == 1
    assert await store.get_subscription(held.arn) is None
    assert await store.get_subscription(sub(2, OTHER).arn) is not None
    assert await store.delete_subscription(sub(2, OTHER).arn)
    assert not await store.delete_subscription(sub(2, OTHER).arn)


async def test_the_first_signing_key_kept_wins(store: SubscriptionStore) -> None:
    assert await store.signing_key() is None
    assert await store.add_signing_key("k1", "sealed-1", "cert-1", NOW) == ("sealed-1", "cert-1")
    assert await store.add_signing_key("k2", "sealed-2", "cert-2", NOW) == ("sealed-1", "cert-1")
    assert await store.signing_key() == ("sealed-1", "cert-1")


async def test_pending_ones_past_a_cutoff_are_deleted(store: SubscriptionStore) -> None:
    """Decision 0168: only unconfirmed subscriptions made at or before the cutoff go, of one
    topic or of all; a confirmed one of any age stays; a pending one whose filter policy
    holds the text a confirmed document ends with is still pending."""
    young = dataclasses.replace(sub(2, token="t2"), created_at=NOW + timedelta(hours=1))
    tricky = dataclasses.replace(
        sub(3), attributes={"FilterPolicy": '{"k": ["\\"token\\":null}"]}'}, token="t3"
    )
    for held in (sub(1, token="t1"), young, tricky, sub(4), sub(5, OTHER, token="t5")):
        await store.put_subscription(held, limit=10)
    assert await store.delete_pending_before(NOW, topic_arn=TOPIC) == 2
    left = await store.list_subscriptions(after="", limit=10)
    assert [s.arn for s in left] == [young.arn, sub(4).arn, sub(5, OTHER).arn]
    assert await store.delete_pending_before(NOW + timedelta(hours=1), topic_arn=None) == 2
    left = await store.list_subscriptions(after="", limit=10)
    assert [s.arn for s in left] == [sub(4).arn]
