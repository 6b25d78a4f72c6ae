"""Decision 0355: EventBridge global endpoints — in process, built as ``serve`` builds
EventBridge (``wiring.events``: the SQL stores on SQLite, the durable deliveries, the
identity service judging roles), two declared Regions, botocore's SigV4. The API (create,
describe, list in pages, update, delete; AWS's validation; the limit), and PutEvents with
an ``EndpointId`` following the health check, with and without replication. The health
check's status comes from an in-memory twin of Route 53's lookup (the e2e drives a real
one).

The endpoint's primary is eu-de-1 and its secondary the default Region eu-fr-1: another
Region's rules have only event buses as targets (decision 0349), so the primary's rule
hands its events to a bus of the default Region, whose rule fills a queue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from andromede.settings import Settings
from support.metric_sinks import RecordingSink
from support.regional_events import ENTRY, PATTERN, RegionalEvents, regional_events

HOME = "eu-fr-1"  # the deployment's default Region: the endpoint's secondary
PRIMARY = "eu-de-1"
CHECK = "arn:aws:route53:::healthcheck/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@dataclass
class Checks:
    """Route 53's statuses as the failover reads them (a check left out: healthy)."""

    unhealthy: set[str] = field(default_factory=set)

    async def healthy(
        self, tenant_id: str, health_check_ids: Collection[str]
    ) -> Mapping[str, bool]:
        return {c: c not in self.unhealthy for c in health_check_ids}


class Queues:
    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        self.sent.setdefault(arn, []).append(json.loads(message))


@dataclass
class World(RegionalEvents):
    queues: Queues
    checks: Checks
    metrics: RecordingSink

    def queue(self, name: str) -> str:
        return self.arn(HOME, "sqs", name)

    async def rule(self, region: str, name: str, bus: str, target: dict[str, Any]) -> None:
        await self.ok(
            region, "PutRule", {"Name": name, "EventBusName": bus, "EventPattern": PATTERN}
        )
        put = {"Rule": name, "EventBusName": bus, "Targets": [target]}
        await self.ok(region, "PutTargets", put)

    def endpoint(self, name: str = "orders-ge", **changes: Any) -> dict[str, Any]:
        made: dict[str, Any] = {
            "Name": name,
            "RoutingConfig": {
                "FailoverConfig": {"Primary": {"HealthCheck": CHECK}, "Secondary": {"Route": HOME}}
            },
            "ReplicationConfig": {"State": "DISABLED"},
            "EventBuses": [
                {"EventBusArn": self.bus(PRIMARY, "orders")},
                {"EventBusArn": self.bus(HOME, "orders")},
            ],
        }
        made.update(changes)
        return made

    async def consumers(self) -> str:
        """A bus ``orders`` in both Regions: the primary's rule through the default Region's
        bus ``from-primary`` to queue ``primary``, the secondary's to queue ``secondary``;
        the role sending bus to bus."""
        role = await self.role("relay", "events:PutEvents")
        for region in (PRIMARY, HOME):
            await self.ok(region, "CreateEventBus", {"Name": "orders"})
        await self.ok(HOME, "CreateEventBus", {"Name": "from-primary"})
        await self.rule(HOME, "q", "from-primary", {"Id": "q", "Arn": self.queue("primary")})
        relay = {"Id": "relay", "Arn": self.bus(HOME, "from-primary"), "RoleArn": role}
        await self.rule(PRIMARY, "relay", "orders", relay)
        await self.rule(HOME, "q", "orders", {"Id": "q", "Arn": self.queue("secondary")})
        return role

    async def put(self, endpoint_id: str, **entry: Any) -> str:
        payload = {"Entries": [{**ENTRY, **entry}], "EndpointId": endpoint_id}
        answer = await self.ok(HOME, "PutEvents", payload)
        assert answer["FailedEntryCount"] == 0, answer
        return str(answer["Entries"][0]["EventId"])

    async def received(self, queue: str) -> list[str]:
        await self.parts.deliveries.drain()
        return [event["id"] for event in self.queues.sent.pop(self.queue(queue), [])]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        region=HOME,
        regions=[{"name": HOME}, {"name": PRIMARY}],
        served_regions=(HOME, PRIMARY),
        events_delivery_retry_base=0.001,
        events_max_endpoints=2,
    )
    queues, checks, metrics = Queues(), Checks(), RecordingSink()
    async with regional_events(settings, queues, metrics=metrics, health=checks) as built:
        yield World(**vars(built), queues=queues, checks=checks, metrics=metrics)


async def test_an_endpoint_is_made_described_listed_updated_and_deleted(world: World) -> None:
    for region in (PRIMARY, HOME):
        await world.ok(region, "CreateEventBus", {"Name": "orders"})
    made = await world.ok(PRIMARY, "CreateEndpoint", world.endpoint(Description="first"))
    arn = f"arn:aws:events:{PRIMARY}:{world.account}:endpoint/orders-ge"
    assert (made["Name"], made["Arn"], made["State"]) == ("orders-ge", arn, "ACTIVE")
    assert made["EventBuses"] == world.endpoint()["EventBuses"]
    assert made["ReplicationConfig"] == {"State": "DISABLED"} and "RoleArn" not in made
    shown = await world.ok(PRIMARY, "DescribeEndpoint", {"Name": "orders-ge"})
    assert shown["Description"] == "first"
    assert shown["RoutingConfig"] == world.endpoint()["RoutingConfig"]
    first, dot, last = shown["EndpointId"].partition(".")
    assert dot and first.isalnum() and last.isalpha()
    assert shown["EndpointUrl"].startswith("http")
    assert shown["CreationTime"] == shown["LastModifiedTime"] > 0
    # The endpoint's home is its primary's Region: HomeRegion names it from elsewhere.
    code, _ = await world.refused(HOME, "DescribeEndpoint", {"Name": "orders-ge"})
    assert code == "ResourceNotFoundException"
    there = {"Name": "orders-ge", "HomeRegion": PRIMARY}
    assert (await world.ok(HOME, "DescribeEndpoint", there))["Arn"] == arn

    await world.ok(PRIMARY, "CreateEndpoint", world.endpoint("other-ge"))
    page = await world.ok(PRIMARY, "ListEndpoints", {"MaxResults": 1})
    assert [e["Name"] for e in page["Endpoints"]] == ["orders-ge"]
    page = await world.ok(PRIMARY, "ListEndpoints", {"NextToken": page["NextToken"]})
    assert [e["Name"] for e in page["Endpoints"]] == ["other-ge"] and "NextToken" not in page
    page = await world.ok(PRIMARY, "ListEndpoints", {"NamePrefix": "oth"})
    assert [e["Name"] for e in page["Endpoints"]] == ["other-ge"]
    assert (await world.ok(HOME, "ListEndpoints", {}))["Endpoints"] == []
    code, _ = await world.refused(PRIMARY, "CreateEndpoint", world.endpoint("third"))
    assert code == "LimitExceededException"
    code, _ = await world.refused(PRIMARY, "CreateEndpoint", world.endpoint())
    assert code == "ResourceAlreadyExistsException"

    # Replication on: a managed rule on each bus sends its custom events to the other.
    role = await world.role("replication", "events:PutEvents")
    changed = await world.ok(
        PRIMARY,
        "UpdateEndpoint",
        {"Name": "orders-ge", "ReplicationConfig": {"State": "ENABLED"}, "RoleArn": role},
    )
    assert changed["ReplicationConfig"] == {"State": "ENABLED"} and changed["RoleArn"] == role
    assert changed["EndpointId"] == shown["EndpointId"]
    rule = "GlobalEndpointManagedRule-" + shown["EndpointId"].replace(".", "-")
    for region, other in ((PRIMARY, HOME), (HOME, PRIMARY)):
        found = await world.ok(region, "DescribeRule", {"Name": rule, "EventBusName": "orders"})
        assert found["ManagedBy"] == "events.amazonaws.com"
        targets = await world.ok(
            region, "ListTargetsByRule", {"Rule": rule, "EventBusName": "orders"}
        )
        assert [(t["Arn"], t["RoleArn"]) for t in targets["Targets"]] == [
            (world.bus(other, "orders"), role)
        ]
        code, _ = await world.refused(
            region, "DeleteRule", {"Name": rule, "EventBusName": "orders"}
        )
        assert code == "ManagedRuleException"
    assert (await world.ok(PRIMARY, "DescribeEndpoint", {"Name": "orders-ge"}))[
        "Description"
    ] == "first"

    await world.ok(PRIMARY, "DeleteEndpoint", {"Name": "orders-ge"})
    code, _ = await world.refused(PRIMARY, "DescribeEndpoint", {"Name": "orders-ge"})
    assert code == "ResourceNotFoundException"
    for region in (PRIMARY, HOME):
        rules = await world.ok(region, "ListRules", {"EventBusName": "orders"})
        assert rules["Rules"] == []
    code, _ = await world.refused(PRIMARY, "DeleteEndpoint", {"Name": "orders-ge"})
    assert code == "ResourceNotFoundException"


async def test_create_endpoint_refuses_what_aws_refuses(world: World) -> None:
    for region in (PRIMARY, HOME):
        await world.ok(region, "CreateEventBus", {"Name": "orders"})
    await world.ok(PRIMARY, "CreateEventBus", {"Name": "solo"})
    routing = world.endpoint()["RoutingConfig"]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"Name": "no spaces"}, "regular expression"),
        ({"RoutingConfig": {}}, "routingConfig.failoverConfig"),
        (
            {
                "RoutingConfig": {
                    "FailoverConfig": {
                        **routing["FailoverConfig"],
                        "Primary": {"HealthCheck": "check-1"},
                    }
                }
            },
            "healthCheck",
        ),
        (
            {
                "RoutingConfig": {
                    "FailoverConfig": {**routing["FailoverConfig"], "Secondary": {"Route": PRIMARY}}
                }
            },
            "must differ",
        ),
        (
            {
                "RoutingConfig": {
                    "FailoverConfig": {
                        **routing["FailoverConfig"],
                        "Secondary": {"Route": "us-east-1"},
                    }
                }
            },
            "not served by this deployment",
        ),
        ({"EventBuses": [{"EventBusArn": world.bus(PRIMARY, "orders")}]}, "eventBuses"),
        (
            {
                "EventBuses": [
                    {"EventBusArn": world.bus(PRIMARY, "solo")},
                    {"EventBusArn": world.bus(HOME, "orders")},
                ]
            },
            "identical",
        ),
        (
            {
                "EventBuses": [
                    {"EventBusArn": world.bus(PRIMARY, "solo")},
                    {"EventBusArn": world.bus(HOME, "solo")},
                ]
            },
            "does not exist",
        ),
        ({"ReplicationConfig": {"State": "ENABLED"}}, "RoleArn is required"),
        ({"ReplicationConfig": {}}, "RoleArn is required"),
        ({"ReplicationConfig": {"State": "SOMETIMES"}}, "enum"),
        ({"RoleArn": "arn:aws:iam::000000000000:role/theirs"}, "of account"),
    ]
    for change, words in bad:
        code, message = await world.refused(PRIMARY, "CreateEndpoint", world.endpoint(**change))
        assert code == "ValidationException", (change, code)
        assert words in message, (change, message)
    assert (await world.ok(PRIMARY, "ListEndpoints", {}))["Endpoints"] == []


async def test_put_events_follows_the_health_check(world: World) -> None:
    """Healthy: the primary's bus; unhealthy: the secondary's; healthy again: back."""
    await world.consumers()
    await world.ok(PRIMARY, "CreateEndpoint", world.endpoint())
    described = await world.ok(PRIMARY, "DescribeEndpoint", {"Name": "orders-ge"})
    endpoint_id = described["EndpointId"]
    first = await world.put(endpoint_id)
    assert await world.received("primary") == [first]
    assert await world.received("secondary") == []
    world.checks.unhealthy.add(CHECK.rsplit("/", 1)[1])
    second = await world.put(endpoint_id, EventBusName=world.bus(PRIMARY, "orders"))
    assert await world.received("secondary") == [second]
    assert await world.received("primary") == []
    world.checks.unhealthy.clear()
    third = await world.put(endpoint_id, EventBusName="orders")
    assert await world.received("primary") == [third]

    code, _ = await world.refused(
        HOME, "PutEvents", {"Entries": [{**ENTRY, "EventBusName": "default"}],
                            "EndpointId": endpoint_id},
    )  # fmt: skip
    assert code == "ValidationException"
    code, _ = await world.refused(HOME, "PutEvents", {"Entries": [ENTRY], "EndpointId": "abc.def"})
    assert code == "ResourceNotFoundException"
    code, _ = await world.refused(HOME, "PutEvents", {"Entries": [ENTRY], "EndpointId": "nodot"})
    assert code == "ValidationException"


async def test_replication_sends_each_event_to_the_other_bus_too(world: World) -> None:
    """Replication ENABLED: an event put through the endpoint reaches the primary's bus and,
    through the managed rule as the role, the secondary's (its id and Region kept); after
    failover, the secondary's event is sent to the primary's bus, whose relay to a third bus
    is not followed (one hop, decision 0349)."""
    role = await world.consumers()
    await world.ok(
        PRIMARY,
        "CreateEndpoint",
        world.endpoint(ReplicationConfig={"State": "ENABLED"}, RoleArn=role),
    )
    described = await world.ok(PRIMARY, "DescribeEndpoint", {"Name": "orders-ge"})
    event_id = await world.put(described["EndpointId"])
    assert await world.received("primary") == [event_id]
    assert await world.received("secondary") == [event_id]
    world.checks.unhealthy.add(CHECK.rsplit("/", 1)[1])
    failed_over = await world.put(described["EndpointId"])
    assert await world.received("secondary") == [failed_over]
    assert await world.received("primary") == []
    relay = [("EventBusName", "orders"), ("RuleName", "relay")]
    assert world.metrics.counts("AWS/Events", relay)["DeadLetterInvocations"] == 1
    # An event put on the primary's bus without the endpoint is replicated as well, as
    # AWS's managed rules replicate every custom event of the bus.
    direct = await world.ok(
        PRIMARY, "PutEvents", {"Entries": [{**ENTRY, "EventBusName": "orders"}]}
    )
    assert await world.received("secondary") == [direct["Entries"][0]["EventId"]]
