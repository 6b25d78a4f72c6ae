"""Decision 0408: Pipes in each Region the gateway serves, as ``serve`` wires them beside
EventBridge for two declared Regions over the SQL store — each Region's pipes apart (a name
in each, ARNs of their Region, listings, the quota a Region's), a pipe of eu-de-1 naming only
what its Region serves and refused another Region's ARN, and its API destinations found,
authorised (its role's trust seeing the pipe's ARN of eu-de-1) and called with the
connection of its own Region. Decision 0414: its Region's SQS queues as source and target."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.events.dispatcher import DeliveryRefused
from andromede.events.model import Target
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.pipe_roles import PipeRoles
from andromede.pipes.errors import InvalidPipe, QuotaExceeded
from andromede.pipes.model import Pipe
from andromede.pipes.service import ListFilter, PipesService
from andromede.pipesapi.app import PipesApp
from andromede.pipesapi.errors import to_pipes_error
from andromede.queues.service import QueueService
from andromede.settings import RegionSettings, Settings
from andromede.wiring.events import EventsParts
from andromede.wiring.pipes import PipesMetering, pipe_api_invoker, pipes_api
from andromede.wiring.queues import queue_service
from support.api_destinations import JsonEndpoint, json_endpoint
from support.firehoseapp import RecordingSink
from support.pipesapp import PIPE_POLICY, allow
from support.schema import migrated_sqlite

FR, DE = "eu-fr-1", "eu-de-1"


@dataclass
class Deployed:
    settings: Settings
    identity: IdentityService
    tenant: str
    events: EventsParts
    home: PipesService
    de: PipesService
    queues: QueueService


@pytest.fixture
def endpoint() -> Iterator[JsonEndpoint]:
    with json_endpoint(lambda path, body: {}) as seen:
        yield seen


@contextlib.asynccontextmanager
async def deployed(tmp_path: Path) -> AsyncIterator[Deployed]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region=FR,
        regions=(RegionSettings(name=FR), RegionSettings(name=DE)),
        pipes_poll_interval=0.05,
        pipes_max_pipes=2,
        events_api_destination_allow_http=True,
        events_api_destination_allow_cidrs=("127.0.0.0/8",),
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit = AuditService(MemoryAuditStore())
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    queues = queue_service(settings, db, keys)  # each Region's queues (decision 0414)
    no_targets = SimpleNamespace(roles=None)
    events = EventsParts(settings, db, no_targets, identity=identity)  # type: ignore[arg-type]
    apis: dict[str, Any] = {}
    task, _ = pipes_api(apis, settings, db, identity, audit, None, None, queues, None,
                        events.regions, events.regional_connections)  # fmt: skip
    app = apis["pipes"]
    assert isinstance(app, PipesApp)
    try:
        yield Deployed(
            settings, identity, boot.tenant.id, events, app.service, app.regional(DE), queues
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await audit.close()
        keys.close()
        await db.close()


async def _destination(world: Deployed, region: str, key: str, port: int) -> str:
    connections = world.events.regional_connections[region]
    auth = {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": key}}
    connection = await connections.create_connection(world.tenant, "c", "API_KEY", auth)
    made = await connections.create_destination(
        world.tenant, "d", connection.arn, f"http://127.0.0.1:{port}/hook", "POST"
    )
    return made.arn


def _stream(tenant: str, region: str) -> str:
    return f"arn:aws:dynamodb:{region}:{tenant}:table/t/stream/2026-12-07T00:00:00.000"


async def test_each_regions_pipes_are_apart_and_name_only_what_it_serves(
    tmp_path: Path, endpoint: JsonEndpoint
) -> None:
    async with deployed(tmp_path) as world:
        tenant, de = world.tenant, world.de
        assert (world.home.region, de.region) == (FR, DE)
        home_destination = await _destination(world, FR, "k-fr", endpoint.port)
        destination = await _destination(world, DE, "k-de", endpoint.port)
        role = f"arn:aws:iam::{tenant}:role/r"
        stream = {"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}}
        made = {
            "Source": _stream(tenant, DE),
            "SourceParameters": stream,
            "Target": destination,
            "RoleArn": role,
        }
        refusals = {
            "another Region's API destination": {**made, "Target": home_destination},
            "another Region's enrichment": {**made, "Enrichment": home_destination},
            "an SQS source of the default Region": {
                **made,
                "Source": f"arn:aws:sqs:{FR}:{tenant}:q",
                "SourceParameters": {},
            },
            "an SNS target": {**made, "Target": f"arn:aws:sns:{DE}:{tenant}:t"},
            "a Kinesis target": {
                **made,
                "Target": f"arn:aws:kinesis:{DE}:{tenant}:stream/s",
                "TargetParameters": {"KinesisStreamParameters": {"PartitionKey": "k"}},
            },
            "a dead-letter queue of the default Region": {
                **made,
                "SourceParameters": {
                    "DynamoDBStreamParameters": {
                        "StartingPosition": "LATEST",
                        "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{FR}:{tenant}:dlq"},
                    }
                },
            },
            "a log configuration": {
                **made,
                "LogConfiguration": {
                    "Level": "ERROR",
                    "CloudwatchLogsLogDestination": {
                        "LogGroupArn": f"arn:aws:logs:{DE}:{tenant}:log-group:g"
                    },
                },
            },
        }
        for why, params in refusals.items():
            with pytest.raises(InvalidPipe) as refused:
                await de.create(tenant, "p", params)
            wire = to_pipes_error(refused.value)
            assert wire is not None and wire.error_type == "ValidationException", why
        for name in ("p", "q"):
            await de.create(tenant, name, {**made, "Enrichment": destination})
        # The quota is a Region's (2 here): eu-de-1's two do not count in eu-fr-1.
        with pytest.raises(QuotaExceeded):
            await de.create(tenant, "r", made)
        home_made = {**made, "Source": _stream(tenant, FR), "Target": home_destination}
        await world.home.create(tenant, "p", home_made)
        ours = await de.get(tenant, "p")
        assert ours.arn == f"arn:aws:pipes:{DE}:{tenant}:pipe/p" and ours.target == destination
        assert (await world.home.get(tenant, "p")).arn == f"arn:aws:pipes:{FR}:{tenant}:pipe/p"
        assert [p.name for p in (await de.list(tenant, ListFilter(), None, 10))[0]] == ["p", "q"]
        assert [p.name for p in (await world.home.list(tenant, ListFilter(), None, 10))[0]] == ["p"]
        await _settled(de, tenant, "q")
        with pytest.raises(InvalidPipe):  # an update is held to the same rules
            await de.update(tenant, "q", {"RoleArn": role, "Target": home_destination})
        await de.delete(tenant, "p")
        assert (await world.home.get(tenant, "p")).region == FR


async def _settled(service: PipesService, tenant: str, name: str) -> None:
    for _ in range(200):
        if (await service.get(tenant, name)).current_state.value == "RUNNING":
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{name} never settled")


async def test_a_pipes_api_destination_is_its_own_regions(
    tmp_path: Path, endpoint: JsonEndpoint
) -> None:
    """The invoker of eu-de-1's pipes calls eu-de-1's destination with eu-de-1's key, its
    role judged for the pipe's ARN of eu-de-1 (the trust policy names it); the default
    Region's destination (a namesake) is no resource of eu-de-1's pipes."""
    async with deployed(tmp_path) as world:
        tenant = world.tenant
        home_destination = await _destination(world, FR, "k-fr", endpoint.port)
        destination = await _destination(world, DE, "k-de", endpoint.port)
        pipe_arn = f"arn:aws:pipes:{DE}:{tenant}:pipe/p"
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pipes.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"ArnLike": {"aws:SourceArn": pipe_arn}},
                }
            ],
        }
        role = await world.identity.create_role(tenant, "r", json.dumps(trust))
        await world.identity.put_role_policy(
            tenant, "r", "invoke", allow("events:InvokeApiDestination")
        )
        connections = world.events.regional_connections[DE]
        invoker = pipe_api_invoker(world.settings, connections, PipeRoles(world.identity, DE), DE)
        assert invoker is not None
        target = Target("pipe", destination, {"RoleArn": role.arn})
        await invoker.send(tenant, target, '{"n": 1}', source_arn=pipe_arn)
        ((path, headers, body),) = endpoint.requests
        assert (path, headers["x-api-key"], body) == ("/hook", "k-de", {"n": 1})
        with pytest.raises(DeliveryRefused) as refused:
            home = dataclasses.replace(target, arn=home_destination)
            await invoker.send(tenant, home, "{}", source_arn=pipe_arn)
        assert refused.value.code == "NO_RESOURCE"
        # The role's trust names eu-de-1's pipe: judged for the default Region's, refused.
        home_invoker = pipe_api_invoker(
            world.settings, connections, PipeRoles(world.identity, FR), FR
        )
        assert home_invoker is not None
        with pytest.raises(DeliveryRefused) as refused:
            await home_invoker.send(tenant, target, "{}", source_arn=pipe_arn)
        assert refused.value.code == "NO_PERMISSIONS"
        assert len(endpoint.requests) == 1


async def test_a_pipe_of_another_region_moves_its_regions_queue(tmp_path: Path) -> None:
    """Decision 0414: a pipe of eu-de-1 reads eu-de-1's queue ``in`` and sends to eu-de-1's
    queue ``out``; the default Region's namesakes are neither read nor written."""
    async with deployed(tmp_path) as world:
        tenant = world.tenant
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pipes.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = await world.identity.create_role(tenant, "mover", json.dumps(trust))
        await world.identity.put_role_policy(tenant, "mover", "sqs", PIPE_POLICY)
        de_queues = world.queues.in_region(DE)
        assert de_queues is not None and de_queues is not world.queues
        made = {}
        for region, queues in ((FR, world.queues), (DE, de_queues)):
            for name in ("in", "out"):
                made[region, name] = await queues.create_queue(tenant, name, {})
        await world.queues.send_message(made[FR, "in"], "fr", {}, {}, None, tenant)
        await de_queues.send_message(made[DE, "in"], "de", {}, {}, None, tenant)
        await world.de.create(
            tenant,
            "p",
            {"Source": made[DE, "in"].arn, "Target": made[DE, "out"].arn, "RoleArn": role.arn},
        )
        got: list[Any] = []
        for _ in range(400):
            got = await de_queues.receive(made[DE, "out"], max_messages=10, visibility=0, wait=0)
            if got:
                break
            await asyncio.sleep(0.05)
        assert [json.loads(m.payload.body)["body"] for m in got] == ["de"]
        left = await world.queues.receive(made[FR, "in"], max_messages=10, visibility=0, wait=0)
        assert [m.payload.body for m in left] == ["fr"]
        assert (
            await world.queues.receive(made[FR, "out"], max_messages=10, visibility=0, wait=0) == []
        )


def test_another_regions_pipe_metrics_are_its_own_series() -> None:
    sink = RecordingSink()
    pipe = Pipe("111111111111", "p", DE, "", {}, "", {}, "")
    PipesMetering(None, DE, sink, home=FR).executed(pipe, 1, 10, False, 1.0)
    PipesMetering(None, FR, sink, home=FR).executed(pipe, 1, 10, False, 1.0)
    owners = {point[0] for point in sink.points}
    assert owners == {"111111111111~eu-de-1", "111111111111"}
