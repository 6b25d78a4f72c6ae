"""AWS/S3ObjectLambda request metrics (decision 0399): recorded for an Object Lambda access
point whose configuration enables them, under ``AccessPointName`` and ``DataSourceARN`` (the
function when it ran, the supporting access point when the request passed through); none
when disabled."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from andromede.s3objectlambda.app import FunctionOutcome, ObjectLambdaApp
from andromede.s3objectlambda.metrics import NAMESPACE
from s3objectlambda.test_object_lambda_app import World, fetch_input, signed, world, write_response
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


def with_metrics(world: World, sink: Recorded) -> ObjectLambdaApp:
    app = world.make(None)
    app._metrics = sink  # the fixture's app, given a sink
    return app


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
