"""Retired audit log key files are removed (decision 0140's second addendum), over a real
SQLite registry with an injected clock: after a rotation away from a key file, each gateway
removes its own copy of the old key's file once ``audit_old_key_retention`` has passed since
the rotation — not before, never the registered current key's file, never a file the registry
does not name as retired (a stray key, a file that is no key) — and the trails still verify
from the old pinned key, whose public half stays in the registry; restarted, the gateway opens
the current key. A token region has no file to remove. The job ``serve`` runs records each
removal in the platform log."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.audit.key_registry import retired_keys
from andromede.audit.model import PLATFORM_LOG
from andromede.audit.service import AuditService
from andromede.audit.signing import KEY_FILE_NAME, PUBLIC_KEY_FILE_NAME, FileLogSigningKey
from andromede.audit.store_sql import SqlAuditStore
from andromede.audit.verify import verify_trail
from andromede.audit_keys import RetiredKeyFiles, open_log_signing_key, rotate_log_signing_key
from andromede.db.database import Database, open_database
from andromede.settings import Settings
from support.schema import migrated_sqlite
from support.token_keys import MemoryToken
from unit.test_audit_key_rotation import NAME, Gateway, document, event

DAY = 86_400.0


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


def key_files(data_dir: Path) -> list[str]:
    return sorted(path.name for path in (data_dir / "keys").glob("audit-log*.key"))


def files_of(gateway: Gateway, db: Database, clock: Clock) -> RetiredKeyFiles:
    return RetiredKeyFiles(gateway.settings, db, NAME, clock=clock)


async def test_each_gateway_removes_its_retired_key_file_after_the_retention(
    tmp_path: Path, db: Database
) -> None:
    token, clock = MemoryToken(), Clock()
    first = Gateway(tmp_path / "a", db, token, audit_old_key_retention=2 * DAY)
    trail = await first.trail()
    old = await trail.signing_key()
    (tmp_path / "a" / "keys" / "secrets.key").write_bytes(bytes(range(32)))
    (tmp_path / "b" / "keys").mkdir(parents=True)
    for name in (KEY_FILE_NAME, "secrets.key"):
        shutil.copy(tmp_path / "a" / "keys" / name, tmp_path / "b" / "keys" / name)
    second = Gateway(tmp_path / "b", db, token, audit_old_key_retention=2 * DAY)
    other = await second.trail()
    await SqlAuditStore(db).append([event(n) for n in range(4)])
    pinned = await document(trail)
    # Files the registry does not name as retired: a key never registered, a file no key.
    _, stray = FileLogSigningKey.create_new(tmp_path / "a" / "keys", NAME)
    not_a_key = tmp_path / "a" / "keys" / "audit-log.notes.key"
    not_a_key.write_text("not a key\n")

    rotation = await rotate_log_signing_key(
        first.settings, db, NAME, first.provider, to="file", reason="scheduled", now=clock.now
    )
    new_file = Path(rotation.where)
    await SqlAuditStore(db).append([event(n) for n in range(4, 6)])
    for gateway_trail in (trail, other):  # both switch; the second installs the sealed copy
        assert (await gateway_trail.signing_key()).verifier_key == rotation.new
    assert new_file.name in key_files(tmp_path / "b")
    jobs = [files_of(g, db, clock) for g in (first, second)]

    # Within the retention: nothing goes.
    clock.now += timedelta(days=1, hours=23)
    assert [await job.run_once() for job in jobs] == [[], []]
    assert KEY_FILE_NAME in key_files(tmp_path / "a") and KEY_FILE_NAME in key_files(tmp_path / "b")

    # Past it: each gateway removes its own copy of the old key's file, and only that.
    clock.now += timedelta(hours=2)
    assert await jobs[0].run_once() == [tmp_path / "a" / "keys" / KEY_FILE_NAME]
    assert sorted(key_files(tmp_path / "a")) == sorted(
        [new_file.name, f"audit-log.{stray.verifier_key.split('+')[1]}.key", not_a_key.name]
    )
    assert KEY_FILE_NAME in key_files(tmp_path / "b")  # the other gateway's folder: its own
    assert await jobs[1].run_once() == [tmp_path / "b" / "keys" / KEY_FILE_NAME]
    assert key_files(tmp_path / "b") == [new_file.name]
    assert [await job.run_once() for job in jobs] == [[], []]  # done once

    # The public half stays: the trails still verify from the old pinned key, the pinned
    # trail trusted; the published key is the current one; a restart opens it.
    await SqlAuditStore(db).append([event(6)])
    for gateway_trail in (trail, other):
        checkpoint = pinned["checkpoint"]
        assert isinstance(checkpoint, str)
        verified = verify_trail(await document(gateway_trail), old.verifier_key, trusted=checkpoint)
        assert (verified.size, verified.trusted_size, verified.key_transitions) == (7, 4, 1)
    assert [k.public_key for k in await retired_keys(db, NAME)] == [old.public_key]
    published = (tmp_path / "a" / PUBLIC_KEY_FILE_NAME).read_text().strip()
    assert published == rotation.new
    again = await open_log_signing_key(first.settings, db, NAME, first.provider)
    assert again.verifier_key == rotation.new
    assert KEY_FILE_NAME not in key_files(tmp_path / "a")  # not made again at the restart


async def test_the_current_keys_file_is_never_removed(tmp_path: Path, db: Database) -> None:
    """Two rotations, a retention of 0: each pass removes the keys retired so far, never the
    registered one, and a file of the current key survives any age."""
    token, clock = MemoryToken(), Clock()
    gateway = Gateway(tmp_path / "a", db, token, audit_old_key_retention=0)
    trail = await gateway.trail()
    job = files_of(gateway, db, clock)
    clock.now += timedelta(days=3650)
    assert await job.run_once() == []  # no rotation yet: the first key is the current one
    assert key_files(tmp_path / "a") == [KEY_FILE_NAME]

    first = await rotate_log_signing_key(
        gateway.settings, db, NAME, gateway.provider, to="file", reason="move", now=clock.now
    )
    assert await job.run_once() == [tmp_path / "a" / "keys" / KEY_FILE_NAME]
    assert key_files(tmp_path / "a") == [Path(first.where).name]
    assert (await trail.signing_key()).verifier_key == first.new  # it signs on, file gone

    second = await rotate_log_signing_key(
        gateway.settings, db, NAME, gateway.provider, to="file", reason="move", now=clock.now
    )
    assert await job.run_once() == [Path(first.where)]
    assert key_files(tmp_path / "a") == [Path(second.where).name]
    clock.now += timedelta(days=3650)
    assert await job.run_once() == []
    await SqlAuditStore(db).append([event(1)])
    assert (await trail.signing_key()).verifier_key == second.new


async def test_a_token_region_has_no_file_to_remove(tmp_path: Path, db: Database) -> None:
    token, clock = MemoryToken(), Clock()
    gateway = Gateway(tmp_path / "a", db, token, key_provider="pkcs11", audit_old_key_retention=0)
    await gateway.trail()
    await rotate_log_signing_key(
        gateway.settings, db, NAME, gateway.provider, to="hsm", reason="scheduled"
    )
    clock.now += timedelta(days=1)
    assert await files_of(gateway, db, clock).run_once() == []
    assert len(token.pairs) == 2  # the retired pair is the operator's to destroy, with backups


def test_the_retention_setting() -> None:
    assert Settings().audit_old_key_retention == 7 * DAY
    assert Settings(audit_old_key_retention=0).audit_old_key_retention == 0
    for bad in (-1, 315_360_001):
        with pytest.raises(ValueError, match="audit_old_key_retention"):
            Settings(audit_old_key_retention=bad)


async def test_serve_records_each_removal_in_the_platform_log(tmp_path: Path, db: Database) -> None:
    """``app.audit_key_files``, as ``serve`` runs it: a removal is an event of the platform's
    log, by ``andromede:key-retention``, naming the retired key."""
    from andromede.app import audit_key_files

    gateway = Gateway(
        tmp_path / "a", db, MemoryToken(), audit_old_key_retention=0, s3_domain="s3.test",
        region="eu-test-1",
    )  # fmt: skip
    old = await (await gateway.trail()).signing_key()
    await rotate_log_signing_key(
        gateway.settings, db, NAME, gateway.provider, to="file", reason="scheduled"
    )
    store = SqlAuditStore(db)
    audit = AuditService(store)
    removed = await audit_key_files(gateway.settings, db, audit).run_once()
    assert removed == [tmp_path / "a" / "keys" / KEY_FILE_NAME]
    await audit.close()
    head = await store.tree_head(PLATFORM_LOG)
    [entry] = [e for e in await store.entries(PLATFORM_LOG, 0, head.size) if "Retired" in e]
    recorded = json.loads(entry)
    assert recorded["principal"] == "andromede:key-retention"
    assert recorded["action"] == "andromede:DeleteRetiredAuditSigningKeyFile"
    assert recorded["details"]["verifier_key"] == old.verifier_key
