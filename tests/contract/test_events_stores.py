"""Decision 0192's EventBridge store over every implementation (memory, SQLite, PostgreSQL):
buses created once, counted against their limit, listed by name after a name and under a
case-sensitive prefix, deleted with their rules and targets; rules replaced whole, listed per
bus, the scheduled ones found across accounts, deleted only without targets; targets added,
replaced by id, bounded per rule, removed, found by ARN; a bus's description and tags
updated, its policy (the default bus's too) replaced, removed, gone with the bus or the
tenant (session 48)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.events.errors import (
    ConcurrentModification,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.memory import MemoryEventsStore
from andromede.events.model import EventBus, Rule, RuleState, Target
from andromede.events.store import EventsStore, KeyGuard
from andromede.events.store_sql import SqlEventsStore
from support.store_backends import BACKENDS, backend_database

REGION = "eu-west-3"
T0 = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)
QUEUE = f"arn:aws:sqs:{REGION}:t1:q"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventsStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryEventsStore() if db is None else SqlEventsStore(db, REGION)


def bus(name: str, tenant: str = "t1") -> EventBus:
    return EventBus(tenant, REGION, name, "the é bus", T0, {"team": "ops"})


def rule(name: str, bus_name: str = "default", tenant: str = "t1", **kw: object) -> Rule:
    return Rule(tenant, REGION, bus_name, name, created=T0, **kw)  # type: ignore[arg-type]


def target(target_id: str, arn: str = QUEUE) -> Target:
    return Target(target_id, arn, {"Id": target_id, "Arn": arn, "Input": '{"é": 1}'})


async def test_buses(store: EventsStore) -> None:
    for name in ("b-2", "B-1", "a", "b-1"):
        await store.create_bus(bus(name), limit=4)
    with pytest.raises(ResourceAlreadyExists):
        await store.create_bus(bus("a"), limit=10)
    with pytest.raises(LimitExceeded):
        await store.create_bus(bus("c"), limit=4)
    await store.create_bus(bus("a", tenant="t2"), limit=4)
    assert await store.get_bus("t1", "a") == bus("a")
    assert await store.get_bus("t3", "a") is None
    assert [b.name for b in await store.list_buses("t1", "", "", 10)] == ["B-1", "a", "b-1", "b-2"]
    assert [b.name for b in await store.list_buses("t1", "b", "", 10)] == ["b-1", "b-2"]
    assert [b.name for b in await store.list_buses("t1", "", "a", 1)] == ["b-1"]
    await store.put_rule(rule("r", "a"), limit=10)
    await store.put_targets("t1", "a", "r", [target("t")], limit=5)
    await store.delete_bus("t1", "a")
    assert await store.get_bus("t1", "a") is None
    assert await store.get_rule("t1", "a", "r") is None
    assert await store.list_targets("t1", "a", "r") == []
    assert await store.get_bus("t2", "a") is not None


async def test_rules(store: EventsStore) -> None:
    pattern = '{"source": ["my.app"]}'
    first = rule("r1", event_pattern=pattern, description="d", tags={"k": "v"})
    await store.put_rule(first, limit=2)
    assert await store.get_rule("t1", "default", "r1") == first
    await store.put_rule(rule("r2", schedule="rate(5 minutes)", state=RuleState.DISABLED), limit=2)
    with pytest.raises(LimitExceeded):
        await store.put_rule(rule("r3", event_pattern=pattern), limit=2)
    replaced = rule("r1", event_pattern='{"source": ["other"]}', role_arn="arn:aws:iam::t1:role/x")
    await store.put_rule(replaced, limit=2)  # a replacement is no new rule
    assert await store.get_rule("t1", "default", "r1") == replaced
    await store.put_rule(rule("s", tenant="t2", schedule="cron(0 12 * * ? *)"), limit=2)
    assert [r.name for r in await store.list_rules("t1", "default", "", "", 10)] == ["r1", "r2"]
    assert [r.name for r in await store.list_rules("t1", "default", "r", "r1", 10)] == ["r2"]
    assert [r.name for r in await store.list_rules("t1", "default", "R", "", 10)] == []
    assert sorted(r.name for r in await store.scheduled_rules()) == ["r2", "s"]
    await store.put_targets("t1", "default", "r1", [target("a")], limit=5)
    with pytest.raises(ValidationError, match="has targets"):
        await store.delete_rule("t1", "default", "r1")
    assert await store.remove_targets("t1", "default", "r1", ["a", "zz"]) == ["a"]
    await store.delete_rule("t1", "default", "r1")
    assert await store.get_rule("t1", "default", "r1") is None
    await store.delete_rule("t1", "default", "missing")


async def test_targets(store: EventsStore) -> None:
    topic = f"arn:aws:sns:{REGION}:t1:topic"
    for name in ("r1", "r2"):
        await store.put_rule(rule(name, event_pattern="{}"), limit=10)
    await store.put_targets("t1", "default", "r1", [target("b"), target("a", topic)], limit=2)
    with pytest.raises(LimitExceeded):
        await store.put_targets("t1", "default", "r1", [target("c")], limit=2)
    changed = Target("b", topic, {"Id": "b", "Arn": topic})
    await store.put_targets("t1", "default", "r1", [changed], limit=2)
    assert await store.list_targets("t1", "default", "r1") == [target("a", topic), changed]
    await store.put_targets("t1", "default", "r2", [target("x")], limit=2)
    assert await store.targets_by_rule("t1", "default") == {
        "r1": [target("a", topic), changed],
        "r2": [target("x")],
    }
    assert await store.rules_by_target("t1", "default", topic, "", 10) == ["r1"]
    assert await store.rules_by_target("t1", "default", QUEUE, "", 10) == ["r2"]
    assert await store.rules_by_target("t1", "default", QUEUE, "r2", 10) == []
    assert await store.targets_by_rule("t2", "default") == {}


async def test_bus_updates_and_policies(store: EventsStore) -> None:
    await store.create_bus(bus("b"), limit=5)
    changed = EventBus("t1", REGION, "b", "new é", T0, {"env": "p"})
    held: list[EventBus] = []

    def to_changed(bus: EventBus) -> EventBus:
        held.append(bus)
        return changed

    assert await store.change_bus("t1", "b", to_changed) == changed
    assert held == [bus("b")]
    assert await store.get_bus("t1", "b") == changed

    def refuse_bus(bus: EventBus) -> EventBus:
        raise ValidationError("no")

    with pytest.raises(ValidationError):  # a change that raises writes nothing
        await store.change_bus("t1", "b", refuse_bus)
    assert await store.get_bus("t1", "b") == changed
    with pytest.raises(ResourceNotFound):
        await store.change_bus("t1", "missing", to_changed)
    assert await store.get_bus("t1", "missing") is None
    policy = '{"Version":"2012-10-17","Statement":[]}'
    seen: list[str | None] = []

    def to(value: str | None) -> Callable[[str | None], str | None]:
        def change(held: str | None) -> str | None:
            seen.append(held)
            return value

        return change

    for name in ("b", "default"):
        assert await store.get_bus_policy("t1", name) is None
        await store.change_bus_policy("t1", name, to(policy))
        assert await store.get_bus_policy("t1", name) == policy
    await store.change_bus_policy("t1", "b", to(policy + " "))
    assert seen == [None, None, policy]
    assert await store.get_bus_policy("t1", "b") == policy + " "
    assert await store.get_bus_policy("t2", "b") is None

    def refuse(held: str | None) -> str | None:
        raise ValidationError("no")

    with pytest.raises(ValidationError):  # a change that raises writes nothing
        await store.change_bus_policy("t1", "b", refuse)
    assert await store.get_bus_policy("t1", "b") == policy + " "
    with pytest.raises(ResourceNotFound):  # a custom bus that is not there takes none
        await store.change_bus_policy("t1", "missing", to(policy))
    assert await store.get_bus_policy("t1", "missing") is None
    await store.change_bus_policy("t1", "default", to(None))
    assert await store.get_bus_policy("t1", "default") is None
    await store.delete_bus("t1", "b")
    assert await store.get_bus_policy("t1", "b") is None
    await store.change_bus_policy("t1", "default", to(policy))
    await store.change_bus_policy("t2", "default", to(policy))
    await store.forget_tenant("t1")
    assert await store.get_bus_policy("t1", "default") is None
    assert await store.get_bus_policy("t2", "default") == policy


async def test_a_closed_tenant_is_forgotten(store: EventsStore) -> None:
    await store.create_bus(bus("b"), limit=5)
    await store.create_bus(bus("b", tenant="t2"), limit=5)
    for tenant in ("t1", "t2"):
        await store.put_rule(rule("r", "b", tenant=tenant), limit=5)
        await store.put_rule(rule("s", tenant=tenant, schedule="rate(1 day)"), limit=5)
        await store.put_targets(tenant, "b", "r", [target("q")], limit=5)
    assert await store.forget_tenant("t1") == 2
    assert await store.get_bus("t1", "b") is None
    assert await store.list_rules("t1", "default", "", "", 10) == []
    assert await store.targets_by_rule("t1", "b") == {}
    assert [r.tenant_id for r in await store.scheduled_rules()] == ["t2"]
    assert [t.id for t in await store.list_targets("t2", "b", "r")] == ["q"]


async def test_a_bus_s_key_and_dead_letter_queue_kept(store: EventsStore) -> None:
    """Decision 0213: KmsKeyIdentifier and DeadLetterConfig through create, read, list, a
    change of them, a change of tags alone (kept), and their removal."""
    dlq = f"arn:aws:sqs:{REGION}:t1:bus-dlq"
    made = replace(bus("sealed"), kms_key="alias/é-key", dead_letter_arn=dlq)
    await store.create_bus(made, limit=10)
    await store.create_bus(bus("plain"), limit=10)
    assert await store.get_bus("t1", "sealed") == made
    listed = {b.name: b for b in await store.list_buses("t1", "", "", 10)}
    assert listed["sealed"] == made and listed["plain"].kms_key is None
    assert listed["plain"].dead_letter_arn is None
    key_arn = f"arn:aws:kms:{REGION}:t1:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    changed = await store.change_bus(
        "t1", "sealed", lambda b: replace(b, kms_key=key_arn, dead_letter_arn=None)
    )
    assert (changed.kms_key, changed.dead_letter_arn) == (key_arn, None)
    assert await store.get_bus("t1", "sealed") == changed
    await store.change_bus("t1", "sealed", lambda b: replace(b, tags={"k": "v"}))
    held = await store.get_bus("t1", "sealed")
    assert held is not None and (held.kms_key, held.tags) == (key_arn, {"k": "v"})
    await store.change_bus("t1", "sealed", lambda b: replace(b, kms_key=None))
    assert await store.get_bus("t1", "sealed") == replace(changed, kms_key=None, tags={"k": "v"})


async def test_the_default_bus_s_row_made_by_its_first_configuration(store: EventsStore) -> None:
    """Decision 0213's session 51 addendum: without a row, a change of the default bus with
    ``blank`` makes it (from the blank, its creation time kept), a second change updates it,
    a change without ``blank`` of a missing bus is refused, and the row counts neither
    against the custom buses' limit nor twice in the list; it goes with the tenant."""
    blank = EventBus("t1", REGION, "default", created=T0)
    with pytest.raises(ResourceNotFound):
        await store.change_bus("t1", "default", lambda b: b)
    key = "alias/bus-key"
    made = await store.change_bus(
        "t1", "default", lambda b: replace(b, kms_key=key, description="é"), blank=blank
    )
    assert made == replace(blank, kms_key=key, description="é")
    assert await store.get_bus("t1", "default") == made
    assert await store.get_bus("t2", "default") is None
    dlq = f"arn:aws:sqs:{REGION}:t1:dlq"
    later = replace(blank, created=datetime(2030, 1, 1, tzinfo=UTC))
    changed = await store.change_bus(
        "t1", "default", lambda b: replace(b, dead_letter_arn=dlq), blank=later
    )
    assert changed == replace(made, dead_letter_arn=dlq)  # the row's, not the blank's
    await store.create_bus(bus("a"), limit=1)  # the default bus's row is not counted
    with pytest.raises(LimitExceeded):
        await store.create_bus(bus("b"), limit=1)
    assert [b.name for b in await store.list_buses("t1", "", "", 10)] == ["a", "default"]
    await store.forget_tenant("t1")
    assert await store.get_bus("t1", "default") is None


async def test_sealed_rules_and_targets_kept_and_re_sealed(store: EventsStore) -> None:
    """Decision 0218: a rule's sealed part kept; writes guarded by the bus's key; a re-seal's
    replacements only over what is unchanged; the re-seal mark kept and found."""
    await store.create_bus(replace(bus("b"), kms_key="alias/a"), limit=10)
    sealed = rule("r", "b", sealed="kms1.AAAA", tags={"k": "v"})
    await store.put_rule(sealed, limit=10, guard=KeyGuard("alias/a"))
    assert await store.get_rule("t1", "b", "r") == sealed
    with pytest.raises(ConcurrentModification):  # sealed for a key the bus has left
        await store.put_rule(rule("r2", "b"), limit=10, guard=KeyGuard(None))
    with pytest.raises(ConcurrentModification):
        await store.put_targets("t1", "b", "r", [target("t")], limit=5, guard=KeyGuard("k2"))
    assert await store.get_rule("t1", "b", "r2") is None
    assert await store.list_targets("t1", "b", "r") == []
    # The default bus without a row is under EventBridge's own key.
    await store.put_rule(rule("d"), limit=10, guard=KeyGuard(None))
    with pytest.raises(ConcurrentModification):
        await store.put_rule(rule("d2"), limit=10, guard=KeyGuard("alias/a"))
    # Replaced only over the rule as it was read.
    resealed = replace(sealed, sealed="kms1.BBBB")
    assert await store.replace_rule(sealed, resealed)
    assert not await store.replace_rule(sealed, replace(sealed, sealed="kms1.CCCC"))
    assert await store.get_rule("t1", "b", "r") == resealed
    assert not await store.replace_rule(rule("none", "b"), rule("none", "b", sealed="x"))
    assert await store.get_rule("t1", "b", "none") is None
    held = Target("t", QUEUE, {"Id": "t", "Arn": QUEUE, "Sealed": "kms1.AAAA"})
    await store.put_targets("t1", "b", "r", [held], limit=5, guard=KeyGuard("alias/a"))
    assert (await store.list_targets("t1", "b", "r"))[0].sealed == "kms1.AAAA"
    moved = Target("t", QUEUE, {"Id": "t", "Arn": QUEUE, "Sealed": "kms1.BBBB"})
    assert await store.replace_target("t1", "b", "r", held, moved)
    assert not await store.replace_target("t1", "b", "r", held, held)
    assert await store.list_targets("t1", "b", "r") == [moved]
    # The re-seal mark: set with a change of key, found across accounts, cleared.
    assert await store.resealing_buses(10) == []
    await store.change_bus(
        "t1", "b", lambda held_bus: replace(held_bus, kms_key="alias/b", resealing=True)
    )
    [marked] = await store.resealing_buses(10)
    assert (marked.name, marked.kms_key, marked.resealing) == ("b", "alias/b", True)
    assert (await store.get_bus("t1", "b")) == marked
    await store.change_bus("t1", "b", lambda held_bus: replace(held_bus, resealing=False))
    assert await store.resealing_buses(10) == []
