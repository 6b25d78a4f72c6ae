"""Decision 0303's rotation store over every implementation (memory, SQLite, PostgreSQL): a
secret's rotation saved and read back whole (its rules, dates to the microsecond), saved
again without touching its lease; claimed by one gateway at a time until the lease runs out;
settled only by the lease's owner; found due when its window opened or when a gateway left
it mid-way; deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.secrets.rotation_model import RotationRules, RotationState
from andromede.secrets.rotation_sql import SqlRotationStore
from andromede.secrets.rotation_store import MemoryRotationStore, RotationStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:eu-fr-1:111122223333:secret:db-AbCdEf"
FUNCTION = "arn:aws:lambda:eu-fr-1:111122223333:function:rotator"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RotationStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryRotationStore() if db is None else SqlRotationStore(db)


def state(arn: str = ARN, **changes: object) -> RotationState:
    base = RotationState(
        arn,
        "111122223333",
        "eu-fr-1",
        function_arn=FUNCTION,
        rules=RotationRules(expression="cron(0 16 1,15 * ? *)", duration_hours=3),
        enabled=True,
        last_rotated=T0,
        next_rotation=T0 + timedelta(days=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_saved_and_read_back(store: RotationStore) -> None:
    assert await store.get(ARN) is None
    await store.save(state())
    assert await store.get(ARN) == state()
    await store.save(state(rules=RotationRules(days=30), token="t" * 32, failure="é ✓"))
    assert await store.get(ARN) == state(
        rules=RotationRules(days=30), token="t" * 32, failure="é ✓"
    )
    await store.delete(ARN)
    assert await store.get(ARN) is None


async def test_one_claimant_until_the_lease_runs_out(store: RotationStore) -> None:
    await store.save(state())
    claimed = await store.claim(ARN, "a", 1000, 5000)
    assert claimed is not None and (claimed.lease_owner, claimed.lease_until) == ("a", 5000)
    assert await store.claim(ARN, "b", 2000, 6000) is None
    await store.save(state(enabled=False))  # a configuration change keeps the lease
    held = await store.get(ARN)
    assert held is not None and held.lease_owner == "a" and not held.enabled
    assert not await store.settle(state(token="x" * 32), "b")
    taken = await store.claim(ARN, "b", 5000, 9000)  # a's lease ran out
    assert taken is not None and taken.lease_owner == "b"
    assert not await store.settle(state(), "a")
    assert await store.settle(state(failure="testSecret: boom"), "b")
    settled = await store.get(ARN)
    assert settled is not None and settled.failure == "testSecret: boom"
    assert (settled.lease_owner, settled.lease_until) == ("", 0)
    assert await store.claim("arn:none", "a", 0, 1) is None


async def test_due_rotations(store: RotationStore) -> None:
    now = T0 + timedelta(days=2)
    await store.save(state(ARN + "1", next_rotation=T0))
    await store.save(state(ARN + "2", next_rotation=T0 + timedelta(hours=1)))
    await store.save(state(ARN + "3", next_rotation=now + timedelta(days=1)))
    await store.save(state(ARN + "4", next_rotation=T0, enabled=False))
    await store.save(state(ARN + "5", next_rotation=now + timedelta(days=9), token="p" * 32))
    assert [s.secret_arn for s in await store.due(now, 100, 10)] == [ARN + "1", ARN + "2"]
    assert [s.secret_arn for s in await store.due(now, 100, 1)] == [ARN + "1"]
    assert await store.claim(ARN + "1", "a", 100, 500) is not None
    assert [s.secret_arn for s in await store.due(now, 200, 10)] == [ARN + "2"]
    # A gateway that stopped mid-rotation: once its lease ran out, due again at once.
    assert await store.claim(ARN + "5", "a", 100, 500) is not None
    assert [s.secret_arn for s in await store.due(now, 400, 10)] == [ARN + "2"]
    assert [s.secret_arn for s in await store.due(now, 600, 10)] == [
        ARN + "1",
        ARN + "2",
        ARN + "5",
    ]
