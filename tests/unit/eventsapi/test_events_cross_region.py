"""Decision 0349: EventBridge in each declared Region, and event buses of another Region as
rule targets — in process, built as ``serve`` builds EventBridge (``wiring.events``: the SQL
store on SQLite, the durable deliveries, the identity service judging the targets' roles),
for a deployment declaring three Regions of which the gateway serves two, called with
botocore's SigV4 in each Region. Each Region's buses apart; PutTargets' checks (a role
required, a Region not declared refused by name); the event put in one Region reaching the
other's bus and its rules, itself (id, account, Region of origin); one hop only; what a Region
other than the default does not serve refused by name (its queues served: decision 0414);
metering in the sender's Region; ``aws:RequestedRegion`` the call's Region."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.settings import Settings
from support.metric_sinks import RecordingSink
from support.regional_events import (
    ENTRY,
    PATTERN,
    RegionalEvents,
    region_bound_keys,
    regional_events,
)

HOME = "eu-fr-1"
OTHER = "eu-de-1"
UNSERVED = "eu-it-1"  # declared, not served by this gateway


class Queues:
    """The deliveries' queue-and-topic sink: what each queue was sent."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}
        # The trace header of each message by its event's id (decision 0360).
        self.traces: dict[str, str | None] = {}

    async def send(
        self, tenant_id: str, arn: str, message: str, *, trace: str | None = None, **_: Any
    ) -> None:
        event = json.loads(message)
        self.sent.setdefault(arn, []).append(event)
        self.traces[str(event.get("id"))] = trace


@dataclass
class World(RegionalEvents):
    queues: Queues
    billing: BillingService
    metrics: RecordingSink

    async def rule(self, region: str, name: str, bus: str, *targets: dict[str, Any]) -> None:
        rule = {"Name": name, "EventBusName": bus, "EventPattern": PATTERN}
        await self.ok(region, "PutRule", rule)
        put = {"Rule": name, "EventBusName": bus, "Targets": list(targets)}
        await self.ok(region, "PutTargets", put)

    async def put(self, region: str, bus: str = "default") -> str:
        entries = [{**ENTRY, "EventBusName": bus}]
        answer = await self.ok(region, "PutEvents", {"Entries": entries})
        assert answer["FailedEntryCount"] == 0, answer
        return str(answer["Entries"][0]["EventId"])

    def received(self, queue_arn: str) -> list[dict[str, Any]]:
        return self.queues.sent.pop(queue_arn, [])


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        region=HOME,
        regions=[{"name": HOME}, {"name": OTHER}, {"name": UNSERVED}],
        served_regions=(HOME, OTHER),
        events_delivery_retry_base=0.001,
        events_max_buses=3,
    )
    billing = BillingService(MemoryBillingStore(), region=HOME, instance_types=[])
    queues = Queues()
    metrics = RecordingSink()
    try:
        async with regional_events(settings, queues, metrics=metrics, billing=billing) as built:
            yield World(**vars(built), queues=queues, billing=billing, metrics=metrics)
    finally:
        await billing.close()


async def test_each_region_has_its_own_buses(world: World) -> None:
    """A bus of one name in two Regions is two buses, each listed, described and deleted in
    its Region only, its ARN of its Region; a Region declared but not served by this gateway
    is not answered."""
    for region, description in ((HOME, "home"), (OTHER, "other")):
        await world.ok(region, "CreateEventBus", {"Name": "orders", "Description": description})
    await world.ok(HOME, "CreateEventBus", {"Name": "only-home"})
    for region, description in ((HOME, "home"), (OTHER, "other")):
        found = await world.ok(region, "DescribeEventBus", {"Name": "orders"})
        assert (found["Arn"], found["Description"]) == (world.bus(region, "orders"), description)
    listed = await world.ok(OTHER, "ListEventBuses", {})
    assert [b["Name"] for b in listed["EventBuses"]] == ["default", "orders"]
    assert listed["EventBuses"][0]["Arn"] == world.bus(OTHER, "default")
    listed = await world.ok(HOME, "ListEventBuses", {})
    assert [b["Name"] for b in listed["EventBuses"]] == ["default", "only-home", "orders"]
    code, _ = await world.refused(OTHER, "DescribeEventBus", {"Name": "only-home"})
    assert code == "ResourceNotFoundException"
    # Another Region's buses are out of reach by their stored names.
    hidden = f"~{OTHER}~orders"
    for action, payload in (
        ("DescribeEventBus", {"Name": hidden}),
        ("ListRules", {"EventBusName": hidden}),
        ("PutRule", {"Name": "r", "EventBusName": hidden, "EventPattern": PATTERN}),
        ("PutEvents", {"Entries": [{**ENTRY, "EventBusName": hidden}]}),
        ("DeleteEventBus", {"Name": hidden}),
    ):
        status, answer = await world.call(HOME, action, payload)
        failed = answer.get("FailedEntryCount") == 1 or status == 400
        assert failed, (action, answer)

    await world.ok(
        OTHER, "PutRule", {"Name": "r", "EventBusName": "orders", "EventPattern": PATTERN}
    )
    rules = await world.ok(OTHER, "ListRules", {"EventBusName": "orders"})
    assert [(r["Name"], r["Arn"]) for r in rules["Rules"]] == [
        ("r", world.arn(OTHER, "events", "rule/orders/r"))
    ]
    assert (await world.ok(HOME, "ListRules", {"EventBusName": "orders"}))["Rules"] == []
    await world.ok(OTHER, "DeleteRule", {"Name": "r", "EventBusName": "orders"})
    await world.ok(OTHER, "DeleteEventBus", {"Name": "orders"})
    assert (await world.ok(HOME, "DescribeEventBus", {"Name": "orders"}))["Description"] == "home"

    status, _ = await world.call(UNSERVED, "ListEventBuses", {})
    assert status in (400, 403)


async def test_put_targets_checks_other_regions_buses(world: World) -> None:
    """A bus of another declared Region is a target, with a role of the account (AWS
    requires one for another Region as for another account); a Region the deployment does
    not declare is refused by name."""
    await world.ok(HOME, "PutRule", {"Name": "fwd", "EventPattern": PATTERN})
    theirs = world.bus(OTHER, "default")
    code, message = await world.refused(
        HOME, "PutTargets", {"Rule": "fwd", "Targets": [{"Id": "t", "Arn": theirs}]}
    )
    assert (code, message) == ("ValidationException", f"RoleArn is required for target {theirs}.")
    role = await world.role("send", "events:PutEvents")
    nowhere = world.bus("us-east-1", "default")
    code, message = await world.refused(
        HOME,
        "PutTargets",
        {"Rule": "fwd", "Targets": [{"Id": "t", "Arn": nowhere, "RoleArn": role}]},
    )
    assert code == "ValidationException"
    assert "event buses of Region us-east-1 are not served" in message
    assert f"the Regions {OTHER}, {HOME}, {UNSERVED}" in message
    # A Region declared but not served by this gateway is served by another: a target.
    taken = [
        {"Id": "de", "Arn": theirs, "RoleArn": role},
        {"Id": "it", "Arn": world.bus(UNSERVED, "default"), "RoleArn": role},
    ]
    await world.ok(HOME, "PutTargets", {"Rule": "fwd", "Targets": taken})
    listed = await world.ok(HOME, "ListTargetsByRule", {"Rule": "fwd"})
    assert sorted(listed["Targets"], key=lambda t: t["Id"]) == taken
    names = await world.ok(HOME, "ListRuleNamesByTarget", {"TargetArn": theirs})
    assert names["RuleNames"] == ["fwd"]


async def test_an_event_crosses_to_another_regions_bus(world: World) -> None:
    """An event put in one Region, matched by a rule whose target is a bus of the default
    Region, is routed there by that bus's rules to a queue: the event itself (same id, the
    Region of origin), once; the default Region's rule sending it back is not followed (one
    hop, its ``DeadLetterInvocations`` counted); each Region's events metered there."""
    await world.ok(HOME, "CreateEventBus", {"Name": "central"})
    queue = world.arn(HOME, "sqs", "central")
    role = await world.role("send", "events:PutEvents")
    back = {"Id": "back", "Arn": world.bus(OTHER, "default"), "RoleArn": role}
    await world.rule(HOME, "in", "central", {"Id": "q", "Arn": queue}, back)
    to_central = {"Id": "central", "Arn": world.bus(HOME, "central"), "RoleArn": role}
    await world.rule(OTHER, "out", "default", to_central)

    event_id = await world.put(OTHER)
    await world.parts.deliveries.drain()
    (event,) = world.received(queue)
    assert event["id"] == event_id
    assert (event["account"], event["region"], event["source"]) == (world.account, OTHER, "my.app")
    assert event["detail"] == {"n": 1} and event["detail-type"] == "order"
    on_in = [("EventBusName", "central"), ("RuleName", "in")]
    assert world.metrics.counts("AWS/Events", on_in)["DeadLetterInvocations"] == 1
    assert world.metrics.counts("AWS/Events", [("RuleName", "out")])["Invocations"] == 1

    direct = await world.put(HOME, "central")
    await world.parts.deliveries.drain()
    assert [e["id"] for e in world.received(queue)] == [direct]

    await world.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await world.billing.usage_report(world.account, month)
    published = {
        line.region: line.quantity for line in report.lines if line.meter == "events.published"
    }
    # Each Region its PutEvents and the event it sent on: eu-de-1's to central, eu-fr-1's
    # direct event to eu-de-1 (there the rule ``out`` does not send it back: one hop).
    assert published == {OTHER: 2, HOME: 2}
    assert world.metrics.counts("AWS/Events", [("RuleName", "out")])["DeadLetterInvocations"] == 1


async def test_a_role_that_may_not_put_the_event_stops_it(world: World) -> None:
    """The role's policies decide for the account's bus of another Region: without
    ``events:PutEvents`` the event does not arrive and the rule counts a failed invocation."""
    await world.ok(HOME, "CreateEventBus", {"Name": "central"})
    queue = world.arn(HOME, "sqs", "central")
    await world.rule(HOME, "in", "central", {"Id": "q", "Arn": queue})
    bare = await world.role("bare")
    target = {"Id": "central", "Arn": world.bus(HOME, "central"), "RoleArn": bare}
    await world.rule(OTHER, "out", "default", target)
    await world.put(OTHER)
    await world.parts.deliveries.drain()
    assert world.received(queue) == []
    assert world.metrics.counts("AWS/Events", [("RuleName", "out")])["FailedInvocations"] == 1


async def test_another_region_serves_buses_queues_and_bus_targets(world: World) -> None:
    """What stays the default Region's is refused by name in another: targets other than
    event buses, API destinations (decision 0400) and SQS queues (decision 0414), and
    customer keys (of buses and archives); its connections are its own (decision 0400). Its
    Region's queues are targets and dead-letter queues, a rule's and a bus's; the default
    Region's are not (AWS: a queue of the rule's Region)."""
    await world.ok(OTHER, "PutRule", {"Name": "r", "EventPattern": PATTERN})
    topic = {"Id": "t", "Arn": world.arn(OTHER, "sns", "t")}
    code, message = await world.refused(OTHER, "PutTargets", {"Rule": "r", "Targets": [topic]})
    assert code == "ValidationException"
    assert f"in Region {OTHER} only event buses, API destinations and SQS queues" in message
    queue = {"Id": "q", "Arn": world.arn(OTHER, "sqs", "q")}
    await world.ok(OTHER, "PutTargets", {"Rule": "r", "Targets": [queue]})
    home_queue = {"Id": "h", "Arn": world.arn(HOME, "sqs", "q")}
    code, message = await world.refused(OTHER, "PutTargets", {"Rule": "r", "Targets": [home_queue]})
    assert code == "ValidationException" and message.endswith("must be of this Region.")
    role = await world.role("send", "events:PutEvents")
    with_dlq = {
        "Id": "b",
        "Arn": world.bus(HOME, "default"),
        "RoleArn": role,
        "DeadLetterConfig": {"Arn": world.arn(OTHER, "sqs", "dlq")},
    }
    await world.ok(OTHER, "PutTargets", {"Rule": "r", "Targets": [with_dlq]})
    with_dlq["DeadLetterConfig"] = {"Arn": world.arn(HOME, "sqs", "dlq")}
    code, message = await world.refused(OTHER, "PutTargets", {"Rule": "r", "Targets": [with_dlq]})
    assert code == "ValidationException" and message.endswith("must be of this Region.")
    code, message = await world.refused(
        OTHER, "CreateEventBus", {"Name": "sealed", "KmsKeyIdentifier": "alias/x"}
    )
    assert "KmsKeyIdentifier is not supported in Region eu-de-1" in message
    await world.ok(
        OTHER, "CreateEventBus", {"Name": "dl", "DeadLetterConfig": {"Arn": queue["Arn"]}}
    )
    code, message = await world.refused(
        OTHER, "CreateEventBus", {"Name": "dh", "DeadLetterConfig": {"Arn": home_queue["Arn"]}}
    )
    assert "the queue must be in the event bus's account and Region" in message
    archive = {
        "ArchiveName": "a",
        "EventSourceArn": world.bus(OTHER, "default"),
        "KmsKeyIdentifier": "alias/x",
    }
    code, message = await world.refused(OTHER, "CreateArchive", archive)
    assert code == "ValidationException"
    assert f"KmsKeyIdentifier is not supported in Region {OTHER}" in message
    assert (await world.ok(OTHER, "ListConnections", {}))["Connections"] == []
    assert (await world.ok(HOME, "ListArchives", {}))["Archives"] == []


async def test_a_policy_sees_the_calls_region(world: World) -> None:
    """``aws:RequestedRegion`` is the Region the call is signed for: a user allowed
    EventBridge in the default Region only is refused in the other."""
    keys = await region_bound_keys(world.identity, world.account, "events:ListEventBuses", HOME)
    dev = replace(world, credentials=keys)
    await dev.ok(HOME, "ListEventBuses", {})
    code, _ = await dev.refused(OTHER, "ListEventBuses", {})
    assert code == "AccessDeniedException"


async def test_the_bus_limit_counts_each_regions_buses(world: World) -> None:
    """``events_max_buses`` (3 here) is a Region's, as AWS's quota, over the SQL store."""
    for region in (HOME, OTHER):
        for name in ("a", "b", "c"):
            await world.ok(region, "CreateEventBus", {"Name": name})
        code, _ = await world.refused(region, "CreateEventBus", {"Name": "d"})
        assert code == "LimitExceededException"


async def test_an_event_sent_to_another_region_keeps_its_trace(world: World) -> None:
    """Decision 0360: the trace header an event was put with goes with it onto another
    Region's bus, whose rules' targets get it; one put without one arrives without one."""
    await world.ok(HOME, "CreateEventBus", {"Name": "central"})
    queue = world.arn(HOME, "sqs", "central")
    await world.rule(HOME, "in", "central", {"Id": "q", "Arn": queue})
    role = await world.role("send", "events:PutEvents")
    to_central = {"Id": "central", "Arn": world.bus(HOME, "central"), "RoleArn": role}
    await world.rule(OTHER, "out", "default", to_central)
    trace = "Root=1-6756f2a0-0123456789abcdef01234567;Sampled=1"

    answer = await world.ok(OTHER, "PutEvents", {"Entries": [{**ENTRY, "TraceHeader": trace}]})
    traced = answer["Entries"][0]["EventId"]
    untraced = await world.put(OTHER)
    await world.parts.deliveries.drain()
    assert {e["id"] for e in world.received(queue)} == {traced, untraced}
    assert (world.queues.traces[traced], world.queues.traces[untraced]) == (trace, None)
