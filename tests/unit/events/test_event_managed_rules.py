"""Decision 0332 in the EventBridge service over the memory store: a rule a service makes
(``managed_by``) refused to a user's every change, DeleteRule's and RemoveTargets' ``Force``
letting them through, a service never taking over a user's rule; and the AWS/Events metrics
the routing and the deliveries record (attempts, retries, throttling, the ingestion latency,
MatchedEvents by rule, by bus and without dimension) as ``serve``'s sink receives them.
Decision 0341: over the memory stores, an archive's rule holds its one target, which the
routing never delivers to, and losing it with ``Force`` stops the archive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from andromede.events.archive_store import MemoryArchiveStore
from andromede.events.archives import ArchiveService
from andromede.events.dispatcher import Deliveries, DeliveryDeferred
from andromede.events.errors import LimitExceeded, ManagedRule, ResourceAlreadyExists
from andromede.events.managed_rules import (
    ARCHIVE_MANAGER,
    archive_rule_pattern,
    archive_target_arn,
    is_archive_target,
)
from andromede.events.memory import MemoryEventsStore
from andromede.events.model import Rule
from andromede.events.service import EventsLimits, EventsService
from andromede.wiring.events import RuleMetrics
from support.metric_sinks import RecordingSink

REGION = "eu-west-3"
ACCOUNT = "123456789012"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
SERVICE = "example.amazonaws.com"


class Sink:
    """A target sink: ``throttled`` sends refused with THROTTLING first, then taken."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.throttled = 0

    async def send(self, tenant_id: str, arn: str, message: str, **_: object) -> None:
        if self.throttled:
            self.throttled -= 1
            raise DeliveryDeferred("THROTTLING", "slow down")
        self.sent.append(arn)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def deliveries(sink: Sink) -> Deliveries:
    return Deliveries(sink, max_attempts=5, retry_base=0.001)


@pytest.fixture
def service(deliveries: Deliveries) -> EventsService:
    return EventsService(MemoryEventsStore(), deliveries, region=REGION)


async def test_a_managed_rule_refuses_users_without_force(service: EventsService) -> None:
    deleted: list[Rule] = []

    async def told(rule: Rule) -> None:
        deleted.append(rule)

    service.on_managed_delete = told
    pattern = '{"source": ["aws.states"]}'
    await service.put_rule(ACCOUNT, "m", "default", event_pattern=pattern, managed_by=SERVICE)
    held = await service.describe_rule(ACCOUNT, "m", "default")
    assert held.managed_by == SERVICE
    assert await service.managed_by(ACCOUNT, held.arn) == SERVICE
    target = [{"Id": "q", "Arn": QUEUE}]
    for refused in (
        service.put_rule(ACCOUNT, "m", "default", event_pattern=pattern),
        service.put_targets(ACCOUNT, "m", "default", target),
        service.set_state(ACCOUNT, "m", "default", "DISABLED"),
        service.tag_rule(ACCOUNT, "m", "default", {"k": "v"}, []),
        service.tag_rule(ACCOUNT, "m", "default", {}, ["k"]),
        service.remove_targets(ACCOUNT, "m", "default", ["q"]),
        service.delete_rule(ACCOUNT, "m", "default"),
    ):
        with pytest.raises(ManagedRule, match="Force parameter"):
            await refused
    # The service itself changes it; users' Force removes targets and deletes it.
    await service.put_rule(ACCOUNT, "m", "default", event_pattern="{}", managed_by=SERVICE)
    assert (await service.describe_rule(ACCOUNT, "m", "default")).event_pattern == "{}"
    assert await service.remove_targets(ACCOUNT, "m", "default", ["q"], force=True) == []
    assert deleted == []
    await service.delete_rule(ACCOUNT, "m", "default", force=True)
    assert [rule.name for rule in deleted] == ["m"]
    assert await service.managed_by(ACCOUNT, held.arn) is None

    # A user's rule: ManagedBy absent, Force harmless, never taken over by a service.
    await service.put_rule(ACCOUNT, "u", "default", event_pattern=pattern)
    user_rule = await service.describe_rule(ACCOUNT, "u", "default")
    assert user_rule.managed_by is None and await service.managed_by(ACCOUNT, user_rule.arn) is None
    with pytest.raises(ResourceAlreadyExists):
        await service.put_rule(ACCOUNT, "u", "default", event_pattern="{}", managed_by=SERVICE)
    await service.delete_rule(ACCOUNT, "u", "default", force=True)
    assert len(deleted) == 1  # only a managed rule's service is told


def test_an_archive_rules_pattern_leaves_replays_out() -> None:
    assert archive_rule_pattern(None) == '{"replay-name":[{"exists":false}]}'
    assert archive_rule_pattern('{"source": ["shop"]}') == (
        '{"source":["shop"],"replay-name":[{"exists":false}]}'
    )


async def test_the_metrics_of_routing_and_deliveries(
    service: EventsService, deliveries: Deliveries, sink: Sink
) -> None:
    recorded = RecordingSink()
    metrics = RuleMetrics(recorded, REGION)
    service.metrics = deliveries.metrics = metrics
    service.measures = deliveries.measures = metrics.measure
    await service.create_bus(ACCOUNT, "orders")
    await service.put_rule(ACCOUNT, "r", "orders", event_pattern='{"source": ["my.app"]}')
    await service.put_targets(ACCOUNT, "r", "orders", [{"Id": "q", "Arn": QUEUE}])
    entry = {"Source": "my.app", "DetailType": "o", "Detail": "{}", "EventBusName": "orders"}
    other = {**entry, "Source": "other.app"}
    sink.throttled = 1  # the first attempt held back: retried, then delivered
    await service.put_events(ACCOUNT, [entry, other])
    await deliveries.drain()
    assert sink.sent == [QUEUE]

    rule = [("EventBusName", "orders"), ("RuleName", "r")]
    assert recorded.counts("AWS/Events", rule) == {
        "TriggeredRules": 1,
        "MatchedEvents": 1,
        "InvocationAttempts": 2,
        "RetryInvocationAttempts": 1,
        "ThrottledRules": 1,
        "SuccessfulInvocationAttempts": 1,
        "Invocations": 1,
    }
    # Without dimension, as AWS's aggregates; by bus, the attempts and MatchedEvents.
    assert recorded.counts("AWS/Events", []) == {
        "MatchedEvents": 1,  # one of the two events matched a rule
        "InvocationsCreated": 1,  # decision 0341: the one delivery it made
        "InvocationAttempts": 2,
        "RetryInvocationAttempts": 1,
        "ThrottledRules": 1,
        "SuccessfulInvocationAttempts": 1,
        "Invocations": 1,
    }
    assert recorded.counts("AWS/Events", [("EventBusName", "orders")]) == {
        "MatchedEvents": 1,
        "InvocationAttempts": 2,
        "RetryInvocationAttempts": 1,
        "SuccessfulInvocationAttempts": 1,
    }
    latencies = [
        (dims, unit)
        for _, _, name, dims, _, unit in recorded.points
        if name == "IngestionToInvocationStartLatency"
    ]
    assert latencies == [((), "Milliseconds")]  # the first attempt only


async def test_the_ingestion_latency_is_the_wait_since_the_event_came_in(sink: Sink) -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    clock = [now]
    deliveries = Deliveries(sink, max_attempts=5, retry_base=0.001, clock=lambda: clock[0])
    service = EventsService(MemoryEventsStore(), deliveries, region=REGION, clock=lambda: now)
    measured: list[tuple[str, float, str]] = []
    deliveries.measures = lambda tenant, name, value, unit, bus: measured.append(
        (name, value, unit)
    )
    await service.put_rule(ACCOUNT, "r", "default", event_pattern="{}")
    await service.put_targets(ACCOUNT, "r", "default", [{"Id": "q", "Arn": QUEUE}])
    await service.put_events(ACCOUNT, [{"Source": "a", "DetailType": "b", "Detail": "{}"}])
    clock[0] = now + timedelta(milliseconds=1500)
    await deliveries.drain()
    assert sink.sent == [QUEUE]
    assert measured == [("IngestionToInvocationStartLatency", 1500.0, "Milliseconds")]


async def test_an_archive_target_is_never_delivered_to(
    service: EventsService, deliveries: Deliveries, sink: Sink
) -> None:
    archives = ArchiveService(MemoryArchiveStore(), service)
    service.archiver = archives
    await archives.create_archive(
        ACCOUNT, "kept", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    )
    rule = await service.describe_rule(ACCOUNT, "Events-Archive-kept", "default")
    assert rule.managed_by == ARCHIVE_MANAGER
    [target] = await service.list_targets(ACCOUNT, rule.name, "default")
    assert (target.id, target.arn) == (rule.name, archive_target_arn(REGION))
    assert is_archive_target(target.arn) and not is_archive_target(QUEUE)
    # A user's rule beside it delivers; the archive's rule matches and delivers nothing.
    await service.put_rule(ACCOUNT, "r", "default", event_pattern="{}")
    await service.put_targets(ACCOUNT, "r", "default", [{"Id": "q", "Arn": QUEUE}])
    entry = {"Source": "my.app", "DetailType": "o", "Detail": "{}"}
    [result] = await service.put_events(ACCOUNT, [entry])
    assert result.event_id is not None
    await deliveries.drain()
    assert sink.sent == [QUEUE]
    assert (await archives.describe_archive(ACCOUNT, "kept")).event_count == 1

    removed = await service.remove_targets(ACCOUNT, rule.name, "default", [rule.name], force=True)
    assert removed == [rule.name]
    assert (await archives.describe_archive(ACCOUNT, "kept")).state == "DISABLED"
    await service.put_events(ACCOUNT, [entry])
    assert (await archives.describe_archive(ACCOUNT, "kept")).event_count == 1


async def test_an_archive_whose_target_cannot_be_put_leaves_nothing(
    deliveries: Deliveries,
) -> None:
    """All or nothing: a rule made but its target refused (no target allowed a rule here)
    goes with the archive."""
    limits = EventsLimits(max_targets=0)
    service = EventsService(MemoryEventsStore(), deliveries, region=REGION, limits=limits)
    archives = ArchiveService(MemoryArchiveStore(), service)
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    with pytest.raises(LimitExceeded):
        await archives.create_archive(ACCOUNT, "kept", bus)
    assert await service.list_rules(ACCOUNT, "default", "", "", 10) == []
    assert await archives.store.get_archive(ACCOUNT, "kept") is None
