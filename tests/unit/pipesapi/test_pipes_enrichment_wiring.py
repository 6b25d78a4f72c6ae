"""Decision 0268's enrichment as ``serve`` wires it: a pipe over the SQL store whose
enrichment is an API destination of EventBridge (its connection's API key) receives the
batch at a real HTTP endpoint on the loopback, with the enrichment's path, header and query
parameters, and the events of its answer reach the target queue; the enrichment's role
without ``events:InvokeApiDestination`` leaves the messages in the source and says why in the
pipe's ``StateReason``; EventBridge's invoker gives an endpoint's answer up to its bound, and
refuses a longer one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.db.doorbells import SQS_MESSAGES
from andromede.events.api_invoker import ApiDestinationInvoker, InvocationPolicy
from andromede.events.dispatcher import DeliveryRefused
from andromede.events.model import Target
from andromede.http.outbound import networks
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.wakeup import Timetable
from andromede.wiring.events import EventsParts
from andromede.wiring.pipes import pipes_api
from andromede.wiring.queues import KeySealer
from support.pipesapp import REGION, TRUST, allow
from support.schema import migrated_sqlite


class Seen:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.port = 0


@pytest.fixture
def endpoint() -> Iterator[Seen]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            answer = json.dumps([{"looked_up": item["id"] * 10} for item in body]).encode()
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


async def _until(check: Any, passes: int = 200) -> Any:
    for _ in range(passes):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.025)
    return await check()


@pytest.mark.parametrize("limit", [None, 5])
async def test_the_enrichment_is_called_and_its_answer_sent(
    tmp_path: Path, endpoint: Seen, limit: int | None
) -> None:
    """With ``pipes_enrichment_max_response`` below the answer's size, the execution fails:
    nothing reaches the target, and the pipe is not refused (no StateReason)."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region=REGION,
        pipes_poll_interval=0.05,
        events_api_destination_allow_http=True,
        events_api_destination_allow_cidrs=("127.0.0.0/8",),
        **({} if limit is None else {"pipes_enrichment_max_response": limit}),
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    audit = AuditService(MemoryAuditStore())
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region=REGION)
    # As ``serve`` wires it: a message back after its visibility timeout rings the pipes (0331).
    queues.due = Timetable(db.doorbells.of(SQS_MESSAGES).ring_soon).at
    # No queue or topic is a target here; with an identity the parts give the targets roles.
    no_targets = SimpleNamespace(roles=None)
    events = EventsParts(settings, db, no_targets, identity=identity)  # type: ignore[arg-type]
    connection = await events.connections.create_connection(
        tenant, "c", "API_KEY",
        {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-123"}},
    )  # fmt: skip
    destination = await events.connections.create_destination(
        tenant, "lookup", connection.arn, f"http://127.0.0.1:{endpoint.port}/orders/*", "POST"
    )
    apis: dict[str, Any] = {}
    task, _ = pipes_api(apis, settings, db, identity, audit, None, None, queues, None, None,
                        events.connections)  # fmt: skip
    try:
        # Refused, the message comes back after its visibility timeout: a short one.
        source = await queues.create_queue(tenant, "in", {"VisibilityTimeout": "1"}, {})
        target = await queues.create_queue(tenant, "out", {}, {})
        role = await identity.create_role(tenant, "pipe", TRUST)
        await identity.put_role_policy(tenant, "pipe", "q", allow(
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
            "sqs:SendMessage"))  # fmt: skip
        service = apis["pipes"].service
        await service.create(tenant, "p", {
            "Source": source.arn, "Target": target.arn, "RoleArn": role.arn,
            "Enrichment": destination.arn,
            "EnrichmentParameters": {
                "InputTemplate": '{"id": <$.body.id>}',
                "HttpParameters": {"PathParameterValues": ["$.body.id"],
                                   "HeaderParameters": {"X-Team": "blue", "X-Order": "$.body.id"},
                                   "QueryStringParameters": {"v": "2"}},
            },
        })  # fmt: skip
        await queues.send_message(source, json.dumps({"id": 7}), {}, {}, None, tenant)

        async def reason() -> str:
            return str((await service.get(tenant, "p")).state_reason)

        why = await _until(reason)
        assert why.startswith("NO_PERMISSIONS") and "events:InvokeApiDestination" in why
        assert endpoint.requests == []
        await identity.put_role_policy(
            tenant, "pipe", "enrich", allow("events:InvokeApiDestination")
        )

        async def delivered() -> list[str]:
            got = await queues.receive(target, max_messages=10, visibility=30, wait=0)
            return [m.payload.body for m in got]

        if limit is not None:

            async def called() -> bool:
                return bool(endpoint.requests)

            assert await _until(called)
            await asyncio.sleep(0.2)
            assert await delivered() == [] and await reason() == ""
            return
        (body,) = await _until(delivered)
        assert json.loads(body) == {"looked_up": 70}
        ((path, headers, sent),) = endpoint.requests
        assert path == "/orders/7?v=2"
        assert headers["x-team"] == "blue" and headers["x-api-key"] == "k-123"
        assert headers["x-order"] == "7"  # a JSON path into the batch's first event
        assert sent == [{"id": 7}]
        assert await reason() == ""  # it runs again
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await audit.close()
        keys.close()
        await db.close()


async def test_the_invoker_gives_the_answer_within_its_bound(
    tmp_path: Path, endpoint: Seen
) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data", region=REGION, events_api_destination_allow_http=True
    )
    try:
        events = EventsParts(settings, db, None)  # type: ignore[arg-type]
        connection = await events.connections.create_connection(
            "000000000001", "c", "API_KEY",
            {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}},
        )  # fmt: skip
        destination = await events.connections.create_destination(
            "000000000001", "d", connection.arn, f"http://127.0.0.1:{endpoint.port}/", "POST"
        )

        async def anyone(tenant_id: str, role: str, arn: str, source: str | None) -> bool:
            return True

        invoker = ApiDestinationInvoker(
            events.connections,
            anyone,
            InvocationPolicy(allowed=networks(("127.0.0.0/8",)), allow_http=True),
        )
        target = Target("t", destination.arn, {"RoleArn": "arn:aws:iam::000000000001:role/r"})
        message = json.dumps([{"id": 1}, {"id": 2}])
        answer = await invoker.invoke("000000000001", target, message, answer_limit=1024)
        assert json.loads(answer) == [{"looked_up": 10}, {"looked_up": 20}]
        with pytest.raises(DeliveryRefused) as refused:
            await invoker.invoke("000000000001", target, message, answer_limit=10)
        assert refused.value.code == "ResponseTooLarge"
        await invoker.send("000000000001", target, message)  # a rule's target reads nothing
        assert len(endpoint.requests) == 3
    finally:
        await db.close()
