"""Decision 0268's enrichment: an API destination of the account accepted as a pipe's
``Enrichment`` with its ``EnrichmentParameters`` (described back, replaced or removed by
UpdatePipe), API Gateway enrichments refused by name; the runner
sends a batch's events past the filters, one JSON array shaped by the enrichment's template,
and passes the events of its answer to the target (none for an empty answer); a failed
enrichment leaves the batch's messages in the queue and is logged as AWS logs it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest

from andromede.events.dispatcher import DeliveryRefused
from andromede.events.model import Target
from andromede.pipe_enrichments import EnrichmentFailed, PipeEnrichments
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.pipes.shaping import batch_payload, enriched_events
from support.pipesapp import REGION, World, allow


class ScriptedEnricher:
    """A ``PipeEnricher`` answering what it is told, keeping what it was sent."""

    def __init__(self, *answers: bytes | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, Any]] = []

    async def enrich(
        self, pipe: Pipe, payload: str, first: Any, *, trace: str | None = None
    ) -> bytes:
        self.sent.append((payload, first))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Logged:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def write(self, pipe: Pipe, records: Sequence[dict[str, Any]]) -> None:
        self.records += records


def runner(world: World, enricher: ScriptedEnricher, logs: Logged | None = None) -> PipesRunner:
    roles = PipeRoles(world.identity, REGION)
    return PipesRunner(
        world.pipes,
        PipeSources(roles, world.queues, lambda: None, REGION),
        PipeTargets(roles, world.queues, None, None, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(),
        "gateway-x",
        logs=logs,
        enricher=enricher,
    )


def destination(world: World, name: str = "lookup") -> str:
    return f"arn:aws:events:{REGION}:{world.tenant_id}:api-destination/{name}/0f1e"


def test_an_answer_gives_the_events_passed_on() -> None:
    assert enriched_events(b'[{"a":1},{"b":2}]') == [{"a": 1}, {"b": 2}]
    assert enriched_events(b'{"a":1}') == [{"a": 1}]
    for empty in (b"", b'""', b"{}", b"[]", b"  "):
        assert enriched_events(empty) == []
    assert enriched_events(b"[{}]") == [{}]  # AWS: how to call the target with an empty one
    assert enriched_events(b"plain words") == ["plain words"]
    assert batch_payload(['{"a":1}', "text"]) == '[{"a":1},"text"]'


async def test_an_api_destination_enrichment_is_kept_and_described(world: World) -> None:
    source = await world.queue("in")
    role = await world.role()
    enrichment = destination(world)
    params = {
        "InputTemplate": '{"id": <$.body.id>}',
        "HttpParameters": {
            "PathParameterValues": ["$.body.id"],
            "HeaderParameters": {"X-Team": "blue"},
            "QueryStringParameters": {"v": "2"},
        },
    }
    await world.client(
        "CreatePipe",
        Name="p",
        Source=source,
        Target=source,
        RoleArn=role,
        Enrichment=enrichment,
        EnrichmentParameters=params,
    )
    described = await world.client("DescribePipe", Name="p")
    assert described["Enrichment"] == enrichment
    assert described["EnrichmentParameters"] == params
    await world.runner.run_pass()  # settled
    await world.client("UpdatePipe", Name="p", RoleArn=role, Description="kept")
    assert (await world.client("DescribePipe", Name="p"))["EnrichmentParameters"] == params
    await world.runner.run_pass()
    await world.client("UpdatePipe", Name="p", RoleArn=role, Enrichment="")
    described = await world.client("DescribePipe", Name="p")
    assert "Enrichment" not in described and "EnrichmentParameters" not in described


async def test_other_enrichments_are_refused_by_name(world: World) -> None:
    source = await world.queue("in")
    role = await world.role()
    base = {"Name": "p", "Source": source, "Target": source, "RoleArn": role}
    for arn, named in (
        (f"arn:aws:execute-api:{REGION}:{world.tenant_id}:a1/prod/GET/x", "API Gateway"),
    ):
        refused = await world.fails("CreatePipe", "ValidationException", **base, Enrichment=arn)
        assert named in refused.message and "not supported" in refused.message
        assert refused.body["fieldList"][0]["name"] == "enrichment"
    foreign = destination(world).replace(world.tenant_id, "999999999999")
    await world.fails("CreatePipe", "ValidationException", **base, Enrichment=foreign)
    refused = await world.fails(
        "CreatePipe",
        "ValidationException",
        **base,
        EnrichmentParameters={"InputTemplate": "{}"},
    )
    assert "requires an Enrichment" in refused.message
    assert (await world.client("ListPipes"))["Pipes"] == []


async def test_the_batch_is_enriched_and_its_answer_sent(world: World) -> None:
    source = await world.queue("in")
    target = await world.queue("out")
    role = await world.role()
    await world.client(
        "CreatePipe",
        Name="p",
        Source=source,
        Target=target,
        RoleArn=role,
        Enrichment=destination(world),
        EnrichmentParameters={"InputTemplate": '{"id": <$.body.id>}'},
        SourceParameters={
            "FilterCriteria": {"Filters": [{"Pattern": '{"body": {"id": [{"exists": true}]}}'}]},
        },
        TargetParameters={"InputTemplate": '{"seen": "<$.name>"}'},
    )
    enricher = ScriptedEnricher(b'[{"name": "ann"}, {"name": "bob"}, {"name": "cy"}]', b"[]")
    logs = Logged()
    run = runner(world, enricher, logs)
    await run.run_pass()
    for body in ({"id": 1}, {"id": 2}, {"other": 3}):
        await world.send("in", json.dumps(body))
    assert await run.run_pass() == 3
    ((payload, first),) = enricher.sent
    assert json.loads(payload) == [{"id": 1}, {"id": 2}]  # past the filter, templated
    assert first["body"] == {"id": 1}
    assert sorted(json.loads(b)["seen"] for b in await world.bodies("out")) == ["ann", "bob", "cy"]
    assert await world.bodies("in") == []  # all deleted: sent, or filtered out
    # An empty answer filters them all out: nothing sent, the messages done with.
    await world.send("in", json.dumps({"id": 4}))
    assert await run.run_pass() == 0
    assert len(enricher.sent) == 2 and await world.bodies("out") == []
    assert await world.bodies("in") == []


async def test_a_failed_enrichment_leaves_the_batch(world: World) -> None:
    source = await world.queue("in")
    target = await world.queue("out")
    role = await world.role()
    await world.client(
        "CreatePipe",
        Name="p",
        Source=source,
        Target=target,
        RoleArn=role,
        Enrichment=destination(world),
        LogConfiguration={
            "Level": "TRACE",
            "CloudwatchLogsLogDestination": {
                "LogGroupArn": f"arn:aws:logs:{REGION}:{world.tenant_id}:log-group:g"
            },
        },
    )
    enricher = ScriptedEnricher(RuntimeError("HTTP500: the endpoint answered 500"))
    logs = Logged()
    run = runner(world, enricher, logs)
    await run.run_pass()
    await world.send("in", json.dumps({"id": 1}))
    assert await run.run_pass() == 0
    assert await world.bodies("out") == []
    assert [r["messageType"] for r in logs.records] == [
        "ExecutionStarted",
        "EnrichmentStageEntered",
        "EnrichmentInvocationFailed",
        "EnrichmentStageFailed",
        "ExecutionFailed",
    ]
    failed = logs.records[2]
    assert failed["logLevel"] == "ERROR"
    assert failed["error"]["resourceArn"] == destination(world)
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    shown = await world.queues.queue_attributes(queue, ["ApproximateNumberOfMessagesNotVisible"])
    assert shown["ApproximateNumberOfMessagesNotVisible"] == "1"  # left, back after its timeout


async def test_the_enrichers_failures_are_told_apart(world: World) -> None:
    """A destination gone or a role refused is the pipe's StateReason (EndpointRefused); an
    answer of 4xx, 5xx or one too large fails the execution only (retried by the source)."""
    role = await world.role(policy=allow("events:InvokeApiDestination"))
    pipe = Pipe(
        world.tenant_id, "p", REGION, "", {}, "", {}, role, enrichment=destination(world),
        enrichment_parameters={"HttpParameters": {"PathParameterValues": ["$.body.id"],
                                                  "QueryStringParameters": {"o": "$.body"}}},
    )  # fmt: skip
    calls: list[Target] = []

    def answering(error: Exception | None) -> PipeEnrichments:
        async def call(
            tenant_id: str,
            target: Target,
            message: str,
            *,
            source_arn: str | None = None,
            trace: str | None = None,
        ) -> bytes:
            calls.append(target)
            if error is not None:
                raise error
            return b"[1]"

        return PipeEnrichments(PipeRoles(world.identity, REGION), call)

    assert await answering(None).enrich(pipe, "[]", {"body": {"id": 9}}) == b"[1]"
    assert calls[0].spec["HttpParameters"] == {
        "PathParameterValues": ["9"],
        "QueryStringParameters": {"o": '{"id":9}'},  # a JSON value as its JSON
    }
    assert calls[0].spec["RoleArn"] == role
    for code in ("NO_RESOURCE", "ConnectionDeauthorized", "InvalidEndpoint"):
        with pytest.raises(EndpointRefused):
            await answering(DeliveryRefused(code, "x")).enrich(pipe, "[]", {"body": {"id": 1}})
    for code in ("HTTP400", "ResponseTooLarge"):
        with pytest.raises(EnrichmentFailed, match=code):
            await answering(DeliveryRefused(code, "x")).enrich(pipe, "[]", {"body": {"id": 1}})
    with pytest.raises(EndpointRefused, match="no value") as missing:
        await answering(None).enrich(pipe, "[]", {"body": {}})  # its path parameter is missing
    assert missing.value.code == "INVALID_PARAMETER"
    weak = await world.role("weak", policy=allow("sqs:SendMessage"))
    with pytest.raises(EndpointRefused) as refused:
        await answering(None).enrich(
            dataclasses.replace(pipe, role_arn=weak), "[]", {"body": {"id": 1}}
        )
    assert refused.value.code == "NO_PERMISSIONS"
