"""Scheduled rotation of the region's audit log signing key (decision 0140's addendum), over a
real SQLite registry with an injected clock: nothing before ``audit_key_rotation_days``; then
of the gateways that check at the same moment exactly one rotates (it claimed the rotation),
to the same kind of key; a new key file reaches the other gateway through the copy sealed
under the region's ``secrets.key`` (no file copied), never for a gateway whose ``secrets.key``
differs; a claim of a gateway that died keeps the others off until it ends; a region on the
token rotates in the token; 0 days never rotates."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.audit.errors import SigningKeyMismatch
from andromede.audit.key_registry import claim_rotation, key_transitions, registered_key
from andromede.audit.model import PLATFORM_LOG
from andromede.audit.service import AuditService
from andromede.audit.signing import KEY_FILE_NAME, LogSigningKey, TokenLogSigningKey
from andromede.audit.store_sql import SqlAuditStore
from andromede.audit.verify import verify_trail
from andromede.audit_keys import ROTATION_CLAIM, Rotation, ScheduledRotation
from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.settings import Settings
from support.schema import migrated_sqlite
from support.token_keys import MemoryToken
from unit.test_audit_key_rotation import NAME, TENANT, Gateway, document, event


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    yield database
    await database.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def schedule(
    gateway: Gateway, db: Database, clock: Clock, made: list[Rotation]
) -> ScheduledRotation:
    return ScheduledRotation(
        gateway.settings, db, NAME, gateway.provider, on_rotation=made.append, clock=clock
    )


def second_gateway(tmp_path: Path, db: Database, token: MemoryToken, *files: str) -> Gateway:
    """Another gateway of the region: the first's key files named copied to its keys/."""
    (tmp_path / "b" / "keys").mkdir(parents=True)
    for name in files:
        shutil.copy(tmp_path / "a" / "keys" / name, tmp_path / "b" / "keys" / name)
    return Gateway(tmp_path / "b", db, token, audit_key_rotation_days=30)


async def test_one_gateway_rotates_a_due_key_file_and_the_other_installs_it_sealed(
    tmp_path: Path, db: Database
) -> None:
    token, clock, made = MemoryToken(), Clock(), list[Rotation]()
    first = Gateway(tmp_path / "a", db, token, audit_key_rotation_days=30)
    trail = await first.trail()
    old = await trail.signing_key()
    # The region's secrets.key (made by the first gateway's identity service) and its key.
    (tmp_path / "a" / "keys" / "secrets.key").write_bytes(bytes(range(32)))
    second = second_gateway(tmp_path, db, token, KEY_FILE_NAME, "secrets.key")
    other = await second.trail()
    await SqlAuditStore(db).append([event(n) for n in range(5)])
    schedules = [schedule(g, db, clock, made) for g in (first, second)]

    clock.now += timedelta(days=29, hours=23)
    assert await asyncio.gather(*(s.run_once() for s in schedules)) == [None, None]
    clock.now += timedelta(hours=2)
    done = await asyncio.gather(*(s.run_once() for s in schedules))
    rotations = [r for r in done if r is not None]
    assert len(rotations) == 1 and made == rotations  # one gateway, one rotation
    [rotation] = rotations
    assert rotation.generation == 1 and rotation.old == old.verifier_key
    [transition] = await key_transitions(db, NAME, TENANT)
    assert "\nscheduled\n" in transition.statement
    # Another key file, sealed in the registry (not in clear: no seed of it in the row).
    registered = await registered_key(db, NAME)
    assert registered is not None and registered.sealed is not None
    assert registered.created_at == clock.now
    new_file = Path(rotation.where)
    seed = new_file.read_text().split(":", 1)[1].strip()
    assert seed not in registered.sealed

    # Both gateways sign with the new key: the second installed it from the sealed copy.
    await SqlAuditStore(db).append([event(n) for n in range(5, 7)])
    for gateway_trail in (trail, other):
        content = await document(gateway_trail)
        assert (await gateway_trail.signing_key()).verifier_key == rotation.new
        assert verify_trail(content, old.verifier_key).size == 7
    installed = tmp_path / "b" / "keys" / new_file.name
    assert installed.read_text() == new_file.read_text()
    assert installed.stat().st_mode & 0o777 == 0o600

    # Not due again until the new key is 30 days old.
    clock.now += timedelta(days=29)
    assert await asyncio.gather(*(s.run_once() for s in schedules)) == [None, None]
    clock.now += timedelta(days=2)
    assert [r is not None for r in await asyncio.gather(*(s.run_once() for s in schedules))] in (
        [True, False],
        [False, True],
    )
    assert len(await key_transitions(db, NAME, TENANT)) == 2
    assert verify_trail(await document(other), old.verifier_key).key_transitions == 2


async def test_a_gateway_with_another_secrets_key_does_not_open_the_copy(
    tmp_path: Path, db: Database
) -> None:
    token, clock = MemoryToken(), Clock()
    first = Gateway(tmp_path / "a", db, token, audit_key_rotation_days=1)
    await first.trail()
    (tmp_path / "a" / "keys" / "secrets.key").write_bytes(bytes(range(32)))
    second = second_gateway(tmp_path, db, token, KEY_FILE_NAME)
    (tmp_path / "b" / "keys" / "secrets.key").write_bytes(bytes(32))
    other = await second.trail()
    clock.now += timedelta(days=2)
    assert await schedule(first, db, clock, []).run_once() is not None
    with pytest.raises(SigningKeyMismatch, match=r"secrets\.key"):
        await other.checkpoint(TENANT)
    assert sorted(p.name for p in (tmp_path / "b" / "keys").glob("audit-log*.key")) == [
        KEY_FILE_NAME
    ]


async def test_a_claim_keeps_the_others_off_until_it_ends(tmp_path: Path, db: Database) -> None:
    token, clock = MemoryToken(), Clock()
    gateway = Gateway(tmp_path / "a", db, token, audit_key_rotation_days=7)
    trail = await gateway.trail()
    old = await trail.signing_key()
    clock.now += timedelta(days=8)
    # A gateway claimed the rotation, then died before making the key.
    assert await claim_rotation(db, NAME, old.public_key, clock.now, clock.now + ROTATION_CLAIM)
    scheduled = schedule(gateway, db, clock, [])
    clock.now += ROTATION_CLAIM - timedelta(seconds=1)
    assert await scheduled.run_once() is None
    assert await key_transitions(db, NAME, TENANT) == []
    clock.now += timedelta(seconds=2)
    assert await scheduled.run_once() is not None
    # The claim went with the rotation: the new key is claimable when due.
    registered = await registered_key(db, NAME)
    assert registered is not None and registered.public_key != old.public_key
    later = clock.now + timedelta(days=8)
    assert await claim_rotation(db, NAME, registered.public_key, later, later + ROTATION_CLAIM)


async def test_a_region_on_the_token_rotates_in_the_token(tmp_path: Path, db: Database) -> None:
    token, clock = MemoryToken(), Clock()
    gateway = Gateway(tmp_path / "a", db, token, key_provider="pkcs11", audit_key_rotation_days=90)
    trail = await gateway.trail()
    old = await trail.signing_key()
    assert isinstance(old, TokenLogSigningKey)
    clock.now += timedelta(days=91)
    rotation = await schedule(gateway, db, clock, []).run_once()
    assert rotation is not None and rotation.where.startswith("PKCS#11 label")
    key: LogSigningKey = await trail.signing_key()
    assert isinstance(key, TokenLogSigningKey) and key.verifier_key == rotation.new
    assert len(token.pairs) == 2
    registered = await registered_key(db, NAME)
    assert registered is not None and registered.sealed is None  # nothing to share
    assert list((tmp_path / "a" / "keys").glob("audit-log*.key")) == []


async def test_zero_days_never_rotates(tmp_path: Path, db: Database) -> None:
    token, clock = MemoryToken(), Clock()
    gateway = Gateway(tmp_path / "a", db, token)
    assert gateway.settings.audit_key_rotation_days == 0
    await gateway.trail()
    clock.now += timedelta(days=36_500)
    assert await schedule(gateway, db, clock, []).run_once() is None
    assert await key_transitions(db, NAME, TENANT) == []


def test_the_settings_bounds() -> None:
    assert Settings(audit_key_rotation_days=365).audit_key_rotation_days == 365
    for bad in ({"audit_key_rotation_days": -1}, {"audit_key_rotation_check_interval": 0}):
        with pytest.raises(ValueError, match="audit_key_rotation"):
            Settings(**bad)  # type: ignore[arg-type]
    assert json.loads(Settings().model_dump_json())["audit_key_rotation_check_interval"] == 600


async def test_serve_records_each_scheduled_rotation_in_the_platform_log(
    tmp_path: Path, db: Database
) -> None:
    """``app.audit_key_schedule``, as ``serve`` runs it: the rotation is an event of the
    platform's log, by ``andromede:scheduled-rotation``."""
    from andromede.app import audit_key_schedule

    token = MemoryToken()
    gateway = Gateway(
        tmp_path / "a", db, token, audit_key_rotation_days=30, s3_domain="s3.test",
        region="eu-test-1",
    )  # fmt: skip
    await gateway.trail()
    keys = tables.audit_signing_keys
    older = datetime.now(UTC) - timedelta(days=31)
    await db.write(lambda conn: conn.execute(keys.update().values(created_at=older)))
    store = SqlAuditStore(db)
    audit = AuditService(store)
    provider: Any = gateway.provider
    rotation = await audit_key_schedule(gateway.settings, db, provider, audit).run_once()
    assert rotation is not None and rotation.generation == 1
    await audit.close()
    head = await store.tree_head(PLATFORM_LOG)
    [entry] = [e for e in await store.entries(PLATFORM_LOG, 0, head.size) if "Rotate" in e]
    assert json.loads(entry)["principal"] == "andromede:scheduled-rotation"
    assert json.loads(entry)["action"] == "andromede:RotateAuditSigningKey"
