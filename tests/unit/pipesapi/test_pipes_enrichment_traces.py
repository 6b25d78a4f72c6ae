"""Decision 0364: a pipe's enrichment is given its batch's trace header (an SQS source
message's ``AWSTraceHeader``) and the enrichment's events go on to the target with that same
trace, as AWS's pipe keeps one trace from its source to its target — a Lambda enrichment run
in the real ``bwrap`` sandbox sees it as ``_X_AMZN_TRACE_ID`` (its lineage one run further),
an SQS target's message keeps it; an API destination, as the enrichment and as the target,
receives it as ``X-Amzn-Trace-Id`` at a real HTTP endpoint on the loopback. A message sent
without one passes none on."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from andromede.functions.lineage import Lineage, function_key, furthest
from andromede.pipe_enrichments import PipeEnrichments
from andromede.pipe_functions import PipeFunctions
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.queues.model import TRACE_HEADER, MessageAttribute
from andromede.queues.service import QueueService
from support.api_destinations import JsonEndpoint, destination_pipes, json_endpoint
from support.lambdaapp import Functions, functions_over
from support.pipesapp import REGION, TRUST, World, allow

TRACE = "Root=1-6756f2a0-0123456789abcdef01234567;Sampled=1;Lineage=1a2b3c4d:4"
# A second message of the same batch, earlier in its chain: the batch goes on with TRACE's.
EARLIER = "Root=1-6756f2a0-fedcba9876543210fedcba98;Sampled=1;Lineage=1a2b3c4d:1"
ENRICH = """
import os

def handler(event, context):
    return [{"id": e["body"]["id"], "trace": os.environ.get("_X_AMZN_TRACE_ID")} for e in event]
"""
READ = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)


@pytest.fixture
async def functions(world: World, tmp_path: Path) -> AsyncIterator[Functions]:
    async for made in functions_over(world.identity, world.audit, tmp_path / "fn"):
        yield made


async def _send(
    queues: QueueService, queue: Any, body: str, trace: str | None, sender: str
) -> None:
    system = {} if trace is None else {TRACE_HEADER: MessageAttribute("String", string_value=trace)}
    await queues.send_message(queue, body, {}, system, None, sender)


@needs_bwrap
async def test_a_function_enrichment_sees_the_batchs_trace_and_the_target_keeps_it(
    world: World, functions: Functions
) -> None:
    enrichment = await functions.create(world.tenant_id, "enrich", ENRICH)
    role = await world.role(policy=allow(*READ, "sqs:SendMessage", "lambda:InvokeFunction"))
    await world.client("CreatePipe", Name="p", Source=await world.queue("in"),
                       Target=await world.queue("out"), RoleArn=role, Enrichment=enrichment,
                       SourceParameters={"SqsQueueParameters": {"BatchSize": 10}},
                       EnrichmentParameters={"InputTemplate": '{"body": <$.body>}'})  # fmt: skip
    roles = PipeRoles(world.identity, REGION)
    lambdas = PipeFunctions(roles, lambda: functions.app)
    pipes = PipesRunner(
        world.pipes,
        PipeSources(roles, world.queues, lambda: None, REGION),
        PipeTargets(roles, world.queues, None, None, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(),
        "gateway-t",
        enricher=PipeEnrichments(roles, None, lambdas),
        batches=lambdas,
        batch_trace=furthest,  # as the wiring gives it
    )
    await pipes.run_pass()  # settled
    source = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    out = await world.queues.get_queue(world.tenant_id, world.tenant_id, "out")
    key = function_key(world.tenant_id, "enrich")

    async def delivered() -> list[tuple[dict[str, Any], str | None]]:
        got = await world.queues.receive(out, max_messages=10, visibility=30, wait=0)
        kept = [m.payload.system.get(TRACE_HEADER) for m in got]
        return [
            (json.loads(m.payload.body), None if one is None else one.string_value)
            for m, one in zip(got, kept, strict=True)
        ]

    await _send(world.queues, source, json.dumps({"id": 1}), EARLIER, world.tenant_id)
    await _send(world.queues, source, json.dumps({"id": 2}), TRACE, world.tenant_id)
    await pipes.run_pass()
    found = await delivered()
    assert sorted(body["id"] for body, _ in found) == [1, 2]  # one batch, both enriched
    for body, kept in found:
        seen = Lineage.parse(body["trace"])
        # The enrichment ran in TRACE's chain (the batch's furthest), one run further.
        assert seen.fields == tuple(TRACE.split(";")[:2]), body
        assert (key, 1) in seen.counts and ("1a2b3c4d", 4) in seen.counts, body
        assert kept == TRACE  # the target's message keeps the batch's trace, as it came

    # Untraced: the enrichment's run begins a chain of its own, and nothing is passed on.
    await _send(world.queues, source, json.dumps({"id": 3}), None, world.tenant_id)
    await pipes.run_pass()
    ((body, kept),) = await delivered()
    assert TRACE.split(";")[0] not in body["trace"] and kept is None


def _enriched(path: str, body: Any) -> Any:
    """The enrichment's answer, its batch's ids; the target's, nothing."""
    return [{"id": item["id"]} for item in body] if path == "/enrich" else {}


@pytest.fixture
def endpoint() -> Iterator[JsonEndpoint]:
    with json_endpoint(_enriched) as seen:
        yield seen


async def test_api_destinations_receive_the_trace_as_enrichment_and_target(
    tmp_path: Path, endpoint: JsonEndpoint
) -> None:
    async with destination_pipes(tmp_path) as deployed:
        identity, tenant, queues = deployed.identity, deployed.tenant, deployed.queues
        base = f"http://127.0.0.1:{endpoint.port}"
        connections, connection = deployed.events.connections, deployed.connection.arn
        enrich = await connections.create_destination(
            tenant, "enrich", connection, f"{base}/enrich", "POST"
        )
        deliver = await connections.create_destination(
            tenant, "deliver", connection, f"{base}/deliver", "POST"
        )
        source = await queues.create_queue(tenant, "in", {}, {})
        role = await identity.create_role(tenant, "pipe", TRUST)
        await identity.put_role_policy(
            tenant, "pipe", "q", allow(*READ, "events:InvokeApiDestination")
        )
        await deployed.apis["pipes"].service.create(tenant, "p", {
            "Source": source.arn, "Target": deliver.arn, "RoleArn": role.arn,
            "Enrichment": enrich.arn,
            "EnrichmentParameters": {"InputTemplate": '{"id": <$.body.id>}'},
        })  # fmt: skip

        async def requests(count: int) -> list[tuple[str, str | None]]:
            for _ in range(800):  # 20 s: the runner passes every 50 ms
                if len(endpoint.requests) >= count:
                    break
                await asyncio.sleep(0.025)
            return [
                (path, headers.get("x-amzn-trace-id")) for path, headers, _ in endpoint.requests
            ]

        await _send(queues, source, json.dumps({"id": 7}), TRACE, tenant)
        assert await requests(2) == [("/enrich", TRACE), ("/deliver", TRACE)]
        endpoint.requests.clear()
        await _send(queues, source, json.dumps({"id": 8}), None, tenant)
        assert await requests(2) == [("/enrich", None), ("/deliver", None)]
