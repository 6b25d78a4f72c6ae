"""Decision 0397: scheduled rules, archives and replays in a Region other than the default —
in process, built as ``serve`` builds EventBridge (``support.regional_events``: the SQL
stores on SQLite, the durable deliveries, the identity service), called with botocore's SigV4
in each Region. A Region's scheduled rule fires there (its own scheduler, its event of that
Region) and not by another Region's; an archive of one name in two Regions is two archives,
each listed, counted and replayed in its own Region, the replay routed by that Region's
rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.events.scheduler import Scheduler
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.settings import Settings
from support.metric_sinks import RecordingSink
from support.regional_events import ENTRY, PATTERN, RegionalEvents, regional_events

HOME = "eu-fr-1"
OTHER = "eu-de-1"


class Queues:
    """The deliveries' queue-and-topic sink: what each queue was sent."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        self.sent.setdefault(arn, []).append(json.loads(message))


@dataclass
class World(RegionalEvents):
    queues: Queues

    async def central(self) -> tuple[str, str]:
        """The default Region's bus ``central`` whose rule hands every event to a queue, and
        a role allowed to put events there: (queue ARN, role ARN)."""
        await self.ok(HOME, "CreateEventBus", {"Name": "central"})
        queue = self.arn(HOME, "sqs", "central")
        every = json.dumps({"account": [self.account]})
        await self.ok(
            HOME, "PutRule", {"Name": "in", "EventBusName": "central", "EventPattern": every}
        )
        target = {"Id": "q", "Arn": queue}
        await self.ok(
            HOME, "PutTargets", {"Rule": "in", "EventBusName": "central", "Targets": [target]}
        )
        return queue, await self.role("send", "events:PutEvents")

    def scheduler(self, region: str, now: datetime) -> Scheduler:
        """A scheduler of ``region``'s rules (as ``serve`` runs one a Region), at ``now``."""
        return Scheduler(
            self.parts.regions[region].store,
            SqlMetricRuns(self.db),
            self.parts.deliveries,
            holder="test",
            clock=lambda: now,
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        region=HOME,
        regions=[{"name": HOME}, {"name": OTHER}],
        events_delivery_retry_base=0.001,
    )
    queues = Queues()
    async with regional_events(settings, queues, metrics=RecordingSink()) as built:
        yield World(**vars(built), queues=queues)


async def test_a_scheduled_rule_fires_in_its_region(world: World) -> None:
    """A rate rule of eu-de-1 is fired by eu-de-1's scheduler, once a period: its ``Scheduled
    Event`` of that Region and rule, sent on to the default Region's bus and its queue. The
    default Region's scheduler does not see it, nor eu-de-1's the default Region's rule."""
    queue, role = await world.central()
    made = await world.ok(
        OTHER, "PutRule", {"Name": "tick", "ScheduleExpression": "rate(1 minute)"}
    )
    rule_arn = world.arn(OTHER, "events", "rule/tick")
    assert made["RuleArn"] == rule_arn
    central = {"Id": "c", "Arn": world.bus(HOME, "central"), "RoleArn": role}
    await world.ok(OTHER, "PutTargets", {"Rule": "tick", "Targets": [central]})
    described = await world.ok(OTHER, "DescribeRule", {"Name": "tick"})
    assert described["ScheduleExpression"] == "rate(1 minute)"
    await world.ok(HOME, "PutRule", {"Name": "home-tick", "ScheduleExpression": "rate(1 minute)"})

    later = datetime.now(UTC) + timedelta(seconds=61)  # past the first period, from now
    assert await world.scheduler(HOME, later).tick() == 1  # the default Region's own rule
    assert await world.scheduler(OTHER, later).tick() == 1
    assert await world.scheduler(OTHER, later).tick() == 0  # the period is claimed
    await world.parts.deliveries.drain()
    (event,) = world.queues.sent.pop(queue)
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")
    assert (event["region"], event["resources"]) == (OTHER, [rule_arn])


async def test_serve_runs_a_scheduler_for_each_region(world: World) -> None:
    """``serve``'s background tasks hold one scheduler a declared Region (the rules of
    another Region are read through its view only), all stopped with the others."""
    tasks = world.parts.background("test")
    try:
        names = sorted(t.get_name() for t in tasks if t.get_name().startswith("events-sched"))
        assert names == [f"events-schedules-{OTHER}", f"events-schedules-{HOME}"]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert all(task.done() for task in tasks)


async def test_archives_and_replays_are_each_regions_own(world: World) -> None:
    """An archive of one name in two Regions is two archives (each its Region's ARN, listed
    there only); eu-de-1's keeps eu-de-1's events, and its replay, listed in eu-de-1 only,
    puts them back on eu-de-1's bus, whose rule sends them on (``replay-name`` added)."""
    queue, role = await world.central()
    for region in (HOME, OTHER):
        source = world.bus(region, "default")
        await world.ok(region, "CreateArchive", {"ArchiveName": "a", "EventSourceArn": source})
    for region in (HOME, OTHER):
        listed = (await world.ok(region, "ListArchives", {}))["Archives"]
        assert [(a["ArchiveName"], a["EventSourceArn"]) for a in listed] == [
            ("a", world.bus(region, "default"))
        ]
        described = await world.ok(region, "DescribeArchive", {"ArchiveName": "a"})
        assert described["ArchiveArn"] == world.arn(region, "events", "archive/a")
    # The archive's managed rule is of its Region's bus.
    rules = (await world.ok(OTHER, "ListRules", {}))["Rules"]
    assert [r["Arn"] for r in rules] == [world.arn(OTHER, "events", "rule/Events-Archive-a")]

    central = {"Id": "c", "Arn": world.bus(HOME, "central"), "RoleArn": role}
    await world.ok(OTHER, "PutRule", {"Name": "out", "EventPattern": PATTERN})
    await world.ok(OTHER, "PutTargets", {"Rule": "out", "Targets": [central]})
    before = datetime.now(UTC) - timedelta(minutes=1)
    put = await world.ok(OTHER, "PutEvents", {"Entries": [ENTRY]})
    event_id = put["Entries"][0]["EventId"]
    await world.parts.deliveries.drain()
    assert [e["id"] for e in world.queues.sent.pop(queue)] == [event_id]
    counts = {
        region: (await world.ok(region, "DescribeArchive", {"ArchiveName": "a"}))["EventCount"]
        for region in (HOME, OTHER)
    }
    assert counts == {HOME: 0, OTHER: 1}

    replay = {
        "ReplayName": "again",
        "EventSourceArn": world.arn(OTHER, "events", "archive/a"),
        "EventStartTime": before.timestamp(),
        "EventEndTime": (datetime.now(UTC) + timedelta(minutes=1)).timestamp(),
        "Destination": {"Arn": world.bus(OTHER, "default")},
    }
    started = await world.ok(OTHER, "StartReplay", replay)
    assert started["ReplayArn"] == world.arn(OTHER, "events", "replay/again")
    assert (await world.ok(HOME, "ListReplays", {}))["Replays"] == []
    code, _ = await world.refused(HOME, "DescribeReplay", {"ReplayName": "again"})
    assert code == "ResourceNotFoundException"
    await world.parts.replays("test").drain()
    await world.parts.deliveries.drain()
    (replayed,) = world.queues.sent.pop(queue)
    assert (replayed["id"], replayed["region"], replayed["replay-name"]) == (
        event_id,
        OTHER,
        "again",
    )
    done = await world.ok(OTHER, "DescribeReplay", {"ReplayName": "again"})
    assert done["State"] == "COMPLETED"
    listed = (await world.ok(OTHER, "ListReplays", {}))["Replays"]
    assert [r["ReplayName"] for r in listed] == ["again"]
    # Replayed events are not archived again; the default Region's archive stays empty.
    counts = {
        region: (await world.ok(region, "DescribeArchive", {"ArchiveName": "a"}))["EventCount"]
        for region in (HOME, OTHER)
    }
    assert counts == {HOME: 0, OTHER: 1}
    await world.ok(OTHER, "DeleteArchive", {"ArchiveName": "a"})
    assert [a["ArchiveName"] for a in (await world.ok(HOME, "ListArchives", {}))["Archives"]] == [
        "a"
    ]
