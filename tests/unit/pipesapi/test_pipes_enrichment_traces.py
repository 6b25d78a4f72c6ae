"""Decision 0364: a pipe's enrichment is given its batch's trace header (an SQS source
message's ``AWSTraceHeader``) and the enrichment's events go on to the target with that same
trace, as AWS's pipe keeps one trace from its source to its target — a Lambda enrichment run
in the real ``bwrap`` sandbox sees it as ``_X_AMZN_TRACE_ID`` (its lineage one run further),
an SQS target's message keeps it; an API destination, as the enrichment and as the target,
receives it as ``X-Amzn-Trace-Id`` at a real HTTP endpoint on the loopback. A message sent
without one passes none on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.functions.lineage import Lineage, function_key, furthest
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.pipe_enrichments import PipeEnrichments
from andromede.pipe_functions import PipeFunctions
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import TRACE_HEADER, MessageAttribute
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from andromede.wiring.pipes import pipes_api
from andromede.wiring.queues import KeySealer
from support.lambdaapp import Functions, functions_over
from support.pipesapp import REGION, TRUST, World, allow
from support.schema import migrated_sqlite

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


class Seen:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []  # (path, X-Amzn-Trace-Id)
        self.port = 0


@pytest.fixture
def endpoint() -> Iterator[Seen]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.requests.append((self.path, self.headers.get("X-Amzn-Trace-Id")))
            enriching = self.path == "/enrich"
            answer = json.dumps([{"id": i["id"]} for i in body] if enriching else {}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_api_destinations_receive_the_trace_as_enrichment_and_target(
    tmp_path: Path, endpoint: Seen
) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region=REGION,
        pipes_poll_interval=0.05,
        events_api_destination_allow_http=True,
        events_api_destination_allow_cidrs=("127.0.0.0/8",),
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    audit = AuditService(MemoryAuditStore())
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region=REGION)
    no_targets = SimpleNamespace(roles=None)
    events = EventsParts(settings, db, no_targets, identity=identity)  # type: ignore[arg-type]
    connection = await events.connections.create_connection(
        tenant, "c", "API_KEY",
        {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-123"}},
    )  # fmt: skip
    base = f"http://127.0.0.1:{endpoint.port}"
    enrich = await events.connections.create_destination(
        tenant, "enrich", connection.arn, f"{base}/enrich", "POST"
    )
    deliver = await events.connections.create_destination(
        tenant, "deliver", connection.arn, f"{base}/deliver", "POST"
    )
    apis: dict[str, Any] = {}
    task, _ = pipes_api(apis, settings, db, identity, audit, None, None, queues, None, None,
                        events.connections)  # fmt: skip
    try:
        source = await queues.create_queue(tenant, "in", {}, {})
        role = await identity.create_role(tenant, "pipe", TRUST)
        await identity.put_role_policy(
            tenant, "pipe", "q", allow(*READ, "events:InvokeApiDestination")
        )
        await apis["pipes"].service.create(tenant, "p", {
            "Source": source.arn, "Target": deliver.arn, "RoleArn": role.arn,
            "Enrichment": enrich.arn,
            "EnrichmentParameters": {"InputTemplate": '{"id": <$.body.id>}'},
        })  # fmt: skip

        async def requests(count: int) -> list[tuple[str, str | None]]:
            for _ in range(800):  # 20 s: the runner passes every 50 ms
                if len(endpoint.requests) >= count:
                    break
                await asyncio.sleep(0.025)
            return list(endpoint.requests)

        await _send(queues, source, json.dumps({"id": 7}), TRACE, tenant)
        assert await requests(2) == [("/enrich", TRACE), ("/deliver", TRACE)]
        endpoint.requests.clear()
        await _send(queues, source, json.dumps({"id": 8}), None, tenant)
        assert await requests(2) == [("/enrich", None), ("/deliver", None)]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await audit.close()
        keys.close()
        await db.close()
