"""Decision 0165's settings, read by the wiring over SQLite: ``queue_kms_data_key_cache_size``
bounds the KMS sealer's data keys (a full cache is emptied: the next send makes a new data
key, one more KMS request), ``queue_move_task_max_rate`` is the ceiling of a move task's
MaxNumberOfMessagesPerSecond and ``queue_move_task_interval`` bounds a pass's burst; a task
is carried on by a mover started afresh over the same database (a restart); and a message
under a customer key is nowhere in clear in the database files."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.queues.errors import InvalidParameterValue
from andromede.queues.move_tasks_sql import SqlMoveTaskStore
from andromede.settings import Settings
from andromede.wiring.queues import message_mover, queue_service
from support.schema import migrated_sqlite

ACCOUNT = "111122223333"


async def test_kms_cache_and_move_task_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        queue_kms_data_key_cache_size=1,
        queue_move_task_max_rate=1,
        queue_move_task_interval=0.2,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(),
        keys,
        KmsAuthoriser(identity.policies_for, settings.region),
        region=settings.region,
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    root = Principal(ACCOUNT, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{ACCOUNT}:root")
    try:
        queues = queue_service(settings, db, keys, customer_keys, audit)
        key = await customer_keys.create_key(Caller(ACCOUNT, root.arn, root))
        one = await queues.create_queue(ACCOUNT, "one", {"KmsMasterKeyId": key.key_id})
        two = await queues.create_queue(ACCOUNT, "two", {"KmsMasterKeyId": key.key_id})
        # Two queues, one cached data key: each switch makes a new one, not a repeat.
        for queue in (one, two, one, one):
            await queues.send_message(queue, "secret-kms-body", {}, {}, None, ACCOUNT)
        await audit.flush()
        events = [e for _, e in await audit_store.list_events(None, after_id=0, limit=100)]
        assert len([e for e in events if e.action == "kms:GenerateDataKey"]) == 3

        redrive = json.dumps({"deadLetterTargetArn": one.arn, "maxReceiveCount": 1})
        await queues.create_queue(ACCOUNT, "source", {"RedrivePolicy": redrive})
        mover = message_mover(settings, db)
        with pytest.raises(InvalidParameterValue):
            await mover.start(ACCOUNT, one.arn, None, 2)
        task = await mover.start(ACCOUNT, one.arn, None, None)
        assert task.to_move == 3
        # Long idle: a pass moves at most the rate over ten intervals (1/s for 2 s), no more.
        tasks = SqlMoveTaskStore(db)
        idle = dataclasses.replace(task, updated_at=datetime.now(UTC) - timedelta(hours=1))
        assert await tasks.update(idle, task.updated_at)
        assert await mover.run_pass() == 2
        running = (await mover.list_tasks(ACCOUNT, one.arn, 1))[0]
        assert running.status == "RUNNING"
        # A gateway started afresh (a restart) carries on with the task from the database.
        idle = dataclasses.replace(running, updated_at=datetime.now(UTC) - timedelta(seconds=5))
        assert await tasks.update(idle, running.updated_at)
        restarted = message_mover(settings, db)
        assert await restarted.run_pass() == 1
        finished = (await restarted.list_tasks(ACCOUNT, one.arn, 1))[0]
        assert (finished.status, finished.moved) == ("COMPLETED", 3)
    finally:
        await audit.close()
        await db.close()
        keys.close()
    for path in tmp_path.rglob("meta.db*"):
        assert b"secret-kms-body" not in path.read_bytes()
