"""Decision 0192's durable deliveries (session 48 addendum) over every queue (memory, SQLite,
PostgreSQL): claims leased and counted, a claim left by a stopped worker taken by another once
its lease ends, retries due at their time, a closed tenant's deliveries forgotten; over SQL
the messages sealed under their tenant's key, and a second gateway's worker delivering what
the first left after failing — a restart loses none."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
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
from andromede.events.store_sql import SqlEventsStore
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
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


async def test_waiting_deliveries_read_and_rewritten(
    database: Database | None, tmp_path: Path
) -> None:
    """Decision 0218: a re-seal reads an account's waiting deliveries (leased ones too) and
    rewrites a message only over what it read, its attempts and lease untouched."""
    queue = queue_of(database, tmp_path)
    await queue.add("t1", [NewDelivery(RULE, f"t{i}", f'{{"n": {i}}}') for i in range(3)], NOW)
    await queue.add("t2", [NewDelivery(RULE, "x", '{"other": 1}')], NOW)
    [leased] = await queue.claim(NOW, lease=LEASE, limit=1)
    held = await queue.held("t1", 0, 10)
    assert [(h.target_id, h.message) for h in held] == [
        ("t0", '{"n": 0}'),
        ("t1", '{"n": 1}'),
        ("t2", '{"n": 2}'),
    ]
    assert [h.target_id for h in await queue.held("t1", held[0].delivery_id, 1)] == ["t1"]
    assert await queue.rewrite("t1", held[0], '{"n": "zero"}')
    assert not await queue.rewrite("t1", held[0], '{"n": "again"}')  # no longer what it read
    assert not await queue.rewrite("t2", held[1], '{"n": "theirs"}')  # another account's
    assert (await queue.held("t1", 0, 1))[0].message == '{"n": "zero"}'
    await queue.complete(replace(leased, delivery_id=held[2].delivery_id))
    assert not await queue.rewrite("t1", held[2], '{"n": "gone"}')
    # The leased one kept its lease and attempt count.
    later = await queue.claim(NOW + timedelta(seconds=1), lease=LEASE, limit=10)
    assert leased.delivery_id not in [d.delivery_id for d in later]
    [again] = await queue.claim(NOW + LEASE + timedelta(seconds=1), lease=LEASE, limit=1)
    assert (again.delivery_id, again.message, again.attempts) == (
        leased.delivery_id,
        '{"n": "zero"}',
        2,
    )


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


async def test_shredded_and_closed_tenants_deliveries_go(sql_db: Database, tmp_path: Path) -> None:
    """A tenant whose key is destroyed: its deliveries never open, dropped unsent. A closed
    tenant: its queued deliveries go with its buses (the events store's forget_tenant)."""
    keys = key_service_in(tmp_path / "keys")
    queue = SqlDeliveryQueue(sql_db, EventKeySealer(keys))
    rule = Rule("t1", REGION, "default", "r", created=NOW)
    target = Target("q", f"arn:aws:sqs:{REGION}:t1:q", {"Id": "q", "Arn": "x"})
    sink = Sink(down=False)
    deliveries = Deliveries(sink, queue)
    await deliveries.submit("t1", [(rule, target, {"id": "e1"})])
    await deliveries.submit("t2", [(replace(rule, tenant_id="t2"), target, {"id": "e2"})])
    keys.destroy_tenant_key("t1")
    assert await deliveries.run_once() == 2
    assert [json.loads(message)["id"] for _, message in sink.sent] == ["e2"]
    assert await queue.waiting() == 0  # the shredded one dropped unsent
    await deliveries.submit("t2", [(replace(rule, tenant_id="t2"), target, {"id": "e3"})])
    await SqlEventsStore(sql_db, REGION).forget_tenant("t2")
    assert await queue.waiting() == 0
    # A row that is not a delivery's document is dropped rather than claimed forever.
    await queue.add("t3", [NewDelivery(RULE, "q", "not json")], NOW)
    assert await deliveries.run_once() == 1
    assert await queue.waiting() == 0


async def test_the_delivery_settings_reach_the_worker(sql_db: Database, tmp_path: Path) -> None:
    """``events_delivery_batch``, ``events_delivery_lease`` and
    ``events_delivery_poll_interval`` as ``serve`` wires them (``EventsParts``)."""
    settings = Settings(
        data_dir=tmp_path,
        region=REGION,
        events_delivery_batch=1,
        events_delivery_lease=7,
        events_delivery_poll_interval=0.05,
    )
    sink = LeaseReader(sql_db)
    parts = EventsParts(settings, sql_db, sink)  # type: ignore[arg-type]
    rule = Rule("t1", REGION, "default", "r", created=NOW)
    target = Target("q", f"arn:aws:sqs:{REGION}:t1:q", {"Id": "q", "Arn": "x"})
    await parts.deliveries.submit("t1", [(rule, target, {"id": f"e{i}"}) for i in range(2)])
    assert await parts.deliveries.run_once() == 1  # the batch: one row a claim
    # While it was sent, its row was leased for the setting's seconds, the other not.
    [leased, waiting] = sorted(sink.leases, key=lambda pair: pair[0] is None)
    assert waiting[0] is None
    assert 6 < (leased[0] - leased[1]).total_seconds() < 30
    await parts.deliveries.drain()
    # An idle worker finds a row another gateway queued (no wake-up here) at its next poll,
    # well before the default poll interval (a second) would.
    worker = asyncio.create_task(parts.deliveries.run_forever())
    try:
        await asyncio.sleep(0.1)
        await parts.deliveries.queue.add(
            "t1", [NewDelivery(rule.arn, "q", json.dumps(_document(target, "e9")))], NOW
        )
        for _ in range(30):
            if "e9" in {json.loads(m)["id"] for _, m in sink.sent}:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert [json.loads(m)["id"] for _, m in sink.sent] == ["e0", "e1", "e9"]


class LeaseReader(Sink):
    """Reads the rows' leases while it sends."""

    def __init__(self, db: Database) -> None:
        super().__init__(down=False)
        self._db = db
        self.leases: list[tuple[Any, Any]] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        d = tables.events_deliveries
        query = sa.select(d.c.lease_until, d.c.created_at)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        self.leases = [(row.lease_until, row.created_at) for row in rows]
        await super().send(tenant_id, arn, message)


def _document(target: Target, event_id: str) -> dict[str, Any]:
    return {
        "target": {"Id": target.id, "Arn": target.arn, "Spec": target.spec},
        "event": {"id": event_id},
        "message": json.dumps({"id": event_id}),
    }
