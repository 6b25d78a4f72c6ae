"""What the pipes tests of API destinations (decisions 0268, 0364) stand on: the destination's
far end, a loopback HTTP server recording each POST (its path with the query, its headers
lower-cased, its JSON body) and answering what the test makes of the body; and the pipes of
one account as ``serve`` wires them over the SQL store, whose enrichments and targets may be
EventBridge API destinations of one connection (its API key ``k-123``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import Database, open_database
from andromede.db.doorbells import SQS_MESSAGES
from andromede.events.connection_model import Connection
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
from support.pipesapp import REGION
from support.schema import migrated_sqlite

__all__ = ["DestinationPipes", "JsonEndpoint", "destination_pipes", "json_endpoint"]


@dataclass
class JsonEndpoint:
    """The server's port and what it was sent, in order: ``(path, headers, body)``."""

    port: int
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)


@contextmanager
def json_endpoint(answer: Callable[[str, Any], Any]) -> Iterator[JsonEndpoint]:
    """A server on a free loopback port until the block ends, answering each POST with
    ``answer(path, body)`` as JSON."""
    seen = JsonEndpoint(0)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            reply = json.dumps(answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

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


@dataclass
class DestinationPipes:
    """The account (``tenant``), its services, and ``apis["pipes"]`` running its pipes."""

    settings: Settings
    identity: IdentityService
    tenant: str
    queues: QueueService
    events: EventsParts
    connection: Connection
    apis: dict[str, Any]


@asynccontextmanager
async def destination_pipes(tmp_path: Path, **settings: Any) -> AsyncIterator[DestinationPipes]:
    """The pipes running (every 50 ms) until the block ends, API destinations over plain http
    to the loopback allowed; ``settings`` adds to those."""
    db: Database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    configured = Settings(
        data_dir=tmp_path / "data",
        region=REGION,
        pipes_poll_interval=0.05,
        events_api_destination_allow_http=True,
        events_api_destination_allow_cidrs=("127.0.0.0/8",),
        **settings,
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
    events = EventsParts(configured, db, no_targets, identity=identity)  # type: ignore[arg-type]
    connection = await events.connections.create_connection(
        tenant, "c", "API_KEY",
        {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-123"}},
    )  # fmt: skip
    apis: dict[str, Any] = {}
    task, _ = pipes_api(apis, configured, db, identity, audit, None, None, queues, None, {},
                        events.regional_connections)  # fmt: skip
    try:
        yield DestinationPipes(configured, identity, tenant, queues, events, connection, apis)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await audit.close()
        keys.close()
        await db.close()
