"""AWS/S3ObjectLambda request metrics (decisions 0399, 0411): recorded for an Object Lambda
access point whose configuration enables them, under ``AccessPointName`` and ``DataSourceARN``
(the function when it ran, the supporting access point when the request passed through); none
when disabled. The function's WriteGetObjectResponse calls are counted for the GET's access
point by the worker that holds the GET, whichever worker took them, refused or not."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials

from andromede.s3objectlambda.app import FunctionOutcome, ObjectLambdaApp
from andromede.s3objectlambda.metrics import NAMESPACE
from s3objectlambda.test_object_lambda_app import (
    World,
    fetch_input,
    signed,
    wait_for_socket,
    world,
    write_response,
)
from support.s3app import REGION

__all__ = ["world"]  # the fixture, shared with the app's tests


class Recorded:
    def __init__(self) -> None:
        self.points: list[tuple[str, str, str, dict[str, str], float, str]] = []

    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
        *,
        resolution: int = 60,
    ) -> None:
        self.points.append((tenant_id, namespace, name, dict(dimensions), value, unit))

    def named(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(dims, value) for _, _, n, dims, value, _ in self.points if n == name]


def with_metrics(world: World, sink: Recorded, folder: Path | None = None) -> ObjectLambdaApp:
    app = world.make(folder)
    app._metrics = sink  # the fixture's app, given a sink
    return app


async def enable_metrics(world: World) -> None:
    account = world.s3.tenant_id
    found = await world.points.get(account, "upper")
    assert found is not None
    enabled = dataclasses.replace(found.configuration, cloudwatch_metrics_enabled=True)
    await world.points.set_configuration(account, "upper", enabled)


async def test_metrics_of_an_enabled_access_point(world: World) -> None:
    account = world.s3.tenant_id
    found = await world.points.get(account, "upper")
    assert found is not None
    enabled = dataclasses.replace(found.configuration, cloudwatch_metrics_enabled=True)
    await world.points.set_configuration(account, "upper", enabled)
    sink = Recorded()
    app = with_metrics(world, sink)

    async def upper(event: dict[str, Any]) -> FunctionOutcome:
        original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
        assert (await write_response(world, event, original.body.upper(), to=app)).status == 200
        return FunctionOutcome(ok=True)

    world.handler.append(upper)
    credentials = world.s3.credentials
    assert credentials is not None
    got = await signed(app, credentials, "GET", world.host, "/notes.txt")
    assert got.status == 200
    function = f"arn:aws:lambda:{REGION}:{account}:function:upper"
    dims = {"AccessPointName": "upper", "DataSourceARN": function}
    assert {p[1] for p in sink.points} == {NAMESPACE}
    assert sink.named("AllRequests") == [(dims, 1)]
    assert sink.named("GetRequests") == [(dims, 1)]
    assert sink.named("InvokedLambda") == [(dims, 1)]
    assert sink.named("BytesDownloaded") == [(dims, 12)]
    assert sink.named("4xxErrors") == [(dims, 0)]
    sink.points.clear()
    missing = await signed(app, credentials, "HEAD", world.host, "/missing.txt")
    assert missing.status == 404
    supporting = {"AccessPointName": "upper",
        "DataSourceARN": f"arn:aws:s3:{REGION}:{account}:accesspoint/data-ap"}  # fmt: skip
    assert sink.named("ProxiedRequests") == [(supporting, 1)]
    assert sink.named("HeadRequests") == [(supporting, 1)]
    assert sink.named("4xxErrors") == [(supporting, 1)]


async def test_no_metrics_when_disabled(world: World) -> None:
    sink = Recorded()
    app = with_metrics(world, sink)
    credentials = world.s3.credentials
    assert credentials is not None
    assert (await signed(app, credentials, "HEAD", world.host, "/notes.txt")).status == 200
    assert sink.points == []


async def test_the_functions_answers_are_counted(world: World) -> None:
    """LambdaResponseRequests, LambdaResponse4xx/5xx: each call the function makes for the GET
    — refused for its token, for its signature (before its body is read), or taken."""
    await enable_metrics(world)
    sink = Recorded()
    app = with_metrics(world, sink)
    credentials = world.s3.credentials
    assert credentials is not None
    forged = Credentials(credentials.access_key, "not-the-secret", credentials.token)

    async def upper(event: dict[str, Any]) -> FunctionOutcome:
        original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
        wrong = await write_response(world, event, b"x", token="not-the-token", to=app)
        assert wrong.status == 400
        world.s3.credentials = forged
        try:
            unsigned = await write_response(world, event, b"x", to=app)
        finally:
            world.s3.credentials = credentials
        assert unsigned.status == 403
        assert (await write_response(world, event, original.body.upper(), to=app)).status == 200
        return FunctionOutcome(ok=True)

    world.handler.append(upper)
    got = await signed(app, credentials, "GET", world.host, "/notes.txt")
    assert (got.status, got.body) == (200, b"HELLO OBJECT")
    function = f"arn:aws:lambda:{REGION}:{world.s3.tenant_id}:function:upper"
    dims = {"AccessPointName": "upper", "DataSourceARN": function}
    assert sink.named("LambdaResponseRequests") == [(dims, 1)] * 3
    assert sorted(v for _, v in sink.named("LambdaResponse4xx")) == [0, 1, 1]
    assert [v for _, v in sink.named("LambdaResponse5xx")] == [0, 0, 0]
    # An answer once the GET is over names no access point any more: not counted.
    sink.points.clear()
    late = await write_response(world, world.events[-1], b"late", to=app)
    assert late.status == 400
    assert sink.named("LambdaResponseRequests") == []


async def test_answers_taken_by_another_worker_are_counted_by_the_gets(
    world: World, tmp_path: Path
) -> None:
    await enable_metrics(world)
    folder = tmp_path / "ol"
    holding_sink, other_sink = Recorded(), Recorded()
    holding = with_metrics(world, holding_sink, folder)
    other = with_metrics(world, other_sink, folder)
    ends = [asyncio.create_task(app.serve_exchange()) for app in (holding, other)]
    credentials = world.s3.credentials
    assert credentials is not None
    forged = Credentials(credentials.access_key, "not-the-secret", credentials.token)
    try:
        for app in (holding, other):
            await wait_for_socket(folder / f"{app.rendezvous.tag}.sock")

        async def upper(event: dict[str, Any]) -> FunctionOutcome:
            original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
            world.s3.credentials = forged
            try:
                refused = await write_response(world, event, b"x", to=other)
            finally:
                world.s3.credentials = credentials
            assert refused.status == 403
            answer = await write_response(world, event, original.body.upper(), to=other)
            assert answer.status == 200
            return FunctionOutcome(ok=True)

        world.handler.append(upper)
        got = await signed(holding, credentials, "GET", world.host, "/notes.txt")
        assert (got.status, got.body) == (200, b"HELLO OBJECT")
    finally:
        for end in ends:
            end.cancel()
        await asyncio.gather(*ends, return_exceptions=True)
    assert other_sink.named("LambdaResponseRequests") == []
    assert len(holding_sink.named("LambdaResponseRequests")) == 2
    assert sorted(v for _, v in holding_sink.named("LambdaResponse4xx")) == [0, 1]


async def test_bytes_uploaded_through_the_access_point(world: World) -> None:
    await enable_metrics(world)
    sink = Recorded()
    app = with_metrics(world, sink)
    credentials = world.s3.credentials
    assert credentials is not None
    put = await signed(app, credentials, "PUT", world.host, "/new.txt", b"fresh bytes")
    assert put.status == 200, put.body
    source = f"arn:aws:s3:{REGION}:{world.s3.tenant_id}:accesspoint/data-ap"
    supporting = {"AccessPointName": "upper", "DataSourceARN": source}
    assert sink.named("BytesUploaded") == [(supporting, len(b"fresh bytes"))]
    assert sink.named("PutRequests") == [(supporting, 1)]
    sink.points.clear()
    assert (await signed(app, credentials, "HEAD", world.host, "/new.txt")).status == 200
    assert sink.named("BytesUploaded") == []  # no body, no point
