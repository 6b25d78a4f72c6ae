"""The registry of the audit log signing keys (decision 0140) on SQLite and PostgreSQL (both
migrated with Alembic): a rotation records the statement and, per log with entries, the
checkpoint at its size signed by both keys, moves the current key, and a second rotation from
the retired key fails; every log reads every transition, with its own checkpoint or none; and
checkpoints signed while entries are appended and the key rotates each stay within their
key's range (the old key never past the transition's size). A due scheduled rotation is
claimed by exactly one of several gateways claiming at once, until the claim ends; a rotation
clears the claim and records the new key's sealed copy and start (decision 0140's addendum)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.key_registry import (
    RotationConflict,
    claim_rotation,
    key_transitions,
    record_rotation,
    registered_key,
)
from andromede.audit.model import PLATFORM_LOG, AuditEvent, Outcome
from andromede.audit.note import Checkpoint, NoteError, open_note
from andromede.audit.signing import FileLogSigningKey
from andromede.audit.store_sql import SqlAuditStore, claim_signing_key, registered_signing_key
from andromede.audit.trail import AuditTrail, SignedCheckpoint
from andromede.audit.transition import sign_with_both
from andromede.audit_keys import RegisteredKeys, open_log_signing_key, rotate_log_signing_key
from andromede.db.database import Database
from andromede.settings import Settings
from support.store_backends import SQL_BACKENDS, sql_database
from support.token_keys import MemoryToken, MemoryTokenKeys

NAME = "s3.test/eu-test-1/audit"
K0, K1, K2 = (FileLogSigningKey(NAME, Ed25519PrivateKey.generate()) for _ in range(3))


@pytest.fixture(params=SQL_BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as database:
        yield database


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


async def test_one_claim_of_a_due_rotation_wins(db: Database) -> None:
    await claim_signing_key(db, NAME, K0.public_key)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    until = now + timedelta(minutes=15)
    won = await asyncio.gather(
        *(claim_rotation(db, NAME, K0.public_key, now, until) for _ in range(6))
    )
    assert sorted(won) == [False] * 5 + [True]
    # Not the current key, or before the claim ends: refused; at its end: claimed again.
    assert not await claim_rotation(db, NAME, K1.public_key, until, until)
    assert not await claim_rotation(db, NAME, K0.public_key, until - timedelta(seconds=1), until)
    assert await claim_rotation(db, NAME, K0.public_key, until, until + timedelta(minutes=15))
    await record_rotation(
        db, NAME, K0.public_key, K1.public_key, "scheduled", both(K0, K1), sealed="v1:x", now=now
    )
    registered = await registered_key(db, NAME)
    assert registered is not None
    assert (registered.public_key, registered.created_at, registered.sealed) == (
        K1.public_key, now, "v1:x",
    )  # fmt: skip
    assert await claim_rotation(db, NAME, K1.public_key, now, until)  # the claim went with it
    await record_rotation(db, NAME, K1.public_key, K2.public_key, "compromise", both(K1, K2))
    registered = await registered_key(db, NAME)
    assert registered is not None and registered.sealed is None


async def test_checkpoints_signed_during_a_rotation_stay_in_their_keys_ranges(
    db: Database, tmp_path: Path
) -> None:
    log = "111122223333"
    settings = Settings(data_dir=tmp_path / "gateway")
    provider = MemoryTokenKeys(MemoryToken())
    old = await open_log_signing_key(settings, db, NAME, provider)
    keys = RegisteredKeys(settings, db, old, provider)
    trail = AuditTrail(SqlAuditStore(db), old, max_entries=100, keys=keys)
    store = SqlAuditStore(db)
    stop = asyncio.Event()
    signed: list[SignedCheckpoint] = []

    async def append() -> None:
        n = 0
        while not stop.is_set():
            await store.append([event(n, log)])
            n += 1

    async def sign() -> None:
        while not stop.is_set():
            signed.append(await trail.checkpoint(log))

    tasks = [
        asyncio.create_task(append()),
        asyncio.create_task(sign()),
        asyncio.create_task(sign()),
    ]
    # Five signed, one of them over entries: on a loaded machine the signers can run ahead of
    # the first append, and a log still empty at the rotation has no transition checkpoint.
    while len(signed) < 5 or not any(checkpoint.size for checkpoint in signed):
        await asyncio.sleep(0.01)
    await rotate_log_signing_key(settings, db, NAME, provider, to="file", reason="scheduled")
    count = len(signed)
    while len(signed) < count + 5:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*tasks)

    [transition] = await key_transitions(db, NAME, log)
    assert transition.size is not None
    new = await registered_signing_key(db, NAME)
    assert new is not None
    sides = set()
    for checkpoint in signed:
        origin = f"{NAME}/{log}"
        try:
            open_note(checkpoint.note, origin, old.public_key)
        except NoteError:
            open_note(checkpoint.note, origin, new)
            assert checkpoint.size >= transition.size
            sides.add("new")
        else:
            assert checkpoint.size <= transition.size, "the old key signed past its transition"
            sides.add("old")
    assert sides == {"old", "new"}
