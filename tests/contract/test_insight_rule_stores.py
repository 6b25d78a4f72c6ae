"""Decision 0272's Contributor Insights store over every implementation (memory, SQLite,
PostgreSQL): a rule put, replaced and read back whole (its definition byte for byte, its time
to the microsecond, its tags in order); bounded per account at creation; paged by name;
enabled and disabled, retagged; the enabled ones listed and counted per account; a rule's
minutes stored as sealed parts, read by range, expired by age, deleted with their rule; and a
closed account forgotten, another's kept; a managed rule's resource kept (decision 0278)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.metrics.insight_rules import DISABLED
from andromede.metrics.insight_store import InsightRuleStore, MemoryInsightRuleStore, StoredMinute
from andromede.metrics.insight_store_sql import SqlInsightRuleStore
from support.insight_rules import rule
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InsightRuleStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryInsightRuleStore() if db is None else SqlInsightRuleStore(db)


async def test_put_replace_get_and_the_bound(store: InsightRuleStore) -> None:
    first = rule("errors by ip")
    assert await store.put(first, max_rules=2)
    assert await store.get("t1", "errors by ip") == first
    changed = replace(first, definition=first.definition.replace("$.ip", "$.user"), state=DISABLED)
    assert await store.put(changed, max_rules=1)  # a replacement is no new rule
    assert await store.get("t1", "errors by ip") == changed
    assert not await store.put(rule("second"), max_rules=1)
    assert await store.get("t1", "second") is None
    assert await store.put(rule("second", tenant="t2"), max_rules=1)  # per account
    assert await store.get("t2", "errors by ip") is None


async def test_pages_states_tags_and_the_enabled(store: InsightRuleStore) -> None:
    for name in ("b", "a", "C", "c"):
        await store.put(rule(name), max_rules=10)
    await store.put(rule("x", tenant="t2"), max_rules=10)
    assert [r.name for r in await store.page("t1", "", 10)] == ["C", "a", "b", "c"]
    assert [r.name for r in await store.page("t1", "a", 2)] == ["b", "c"]
    assert await store.set_state("t1", "b", DISABLED)
    assert not await store.set_state("t1", "zz", DISABLED)
    assert sorted(r.name for r in await store.enabled("t1")) == ["C", "a", "c"]
    assert await store.enabled_counts() == {"t1": 3, "t2": 1}
    assert await store.set_tags("t1", "a", (("k", "v"), ("é", "✓")))
    assert not await store.set_tags("t1", "zz", ())
    found = await store.get("t1", "a")
    assert found is not None and found.tags == (("k", "v"), ("é", "✓"))


async def test_minutes_by_range_expired_and_deleted_with_the_rule(
    store: InsightRuleStore,
) -> None:
    await store.put(rule("r"), max_rules=10)
    await store.put(rule("other"), max_rules=10)
    parts = [
        StoredMinute("t1", "r", 100, "p1", b"\x00sealed\xff"),
        StoredMinute("t1", "r", 100, "p2", b"two"),
        StoredMinute("t1", "r", 101, "p1", b"three"),
        StoredMinute("t1", "r", 105, "p1", b"later"),
        StoredMinute("t1", "other", 100, "p1", b"another rule"),
        StoredMinute("t2", "r", 100, "p1", b"another account"),
    ]
    await store.add_minutes(parts)
    await store.add_minutes([])
    found = await store.minutes("t1", "r", 100, 105)
    assert sorted(found, key=lambda m: (m.minute, m.part_id)) == parts[:3]
    assert found[0].context() == b"cloudwatch-insight\nt1\nr\n100\n" + found[0].part_id.encode()
    assert await store.expire(101) == 4
    assert [m.minute for m in await store.minutes("t1", "r", 0, 1000)] == [101, 105]
    assert await store.delete("t1", "r")
    assert not await store.delete("t1", "r")
    assert await store.minutes("t1", "r", 0, 1000) == []
    await store.put(rule("r"), max_rules=10)  # made again: nothing of the old one's minutes
    assert await store.minutes("t1", "r", 0, 1000) == []


async def test_a_closed_account_is_forgotten(store: InsightRuleStore) -> None:
    await store.put(rule("a"), max_rules=10)
    await store.put(rule("b"), max_rules=10)
    await store.put(rule("a", tenant="t2"), max_rules=10)
    await store.add_minutes(
        [StoredMinute("t1", "a", 1, "p", b"x"), StoredMinute("t2", "a", 1, "p", b"y")]
    )
    assert await store.forget_tenant("t1") == 2
    assert await store.page("t1", "", 10) == []
    assert await store.minutes("t1", "a", 0, 10) == []
    assert len(await store.minutes("t2", "a", 0, 10)) == 1
    assert await store.get("t2", "a") is not None


async def test_a_managed_rule_keeps_its_resource(store: InsightRuleStore) -> None:
    # Decision 0278: a DynamoDB table's rule, made on the account's behalf, read back as such.
    arn = "arn:aws:dynamodb:eu-fr-1:t1:table/music/index/by-artist"
    managed = replace(rule("DynamoDBContributorInsights-PKC-music-1"), managed_by=arn)
    assert await store.put(managed, max_rules=10)
    await store.put(rule("mine"), max_rules=10)
    assert await store.get("t1", managed.name) == managed
    assert {r.name: r.managed_by for r in await store.enabled("t1")} == {
        managed.name: arn, "mine": ""}  # fmt: skip
