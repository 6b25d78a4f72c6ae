"""Decision 0192's durable deliveries (session 48 addendum) over every queue (memory, SQLite,
PostgreSQL): claims leased and counted, a claim left by a stopped worker taken by another once
its lease ends, retries due at their time, a closed tenant's deliveries forgotten; over SQL
the messages sealed under their tenant's key, and a second gateway's worker delivering what
the first left after failing — a restart loses none."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database
from andromede.events.delivery_queue import DeliveryQueue, MemoryDeliveryQueue, NewDelivery
from andromede.events.delivery_queue_sql import SqlDeliveryQueue
from andromede.events.dispatcher import Deliveries
from andromede.events.model import Rule, Target
from andromede.wiring.queues import EventKeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

REGION = "eu-west-3"
NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
RULE = f"arn:aws:events:{REGION}:t1:rule/r"


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture(params=SQL_BACKENDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def queue_of(database: Database | None, tmp_path: Path) -> DeliveryQueue:
    if database is None:
        return MemoryDeliveryQueue()
    return SqlDeliveryQueue(database, EventKeySealer(key_service_in(tmp_path / "keys")))


async def test_leases_claims_and_retries(database: Database | None, tmp_path: Path) -> None:
    queue = queue_of(database, tmp_path)
    await queue.add(
        "t1", [NewDelivery(RULE, f"t{i}", f'{{"n": {i}, "é": 1}}') for i in range(3)], NOW
    )
    await queue.add("t2", [NewDelivery(RULE, "x", "{}")], NOW)
    first = await queue.claim(NOW, lease=LEASE, limit=2)  # a worker that then stops
    assert [(d.target_id, d.message, d.attempts) for d in first] == [
        ("t0", '{"n": 0, "é": 1}', 1),
        ("t1", '{"n": 1, "é": 1}', 1),
    ]
    assert first[0].created == NOW
    second = await queue.claim(NOW + timedelta(seconds=1), lease=LEASE, limit=10)
    assert [d.target_id for d in second] == ["t2", "x"]  # the leased ones are not taken
    await queue.complete(second[0])
    assert await queue.claim(NOW + timedelta(seconds=2), lease=LEASE, limit=10) == []
    # The first worker's lease over: another takes its claims, a second attempt each.
    later = NOW + LEASE + timedelta(seconds=1)
    taken = await queue.claim(later, lease=LEASE, limit=10)
    assert [(d.target_id, d.attempts) for d in taken] == [("t0", 2), ("t1", 2), ("x", 2)]
    await queue.complete(taken[0])
    await queue.retry(taken[1], later + timedelta(seconds=10), "ConnectionError")
    assert await queue.claim(later + timedelta(seconds=5), lease=LEASE, limit=10) == []
    await queue.retry(taken[2], later + timedelta(seconds=100), "ConnectionError")
    [again] = await queue.claim(later + timedelta(seconds=10), lease=LEASE, limit=10)
    assert (again.target_id, again.attempts) == ("t1", 3)
    assert await queue.waiting() == 2
    assert await queue.forget_tenant("t2") == 1
    assert await queue.waiting() == 1
    if database is not None:  # sealed at rest: no row holds the message in clear
        rows = await database.read(
            lambda conn: conn.execute(sa.select(tables.events_deliveries.c.message)).all()
        )
        assert rows and all("é" not in row.message and '"n"' not in row.message for row in rows)


class Sink:
    def __init__(self, *, down: bool) -> None:
        self.down = down
        self.sent: list[tuple[str, str]] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        if self.down:
            raise ConnectionError("down")
        self.sent.append((arn, message))


async def test_a_second_gateway_delivers_what_the_first_left(
    sql_db: Database, tmp_path: Path
) -> None:
    database = sql_db
    queue = queue_of(database, tmp_path)
    rule = Rule("t1", REGION, "default", "r", created=NOW)
    target = Target("q", f"arn:aws:sqs:{REGION}:t1:q", {"Id": "q", "Arn": "x", "Input": '{"k":1}'})
    event = {"id": "e1", "source": "my.app", "detail": {}}
    broken = Sink(down=True)
    first = Deliveries(broken, queue, retry_base=0.01)
    await first.submit("t1", [(rule, target, event)])
    assert await first.run_once() == 1  # tried, failed: put back for a retry
    assert broken.sent == [] and await queue.waiting() == 1
    # The first gateway gone; the second, with its own sealer over the same keys, delivers.
    sink = Sink(down=False)
    second = Deliveries(sink, queue_of(database, tmp_path), retry_base=0.01)
    await second.drain()
    assert sink.sent == [(target.arn, '{"k":1}')]
    assert await queue.waiting() == 0
    assert json.loads(sink.sent[0][1]) == {"k": 1}
