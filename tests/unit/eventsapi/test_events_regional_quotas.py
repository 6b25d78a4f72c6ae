"""Decision 0402: EventBridge's quotas are an account's in a Region, as AWS counts them — in
process, built as ``serve`` builds EventBridge for two Regions (``support.regional_events``:
the SQL stores on SQLite), called with botocore's SigV4 in each Region. With every quota at
one, an account at the quota in one Region still creates in the other, and is refused
there, ``LimitExceededException``, once at the quota within it: custom buses (the Region's
configured default bus not among them), archives, replays not finished, connections and
API destinations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.settings import Settings
from support.metric_sinks import RecordingSink
from support.regional_events import RegionalEvents, regional_events

HOME = "eu-fr-1"
OTHER = "eu-de-1"
API_KEY = {"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "k"}}


class NoQueues:
    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no queue or topic here")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[RegionalEvents]:
    settings = Settings(
        data_dir=tmp_path,
        region=HOME,
        regions=[{"name": HOME}, {"name": OTHER}],
        events_max_buses=1,
        events_max_archives=1,
        events_max_active_replays=1,
        events_max_connections=1,
        events_max_api_destinations=1,
    )
    async with regional_events(settings, NoQueues(), metrics=RecordingSink()) as built:
        yield built


Make = Callable[[str, str], Awaitable[tuple[int, dict[str, Any]]]]


async def _one_a_region(make: Make) -> None:
    """``make(region, name)`` once in the default Region, refused a second time there;
    then once in the other Region (the default's not counted), refused a second time."""
    for region in (HOME, OTHER):
        status, answer = await make(region, "first")
        assert status == 200, (region, answer)
        status, answer = await make(region, "second")
        assert (status, answer["__type"]) == (400, "LimitExceededException"), (region, answer)


async def test_custom_buses_are_counted_a_region(world: RegionalEvents) -> None:
    """``events_max_buses``; a Region's default bus, its row made by its tags, is none."""
    for region in (HOME, OTHER):
        tags = {"ResourceARN": world.bus(region, "default"), "Tags": [{"Key": "k", "Value": "v"}]}
        await world.ok(region, "TagResource", tags)

    async def bus(region: str, name: str) -> tuple[int, dict[str, Any]]:
        return await world.call(region, "CreateEventBus", {"Name": name})

    await _one_a_region(bus)


async def test_archives_are_counted_a_region(world: RegionalEvents) -> None:
    """``events_max_archives``."""

    async def archive(region: str, name: str) -> tuple[int, dict[str, Any]]:
        made = {"ArchiveName": name, "EventSourceArn": world.bus(region, "default")}
        return await world.call(region, "CreateArchive", made)

    await _one_a_region(archive)


async def test_replays_not_finished_are_counted_a_region(world: RegionalEvents) -> None:
    """``events_max_active_replays``: each Region's first replay, STARTING (no runner
    here), keeps that Region at its quota and no other."""
    for region in (HOME, OTHER):
        source = world.bus(region, "default")
        await world.ok(region, "CreateArchive", {"ArchiveName": "a", "EventSourceArn": source})
    now = datetime.now(UTC)

    async def replay(region: str, name: str) -> tuple[int, dict[str, Any]]:
        started = {
            "ReplayName": name,
            "EventSourceArn": world.arn(region, "events", "archive/a"),
            "EventStartTime": (now - timedelta(hours=1)).timestamp(),
            "EventEndTime": now.timestamp(),
            "Destination": {"Arn": world.bus(region, "default")},
        }
        return await world.call(region, "StartReplay", started)

    await _one_a_region(replay)


async def test_connections_and_api_destinations_are_counted_a_region(
    world: RegionalEvents,
) -> None:
    """``events_max_connections`` and ``events_max_api_destinations``."""

    async def connection(region: str, name: str) -> tuple[int, dict[str, Any]]:
        made = {"Name": name, "AuthorizationType": "API_KEY", "AuthParameters": API_KEY}
        return await world.call(region, "CreateConnection", made)

    await _one_a_region(connection)
    arns = {
        region: (await world.ok(region, "DescribeConnection", {"Name": "first"}))["ConnectionArn"]
        for region in (HOME, OTHER)
    }

    async def destination(region: str, name: str) -> tuple[int, dict[str, Any]]:
        made = {
            "Name": name,
            "ConnectionArn": arns[region],
            "InvocationEndpoint": "https://hooks.example.com/*",
            "HttpMethod": "POST",
        }
        return await world.call(region, "CreateApiDestination", made)

    await _one_a_region(destination)
