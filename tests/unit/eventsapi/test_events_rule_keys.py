"""Decision 0218: a bus's rules and targets under its customer KMS key, through the
EventBridge app as ``serve`` builds it (the harness of :mod:`unit.eventsapi.test_events_bus_keys`:
SQLite, the real key service): the rules' patterns and descriptions and the targets' inputs
kept sealed, answered in clear by DescribeRule, ListRules and ListTargetsByRule, refused with
``AccessDeniedException`` while the key is disabled; PutEvents matching from the gateway's
cache of what it opened; a change of key re-sealing the rules, targets and waiting deliveries
before UpdateEventBus answers (refused while the former key cannot open them), and a re-seal
cut short resumed by the sweeper."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import open_database
from andromede.events.rule_seals import OpenedCache
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from support.schema import migrated_sqlite
from unit.eventsapi.test_events_archive_keys import REGION
from unit.eventsapi.test_events_bus_keys import Bus, RecordingSink, buses

__all__ = ["buses"]

_PATTERN = '{"source":["shop"],"detail":{"card":[{"prefix":"4111"}]}}'
_TARGET: dict[str, Any] = {
    "Id": "q",
    "InputTransformer": {
        "InputPathsMap": {"card": "$.detail.card"},
        "InputTemplate": '{"vault-7731": "<card>"}',
    },
}


async def _rule(bus: Bus, name: str = "orders") -> None:
    events = bus.events
    await events.ok(
        "PutRule",
        {
            "Name": "r",
            "EventBusName": name,
            "EventPattern": _PATTERN,
            "Description": "cards of the Rivoli shop",
        },
    )
    target = {**_TARGET, "Arn": bus.queue("orders")}
    await events.ok("PutTargets", {"Rule": "r", "EventBusName": name, "Targets": [target]})


async def _stored(bus: Bus) -> list[str]:
    """The rules' and targets' documents as the database holds them."""
    found: list[str] = []
    for table in (tables.events_rules, tables.events_targets):
        query = sa.select(table.c.document)

        def read(conn: Connection, query: Any = query) -> list[str]:
            return [str(d) for d in conn.execute(query).scalars()]

        found += await bus.events.db.read(read)
    return found


def _keys_of(bus: Bus, documents: list[str]) -> set[str]:
    """The key ARNs the sealed parts of ``documents`` are under."""
    keys = bus.events.parts.service.keys
    assert keys is not None
    return {keys.key_of(json.loads(d)["Sealed"]) for d in documents if "Sealed" in d}


async def _uses(bus: Bus, action: str) -> int:
    await bus.events.audit.flush()
    records = await bus.events.audit_store.list_events(None, after_id=0, limit=5000)
    return sum(1 for _, record in records if record.action == action)


async def _error(bus: Bus, action: str, params: dict[str, Any]) -> str:
    reply = await bus.events.call(action, params)
    assert reply.status == 400, reply.body
    body = json.loads(reply.body)
    return f"{body['__type']}: {body['message']}"


async def test_rules_and_targets_sealed_under_the_bus_key(buses: Bus) -> None:
    events = buses.events
    key = await events.key(bus=buses.arn("orders"))
    await events.ok("CreateEventBus", {"Name": "orders", "KmsKeyIdentifier": key})
    await _rule(buses)
    stored = await _stored(buses)
    assert len(stored) == 2 and all("Sealed" in d for d in stored)
    # Canaries with a quote or a space, which no sealed text's alphabet holds: a bare "4111"
    # turned up by chance in the ciphertext of a clean-clone run.
    canaries = ('"4111\\"', '"4111"', "Rivoli shop", "vault-7731")
    assert not any(canary in d for canary in canaries for d in stored)
    assert all(arn.endswith(f":key/{key}") for arn in _keys_of(buses, stored))
    # Read back in clear, as PutRule and PutTargets took them.
    described = await events.ok("DescribeRule", {"Name": "r", "EventBusName": "orders"})
    assert (described["EventPattern"], described["Description"]) == (
        _PATTERN,
        "cards of the Rivoli shop",
    )
    [listed] = (await events.ok("ListRules", {"EventBusName": "orders"}))["Rules"]
    assert listed["EventPattern"] == _PATTERN
    [target] = (await events.ok("ListTargetsByRule", {"Rule": "r", "EventBusName": "orders"}))[
        "Targets"
    ]
    assert target == {**_TARGET, "Arn": buses.queue("orders")}
    # Matched and delivered as transformed; the second PutEvents opens nothing again.
    assert (await buses.put("orders", "4111-0001"))["FailedEntryCount"] == 0
    decrypts = await _uses(buses, "kms:Decrypt")
    assert (await buses.put("orders", "4111-0002"))["FailedEntryCount"] == 0
    assert (await buses.put("orders", "5500-0003"))["FailedEntryCount"] == 0  # no match
    assert await _uses(buses, "kms:Decrypt") == decrypts
    await events.parts.deliveries.drain()
    assert [json.loads(s.message) for s in buses.sink.sent] == [
        {"vault-7731": "4111-0001"},
        {"vault-7731": "4111-0002"},
    ]
    # State and tags change without opening the rule; it stays sealed.
    for action in ("DisableRule", "EnableRule"):
        assert (await events.call(action, {"Name": "r", "EventBusName": "orders"})).status == 200
    tags = [{"Key": "team", "Value": "shop"}]
    arn = described["Arn"]
    assert (await events.call("TagResource", {"ResourceARN": arn, "Tags": tags})).status == 200
    assert all("Sealed" in d for d in await _stored(buses))
    # Disabled key: what needs it is refused with AccessDeniedException naming the key.
    await events.keys.disable_key(events.root(), key)
    for action, params in (
        ("DescribeRule", {"Name": "r", "EventBusName": "orders"}),
        ("ListRules", {"EventBusName": "orders"}),
        ("ListTargetsByRule", {"Rule": "r", "EventBusName": "orders"}),
        (
            "PutRule",
            {"Name": "r2", "EventBusName": "orders", "EventPattern": '{"source":["x"]}'},
        ),
        (
            "PutTargets",
            {"Rule": "r", "EventBusName": "orders", "Targets": [{**_TARGET, "Arn": "x"}]},
        ),
    ):
        if action == "PutTargets":
            params["Targets"][0]["Arn"] = buses.queue("orders")
        message = await _error(buses, action, params)
        assert message.startswith("AccessDeniedException: ") and key in message, action
    refused = await buses.put("orders", "4111-0004")
    assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    # What does not open the rule still works: removing its targets, then the rule.
    await events.ok("RemoveTargets", {"Rule": "r", "EventBusName": "orders", "Ids": ["q"]})
    assert (await events.call("DeleteRule", {"Name": "r", "EventBusName": "orders"})).status == 200
    # A bus without a key keeps its rules in clear, as before.
    await events.ok("CreateEventBus", {"Name": "plain"})
    await _rule(buses, "plain")
    stored = await _stored(buses)
    assert not any("Sealed" in d for d in stored) and any("4111" in d for d in stored)


async def test_a_change_of_key_reseals_before_it_answers(buses: Bus) -> None:
    events = buses.events
    first = await events.key(bus=buses.arn("orders"))
    second = await events.key(bus=buses.arn("orders"))
    await events.ok("CreateEventBus", {"Name": "orders", "KmsKeyIdentifier": first})
    await _rule(buses)
    assert (await buses.put("orders", "4111-0001"))["FailedEntryCount"] == 0
    [waiting] = await buses.held()
    keys = events.parts.service.keys
    assert keys is not None and first in keys.key_of(json.loads(waiting)["sealed"])
    # To the second key: everything under it once answered — the first one can go.
    answer = await events.ok("UpdateEventBus", {"Name": "orders", "KmsKeyIdentifier": second})
    assert answer["KmsKeyIdentifier"] == second
    assert all(arn.endswith(f":key/{second}") for arn in _keys_of(buses, await _stored(buses)))
    assert len(_keys_of(buses, await _stored(buses))) == 1
    [waiting] = await buses.held()
    assert second in keys.key_of(json.loads(waiting)["sealed"]) and "4111" not in waiting
    await events.keys.disable_key(events.root(), first)
    described = await events.ok("DescribeRule", {"Name": "r", "EventBusName": "orders"})
    assert described["EventPattern"] == _PATTERN
    await events.parts.deliveries.drain()
    assert [json.loads(s.message) for s in buses.sink.sent] == [{"vault-7731": "4111-0001"}]
    assert await events.parts.store.resealing_buses(10) == []
    # Back to EventBridge's own key: the rules, targets and deliveries in clear again.
    assert (await buses.put("orders", "4111-0002"))["FailedEntryCount"] == 0
    await events.ok("UpdateEventBus", {"Name": "orders"})
    stored = await _stored(buses)
    assert not any("Sealed" in d for d in stored) and any("4111" in d for d in stored)
    [waiting] = await buses.held()
    assert "sealed" not in json.loads(waiting) and "4111-0002" in waiting
    await events.keys.disable_key(events.root(), second)  # nothing needs it any more
    await events.parts.deliveries.drain()
    assert json.loads(buses.sink.sent[-1].message) == {"vault-7731": "4111-0002"}
    # From clear to a key: sealed again, the waiting customers' deliveries too.
    await events.keys.enable_key(events.root(), first)
    assert (await buses.put("orders", "4111-0003"))["FailedEntryCount"] == 0
    await events.ok("UpdateEventBus", {"Name": "orders", "KmsKeyIdentifier": first})
    assert all("Sealed" in d for d in await _stored(buses))
    [waiting] = await buses.held()
    assert "4111" not in waiting and first in keys.key_of(json.loads(waiting)["sealed"])
    # The former key refusing: the change is refused, nothing changed.
    await events.keys.disable_key(events.root(), first)
    await events.keys.enable_key(events.root(), second)
    message = await _error(buses, "UpdateEventBus", {"Name": "orders", "KmsKeyIdentifier": second})
    assert message.startswith("ValidationException: ") and first in message
    described_bus = await events.ok("DescribeEventBus", {"Name": "orders"})
    assert described_bus["KmsKeyIdentifier"] == first


async def test_a_reseal_cut_short_is_resumed(buses: Bus) -> None:
    events = buses.events
    first = await events.key(bus=buses.arn("orders"))
    second = await events.key(bus=buses.arn("orders"))
    await events.ok("CreateEventBus", {"Name": "orders", "KmsKeyIdentifier": first})
    await _rule(buses)
    assert (await buses.put("orders", "4111-0001"))["FailedEntryCount"] == 0
    store = events.parts.store
    # A gateway died after committing the change and its mark, before re-sealing anything.
    await store.change_bus(
        events.tenant_id,
        "orders",
        lambda bus: replace(bus, kms_key=second, resealing=True),
    )
    [marked] = await store.resealing_buses(10)
    assert marked.name == "orders" and marked.kms_key == second
    assert all(arn.endswith(f":key/{first}") for arn in _keys_of(buses, await _stored(buses)))
    # What was sealed under the first key still opens meanwhile; new writes take the second.
    described = await events.ok("DescribeRule", {"Name": "r", "EventBusName": "orders"})
    assert described["EventPattern"] == _PATTERN
    # Any gateway's sweep finishes it.
    assert await events.parts.resealer.resume() == 1
    assert await store.resealing_buses(10) == []
    assert all(arn.endswith(f":key/{second}") for arn in _keys_of(buses, await _stored(buses)))
    [waiting] = await buses.held()
    keys = events.parts.service.keys
    assert keys is not None and second in keys.key_of(json.loads(waiting)["sealed"])
    # A sweep that meets a key refusing leaves the mark for a later one.
    await store.change_bus(
        events.tenant_id, "orders", lambda bus: replace(bus, kms_key=first, resealing=True)
    )
    await events.keys.disable_key(events.root(), second)
    assert await events.parts.resealer.resume() == 0
    assert [b.name for b in await store.resealing_buses(10)] == ["orders"]
    await events.keys.enable_key(events.root(), second)
    assert await events.parts.resealer.resume() == 1


async def test_without_the_cache_every_put_events_opens_the_rules(buses: Bus) -> None:
    events = buses.events
    events.parts.service.seals.cache = OpenedCache(0)  # events_opened_rule_cache = 0
    key = await events.key(bus=buses.arn("orders"))
    await events.ok("CreateEventBus", {"Name": "orders", "KmsKeyIdentifier": key})
    await _rule(buses)
    decrypts = await _uses(buses, "kms:Decrypt")
    assert (await buses.put("orders", "4111-0001"))["FailedEntryCount"] == 0
    assert (await buses.put("orders", "4111-0002"))["FailedEntryCount"] == 0
    assert await _uses(buses, "kms:Decrypt") == decrypts + 2


def test_the_settings_reach_the_cache_and_the_sweeper(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, region=REGION, events_opened_rule_cache=3, events_reseal_interval=7.5
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    parts = EventsParts(settings, db, RecordingSink())  # type: ignore[arg-type]
    assert parts.service.seals.cache.size == 3
    assert parts.resealer.interval == 7.5


def test_the_opened_cache_is_bounded() -> None:
    cache = OpenedCache(2)
    for n in range(3):
        cache.put(f"sealed-{n}", {"n": n})
    assert len(cache) == 2 and cache.get("sealed-0") is None
    assert cache.get("sealed-1") == {"n": 1}  # now the most recently used
    cache.put("sealed-3", {"n": 3})
    assert cache.get("sealed-2") is None and cache.get("sealed-1") == {"n": 1}
    nothing = OpenedCache(0)
    nothing.put("sealed-0", {"n": 0})
    assert len(nothing) == 0 and nothing.get("sealed-0") is None
