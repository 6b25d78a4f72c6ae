"""Decision 0258's wiring: ``serve``'s factory puts the app under ``pipes`` over the SQL store,
its runner settles a pipe over the database at its interval, a request whose credential scope
names ``pipes`` is routed to it, and a closed tenant's pipes are forgotten."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

from andromede.api_routing import api_service
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.pipes.store_sql import SqlPipeStore
from andromede.pipesapi.app import PipesApp
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.wiring.pipes import pipes_api
from andromede.wiring.queues import KeySealer
from support.schema import migrated_sqlite


def test_pipes_calls_are_routed_by_their_credential_scope() -> None:
    signed = {
        "type": "http", "path": "/v1/pipes", "query_string": b"",
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20261206/eu-fr-1/pipes/"
                     b"aws4_request, SignedHeaders=host, Signature=00")],
    }  # fmt: skip
    assert api_service(signed) == "pipes"


async def test_serve_wires_pipes_over_the_database(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data", region="eu-fr-1", pipes_poll_interval=0.05, pipes_max_pipes=2
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region="eu-fr-1")
    apis: dict[str, Any] = {}
    task, forget = pipes_api(apis, settings, db, identity, audit, None, None, queues, None, {},
                             {})  # fmt: skip
    try:
        app = apis["pipes"]
        assert isinstance(app, PipesApp) and isinstance(app.service.store, SqlPipeStore)
        assert app.service.limits.max_pipes == 2
        arn = "arn:aws:sqs:eu-fr-1:111111111111:q"
        await app.service.create("111111111111", "p", {
            "Source": arn, "Target": arn, "RoleArn": "arn:aws:iam::111111111111:role/r",
        })  # fmt: skip
        for _ in range(100):  # the runner's next passes
            if (await app.service.get("111111111111", "p")).current_state.value == "RUNNING":
                break
            await asyncio.sleep(0.05)
        assert (await app.service.get("111111111111", "p")).current_state.value == "RUNNING"
        assert await forget("111111111111") == 1
        assert await app.service.store.pipes("111111111111") == []
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await audit.close()
        keys.close()
        await db.close()
