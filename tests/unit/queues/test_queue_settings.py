"""The queue limits are settings, read by the wiring: ``max_queues``,
``queue_max_message_size``, ``queue_max_in_flight`` and ``queue_long_poll_interval`` each
bound what a service built by ``wiring.queues.queue_service`` (SQLite, sealed messages)
takes; and the sealed form holds no message in clear."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.queues.errors import InvalidParameterValue, OverLimit
from andromede.settings import Settings
from andromede.wiring.queues import queue_service
from support.schema import migrated_sqlite


async def test_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        max_queues=1,
        queue_max_message_size=1024,
        queue_max_in_flight=1,
        queue_long_poll_interval=0.1,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    try:
        queues = queue_service(settings, db, keys)
        queue = await queues.create_queue("111122223333", "q", {})
        with pytest.raises(OverLimit):
            await queues.create_queue("111122223333", "r", {})
        with pytest.raises(InvalidParameterValue):
            await queues.send_message(queue, "x" * 1025, {}, {}, None, "me")
        for body in ("secret-one", "secret-two"):
            await queues.send_message(queue, body, {}, {}, None, "me")
        got = await queues.receive(queue, max_messages=1, visibility=60, wait=0)
        assert [m.payload.body for m in got] == ["secret-one"]
        with pytest.raises(OverLimit):
            await queues.receive(queue, max_messages=1, visibility=60, wait=0)
        await queues.delete_message(queue, got[0].receipt_handle)
        # An empty queue's long poll looks again every interval, and ends on time.
        await queues.purge_queue(queue)
        started = time.monotonic()
        assert await queues.receive(queue, max_messages=1, visibility=None, wait=1) == []
        assert 0.9 <= time.monotonic() - started < 2
    finally:
        await db.close()
        keys.close()
    for path in tmp_path.rglob("meta.db*"):
        assert b"secret-" not in path.read_bytes()
