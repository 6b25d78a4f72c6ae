"""Decision 0192's EventBridge service in process over the memory store: buses and rules'
checks, PutEvents' per-entry failures and limits, routing to the targets of matching enabled
rules with their inputs, deliveries' retries and dead letters, and the scheduled rules fired
once per period across two gateways sharing their claims (the SQL claims of ``metric_runs``
on SQLite)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.events.dispatcher import Deliveries, DeliveryRefused
from andromede.events.errors import (
    InvalidEventPattern,
    LimitExceeded,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.memory import MemoryEventsStore
from andromede.events.scheduler import Scheduler
from andromede.events.service import EventsLimits, EventsService
from andromede.metrics.runs_sql import SqlMetricRuns
from support.schema import migrated_sqlite

REGION = "eu-west-3"
ACCOUNT = "123456789012"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
DLQ = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


class Sink:
    """A target sink keeping what it took; ``failures``: transient failures to give first;
    ``refused``: ARNs it refuses for good."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str] | None, str | None, str]] = []
        self.failures = 0
        self.refused: set[str] = set()

    async def send(
        self,
        tenant_id: str,
        arn: str,
        message: str,
        *,
        rule_arn: str,
        group_id: str | None,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
        role_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        if arn in self.refused:
            raise DeliveryRefused("NO_PERMISSIONS", "refused")
        if self.failures and arn != DLQ:
            self.failures -= 1
            raise ConnectionError("down")
        self.sent.append((arn, message, attributes, group_id, dedup_id))


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def deliveries(sink: Sink) -> Deliveries:
    return Deliveries(sink, max_attempts=5, retry_base=0.001)


@pytest.fixture
def service(deliveries: Deliveries) -> EventsService:
    return EventsService(
        MemoryEventsStore(),
        deliveries,
        region=REGION,
        limits=EventsLimits(max_buses=2, max_rules=3, max_targets=2, max_put_size=1000),
        clock=lambda: NOW,
    )


def entry(**given: Any) -> dict[str, Any]:
    return {"Source": "my.app", "DetailType": "order", "Detail": '{"n": 1}', **given}


async def test_buses(service: EventsService) -> None:
    bus = await service.create_bus(ACCOUNT, "orders", description="d", tags={"k": "v"})
    assert bus.arn == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders"
    assert service.bus_name(ACCOUNT, bus.arn) == "orders"
    assert (await service.describe_bus(ACCOUNT, "default")).name == "default"
    for name in ("default", "aws.thing", "a/b", "bad name"):
        with pytest.raises(ValidationError):
            await service.create_bus(ACCOUNT, name)
    await service.create_bus(ACCOUNT, "zz")
    with pytest.raises(LimitExceeded):
        await service.create_bus(ACCOUNT, "more")
    names = [b.name for b in await service.list_buses(ACCOUNT, "", "", 10)]
    assert names == ["default", "orders", "zz"]
    assert [b.name for b in await service.list_buses(ACCOUNT, "", "default", 1)] == ["orders"]
    with pytest.raises(ValidationError, match="Cannot delete event bus default"):
        await service.delete_bus(ACCOUNT, "default")
    await service.delete_bus(ACCOUNT, "zz")
    with pytest.raises(ResourceNotFound):
        await service.describe_bus(ACCOUNT, "zz")
    with pytest.raises(ResourceNotFound):
        service.bus_name(ACCOUNT, f"arn:aws:events:{REGION}:999999999999:event-bus/orders")


async def test_rules(service: EventsService) -> None:
    with pytest.raises(ValidationError, match="EventPattern or ScheduleExpression"):
        await service.put_rule(ACCOUNT, "r", "default")
    with pytest.raises(InvalidEventPattern):
        await service.put_rule(ACCOUNT, "r", "default", event_pattern='{"a": "b"}')
    with pytest.raises(ValidationError, match="ScheduleExpression is not valid"):
        await service.put_rule(ACCOUNT, "r", "default", schedule="rate(1 minutes)")
    with pytest.raises(ResourceNotFound):
        await service.put_rule(ACCOUNT, "r", "nope", event_pattern="{}")
    await service.create_bus(ACCOUNT, "custom")
    with pytest.raises(ValidationError, match="only on the default event bus"):
        await service.put_rule(ACCOUNT, "r", "custom", schedule="rate(5 minutes)")
    with pytest.raises(ValidationError, match="enum"):
        await service.put_rule(ACCOUNT, "r", "default", event_pattern="{}", state="ON")
    rule = await service.put_rule(ACCOUNT, "r", "custom", event_pattern="{}", tags={"a": "1"})
    assert rule.arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/custom/r"
    again = await service.put_rule(ACCOUNT, "r", "custom", event_pattern="{}", tags={"b": "2"})
    assert again.tags == {"a": "1", "b": "2"} and again.created == rule.created
    await service.set_state(ACCOUNT, "r", "custom", "DISABLED")
    assert (await service.describe_rule(ACCOUNT, "r", "custom")).state == "DISABLED"
    with pytest.raises(ResourceNotFound, match="Rule nope does not exist on EventBus custom"):
        await service.describe_rule(ACCOUNT, "nope", "custom")
    await service.put_targets(ACCOUNT, "r", "custom", [{"Id": "a", "Arn": QUEUE}])
    with pytest.raises(LimitExceeded):
        await service.put_targets(
            ACCOUNT, "r", "custom", [{"Id": "b", "Arn": QUEUE}, {"Id": "c", "Arn": QUEUE}]
        )
    with pytest.raises(ValidationError, match="has targets"):
        await service.delete_rule(ACCOUNT, "r", "custom")
    assert await service.rule_names_by_target(ACCOUNT, QUEUE, "custom", "", 10) == ["r"]
    await service.remove_targets(ACCOUNT, "r", "custom", ["a"])
    await service.delete_rule(ACCOUNT, "r", "custom")
    assert await service.list_rules(ACCOUNT, "custom", "", "", 10) == []


async def test_put_events_entries_and_limits(service: EventsService) -> None:
    results = await service.put_events(
        ACCOUNT,
        [
            entry(),
            entry(Source="aws.ec2"),
            entry(Detail="[1]"),
            entry(DetailType=""),
            entry(EventBusName="missing"),
            entry(Resources="x"),
        ],
    )
    assert results[0].event_id and results[0].error_code is None
    assert [r.error_code for r in results[1:]] == [
        "NotAuthorizedForSourceException",
        "MalformedDetail",
        "InvalidArgument",
        "InvalidArgument",
        "InvalidArgument",
    ]
    with pytest.raises(ValidationError):
        await service.put_events(ACCOUNT, [entry()] * 11)
    with pytest.raises(ValidationError, match="Total size"):
        await service.put_events(ACCOUNT, [entry(Detail=json.dumps({"x": "y" * 1000}))])
    assert service.test_event_pattern(
        '{"detail": {"n": [{"numeric": [">", 0]}]}}',
        json.dumps(
            {
                "id": "1",
                "account": ACCOUNT,
                "source": "s",
                "time": "t",
                "region": REGION,
                "detail-type": "d",
                "detail": {"n": 2},
            }
        ),
    )
    with pytest.raises(ValidationError, match="Event is not valid"):
        service.test_event_pattern("{}", '{"id": "1"}')


async def test_routing_and_inputs(
    service: EventsService, deliveries: Deliveries, sink: Sink
) -> None:
    await service.put_rule(ACCOUNT, "orders", "default", event_pattern='{"source": ["my.app"]}')
    await service.put_rule(ACCOUNT, "other", "default", event_pattern='{"source": ["other"]}')
    await service.put_rule(
        ACCOUNT, "off", "default", event_pattern='{"source": ["my.app"]}', state="DISABLED"
    )
    await service.put_targets(
        ACCOUNT,
        "orders",
        "default",
        [
            {"Id": "whole", "Arn": QUEUE},
            {
                "Id": "shaped",
                "Arn": QUEUE + ".fifo",
                "SqsParameters": {"MessageGroupId": "g"},
                "InputTransformer": {
                    "InputPathsMap": {"n": "$.detail.n"},
                    "InputTemplate": '{"count": <n>, "rule": "<aws.events.rule-name>"}',
                },
            },
        ],
    )
    for name in ("other", "off"):
        await service.put_targets(ACCOUNT, name, "default", [{"Id": "x", "Arn": DLQ}])
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    results = await service.put_events(
        ACCOUNT, [entry(Time=moment.timestamp(), Resources=["arn:x"])]
    )
    await deliveries.drain()
    by_arn = {arn: (message, group, dedup) for arn, message, _, group, dedup in sink.sent}
    assert set(by_arn) == {QUEUE, QUEUE + ".fifo"}
    event = json.loads(by_arn[QUEUE][0])
    assert event == {
        "version": "0",
        "id": results[0].event_id,
        "detail-type": "order",
        "source": "my.app",
        "account": ACCOUNT,
        "time": "2026-01-02T03:04:05Z",
        "region": REGION,
        "resources": ["arn:x"],
        "detail": {"n": 1},
    }
    assert json.loads(by_arn[QUEUE + ".fifo"][0]) == {"count": 1, "rule": "orders"}
    assert by_arn[QUEUE + ".fifo"][1:] == ("g", results[0].event_id)


async def test_retries_then_dead_letter(
    service: EventsService, deliveries: Deliveries, sink: Sink
) -> None:
    await service.put_rule(ACCOUNT, "r", "default", event_pattern="{}")
    await service.put_targets(
        ACCOUNT,
        "r",
        "default",
        [
            {
                "Id": "t",
                "Arn": QUEUE,
                "RetryPolicy": {"MaximumRetryAttempts": 2},
                "DeadLetterConfig": {"Arn": DLQ},
            }
        ],
    )
    sink.failures = 2  # two failures, then the third try goes through
    await service.put_events(ACCOUNT, [entry()])
    await deliveries.drain()
    assert [arn for arn, *_ in sink.sent] == [QUEUE]
    sink.sent.clear()
    sink.failures = 3  # one more than the policy's retries: to the dead-letter queue
    await service.put_events(ACCOUNT, [entry()])
    await deliveries.drain()
    assert [arn for arn, *_ in sink.sent] == [DLQ]
    attributes = sink.sent[0][2] or {}
    assert attributes["RULE_ARN"].endswith(":rule/r")
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    sink.sent.clear()
    sink.failures = 0
    sink.refused.add(QUEUE)  # refused for good: no retry, straight to the dead letters
    await service.put_events(ACCOUNT, [entry()])
    await deliveries.drain()
    assert [(arn, (attrs or {})["ERROR_CODE"]) for arn, _, attrs, *_ in sink.sent] == [
        (DLQ, "NO_PERMISSIONS")
    ]


@pytest.fixture
async def claims(tmp_path: Path) -> AsyncIterator[SqlMetricRuns]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        yield SqlMetricRuns(db)
    finally:
        await db.close()


async def test_schedules_fire_once_per_period_across_gateways(
    service: EventsService, deliveries: Deliveries, sink: Sink, claims: SqlMetricRuns
) -> None:
    now = [NOW]
    await service.put_rule(ACCOUNT, "every5", "default", schedule="rate(5 minutes)")
    await service.put_rule(ACCOUNT, "noon", "default", schedule="cron(1 12 * * ? *)")
    for name in ("every5", "noon"):
        await service.put_targets(ACCOUNT, name, "default", [{"Id": "t", "Arn": QUEUE}])
    gateways = [
        Scheduler(service.store, claims, deliveries, holder=h, clock=lambda: now[0])
        for h in ("g1", "g2")
    ]
    created: list[tuple[str, float]] = []
    deliveries.measures = lambda _tenant, name, value, _unit, _bus: created.append((name, value))
    assert [await g.tick() for g in gateways] == [0, 0]  # nothing due at creation
    now[0] = NOW + timedelta(minutes=1)
    assert [await g.tick() for g in gateways] == [1, 0]  # the noon cron, by one gateway
    now[0] = NOW + timedelta(minutes=5, seconds=3)
    assert [await g.tick() for g in gateways] == [1, 0]  # the rate's first period
    assert [await g.tick() for g in gateways] == [0, 0]
    await deliveries.drain()
    events = [json.loads(message) for _, message, *_ in sink.sent]
    assert [e["resources"][0].rsplit("/", 1)[1] for e in events] == ["noon", "every5"]
    assert {(e["source"], e["detail-type"], json.dumps(e["detail"])) for e in events} == {
        ("aws.events", "Scheduled Event", "{}")
    }
    assert events[0]["time"] == "2026-12-05T12:01:00Z"
    # Decision 0341: each fired event's invocations, once (by the gateway that fired it).
    assert created.count(("InvocationsCreated", 1.0)) == 2
    await service.set_state(ACCOUNT, "every5", "default", "DISABLED")
    now[0] = NOW + timedelta(minutes=10, seconds=3)
    assert [await g.tick() for g in gateways] == [0, 0]
    # A cron (minute slots) turned into a rate (small slots): its periods counted afresh.
    await service.put_rule(ACCOUNT, "noon", "default", schedule="rate(1 minute)")
    now[0] = NOW + timedelta(minutes=11, seconds=3)
    assert [await g.tick() for g in gateways] == [1, 0]
