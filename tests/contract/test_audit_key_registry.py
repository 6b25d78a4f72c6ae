"""The registry of the audit log signing keys (decision 0140) on SQLite and PostgreSQL (both
migrated with Alembic): a rotation records the statement and, per log with entries, the
checkpoint at its size signed by both keys, moves the current key, and a second rotation from
the retired key fails; every log reads every transition, with its own checkpoint or none."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.key_registry import RotationConflict, key_transitions, record_rotation
from andromede.audit.model import PLATFORM_LOG, AuditEvent, Outcome
from andromede.audit.note import Checkpoint, open_note
from andromede.audit.signing import FileLogSigningKey
from andromede.audit.store_sql import SqlAuditStore, claim_signing_key, registered_signing_key
from andromede.audit.transition import sign_with_both
from andromede.db.database import Database, open_database
from support.schema import migrated_sqlite

NAME = "s3.test/eu-test-1/audit"
K0, K1, K2 = (FileLogSigningKey(NAME, Ed25519PrivateKey.generate()) for _ in range(3))


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    database = open_database(url)
    try:
        yield database
    finally:
        await database.close()


def event(n: int, tenant: str | None) -> AuditEvent:
    return AuditEvent(
        occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        request_id=f"R{n}",
        tenant_id=tenant,
        principal=None,
        action="iam:CreateUser",
        resource="arn:aws:iam::123456789012:user/u",
        outcome=Outcome.SUCCESS,
    )


def both(*keys: FileLogSigningKey) -> Callable[[str, str], str]:
    return lambda text, name: sign_with_both(text, name, [k.sign for k in keys])


async def test_rotations_are_recorded_per_log_and_chain(db: Database) -> None:
    store = SqlAuditStore(db)
    await claim_signing_key(db, NAME, K0.public_key)
    await store.append([event(n, "111122223333") for n in range(3)] + [event(9, None)])
    assert (
        await record_rotation(db, NAME, K0.public_key, K1.public_key, "scheduled", both(K0, K1))
        == 1
    )
    assert await registered_signing_key(db, NAME) == K1.public_key
    with pytest.raises(RotationConflict):
        await record_rotation(db, NAME, K0.public_key, K2.public_key, "compromise", both(K0, K2))
    await store.append([event(n, "111122223333") for n in range(3, 5)])
    assert (
        await record_rotation(db, NAME, K1.public_key, K2.public_key, "compromise", both(K1, K2))
        == 2
    )

    first, second = await key_transitions(db, NAME, "111122223333")
    assert (first.generation, first.size, second.generation, second.size) == (1, 3, 2, 5)
    origin = f"{NAME}/111122223333"
    assert first.checkpoint is not None
    text = open_note(first.checkpoint, origin, K0.public_key)
    assert open_note(first.checkpoint, origin, K1.public_key) == text
    assert Checkpoint.parse(text).size == 3
    open_note(second.statement, NAME, K1.public_key)
    open_note(second.statement, NAME, K2.public_key)
    platform = await key_transitions(db, NAME, PLATFORM_LOG)
    assert [t.size for t in platform] == [1, 1]
    unborn = await key_transitions(db, NAME, "999988887777")
    assert [(t.generation, t.checkpoint) for t in unborn] == [(1, None), (2, None)]
    assert await key_transitions(db, "another/region/audit", PLATFORM_LOG) == []
