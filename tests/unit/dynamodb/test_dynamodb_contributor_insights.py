"""Decision 0278's core: the managed rules' names in AWS's format, within a rule name's 128
characters whatever the table's name; the hot path reading an account's rules once per cache
period (a table without Contributor Insights costs a lookup), a rule made through another
gateway counted here once the cache expires; the accessed and throttled keys routed to their
kinds of rule; a table's and an index's rules forgotten, a failure to do so logged."""

from __future__ import annotations

import re
from collections.abc import Sequence

from andromede.dynamodb.contributor_insights import (
    ACCESSED_AND_THROTTLED,
    THROTTLED,
    ContributorInsights,
    ManagedRule,
    rule_names,
)
from andromede.dynamodb.model import BillingMode, KeyElement, SecondaryIndex, Table

PK = KeyElement("pk", "S")
SK = KeyElement("sk", "N")
GSI = SecondaryIndex("by-x", False, KeyElement("x", "S"), None)
AWS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]{0,126}[A-Za-z0-9]")


def table(name: str = "music", sort: bool = True) -> Table:
    return Table("111122223333", name, "eu-west-1", 1, PK, SK if sort else None, (PK,),
                 BillingMode.PAY_PER_REQUEST, 0, 0, b"k", indexes=(GSI,))  # fmt: skip


class Rules:
    """``ManagedRules`` in memory, counting its reads and what it was fed."""

    def __init__(self) -> None:
        self.held: dict[str, ManagedRule] = {}
        self.reads = 0
        self.fed: list[tuple[str, tuple[str, ...]]] = []

    async def put(self, tenant_id: str, resource: str, rules: Sequence[tuple[str, str]]) -> bool:
        for name, _ in rules:
            self.held[name] = ManagedRule(name, resource, 1)
        return True

    async def rules(self, tenant_id: str) -> list[ManagedRule]:
        self.reads += 1
        return list(self.held.values())

    async def remove(self, tenant_id: str, names: Sequence[str]) -> None:
        for name in names:
            self.held.pop(name, None)

    def contribute(self, tenant_id: str, rule: str, at_ms: int, keys: tuple[str, ...]) -> None:
        self.fed.append((rule[28:31], keys))


def test_names_are_aws_format_and_fit_a_rule_name() -> None:
    assert rule_names("music", True, ACCESSED_AND_THROTTLED, 1_700_000_000_000) == [
        f"DynamoDBContributorInsights-{k}-music-1700000000000" for k in ("PKC", "PKT", "SKC", "SKT")
    ]
    assert rule_names("music", False, THROTTLED, 5) == ["DynamoDBContributorInsights-PKT-music-5"]
    for name in rule_names("t" * 255, True, ACCESSED_AND_THROTTLED, 1_700_000_000_000):
        assert len(name) == 128 and AWS_NAME.fullmatch(name), name


async def test_the_hot_path_reads_the_rules_once_per_cache_period() -> None:
    rules = Rules()
    now = [1_000_000]
    here = ContributorInsights(rules, cache_ms=5_000, clock=lambda: now[0])
    there = ContributorInsights(rules, cache_ms=5_000, clock=lambda: now[0])
    for _ in range(100):
        await here.accessed(table(), None, ["a", "1"], False)
    assert rules.reads == 1 and rules.fed == []
    await there.enable(table(), None, ACCESSED_AND_THROTTLED)
    await here.accessed(table(), None, ["a", "1"], False)
    assert rules.fed == []  # the cache has not expired here
    now[0] += 5_000
    await here.accessed(table(), None, ["a", "1"], False)
    await here.accessed(table(), None, ["b", "2"], True)
    assert sorted(rules.fed) == sorted([
        ("PKC", ("a",)), ("SKC", ("a", "1")),
        ("PKC", ("b",)), ("PKT", ("b",)), ("SKC", ("b", "2")), ("SKT", ("b", "2")),
    ])  # fmt: skip
    await here.accessed(table("other"), None, ["a"], True)  # another table: nothing
    assert len(rules.fed) == 6


async def test_a_table_forgotten_takes_its_indexes_rules() -> None:
    rules = Rules()
    insights = ContributorInsights(rules, cache_ms=0)
    await insights.enable(table(), None, THROTTLED)
    await insights.enable(table(), "by-x", ACCESSED_AND_THROTTLED)
    await insights.enable(table("musicals"), None, THROTTLED)
    described = await insights.describe(table(), "by-x")
    assert described.mode == ACCESSED_AND_THROTTLED and len(described.rules) == 2  # no sort key
    await insights.forget(table(), "by-x")
    assert (await insights.describe(table(), "by-x")).status == "DISABLED"
    assert (await insights.describe(table(), None)).status == "ENABLED"
    await insights.enable(table(), "by-x", THROTTLED)
    await insights.forget(table())
    assert [s.table for s in await insights.statuses("111122223333", None)] == ["musicals"]


async def test_a_failure_to_forget_leaves_the_deletion_standing() -> None:
    class Broken(Rules):
        async def rules(self, tenant_id: str) -> list[ManagedRule]:
            raise OSError("the metadata database is away")

    await ContributorInsights(Broken(), cache_ms=0).forget(table())  # logged, not raised
