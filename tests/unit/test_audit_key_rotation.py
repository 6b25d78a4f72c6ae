"""Rotating the region's audit log signing key (decision 0140) over a real SQLite registry:
the transition is recorded with every log's checkpoint signed by both keys, running gateways
pick the new key up from the registry (a key file copied to their keys/ folder, or the token),
their trails verify from the old pinned key, a gateway without the new key says so, a
rotation racing another from the same key fails and leaves no new key behind, and a region
that started on the key file moves into the token."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.api.problems import problem_for
from andromede.audit.errors import SigningKeyMismatch
from andromede.audit.key_registry import RotationConflict, key_transitions, record_rotation
from andromede.audit.model import PLATFORM_LOG, AuditEvent, Outcome
from andromede.audit.signing import (
    KEY_FILE_NAME,
    PUBLIC_KEY_FILE_NAME,
    FileLogSigningKey,
    LogSigningKey,
    TokenLogSigningKey,
)
from andromede.audit.store_sql import SqlAuditStore, registered_signing_key
from andromede.audit.trail import AuditTrail
from andromede.audit.transition import sign_with_both
from andromede.audit.verify import TrailInvalid, verify_trail
from andromede.audit_keys import RegisteredKeys, open_log_signing_key, rotate_log_signing_key
from andromede.db.database import Database, open_database
from andromede.settings import Settings
from support.schema import migrated_sqlite
from support.token_keys import MemoryToken, MemoryTokenKeys

NAME = "s3.test/eu-test-1/audit"
TENANT = "123456789012"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    yield database
    await database.close()


def settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, **overrides)  # type: ignore[arg-type]


def event(n: int, tenant: str | None = TENANT) -> AuditEvent:
    return AuditEvent(
        occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        request_id=f"R{n}",
        tenant_id=tenant,
        principal=None,
        action="iam:CreateUser",
        resource="arn:aws:iam::123456789012:user/u",
        outcome=Outcome.SUCCESS,
    )


class Gateway:
    """One gateway's trail over the shared database: its own data folder and key."""

    def __init__(self, data_dir: Path, db: Database, token: MemoryToken, **overrides: object):
        self.settings = settings(data_dir, **overrides)
        self.db = db
        self.provider = MemoryTokenKeys(token)

    async def trail(self) -> AuditTrail:
        key = await open_log_signing_key(self.settings, self.db, NAME, self.provider)
        keys = RegisteredKeys(self.settings, self.db, key, self.provider)
        return AuditTrail(SqlAuditStore(self.db), key, max_entries=1000, keys=keys)


async def document(trail: AuditTrail, log: str = TENANT) -> dict[str, object]:
    _, chunks = await trail.trail_document(log)
    content: dict[str, object] = json.loads(b"".join([c async for c in chunks]))
    return content


async def test_a_rotation_to_a_key_file_reaches_every_gateway_holding_the_file(
    tmp_path: Path, db: Database
) -> None:
    token = MemoryToken()
    first = Gateway(tmp_path / "a", db, token)
    trail = await first.trail()
    old = await trail.signing_key()
    second_dir = tmp_path / "b"
    (second_dir / "keys").mkdir(parents=True)
    shutil.copy(tmp_path / "a" / "keys" / KEY_FILE_NAME, second_dir / "keys" / KEY_FILE_NAME)
    other = await Gateway(second_dir, db, token).trail()
    store = SqlAuditStore(db)
    await store.append([event(n) for n in range(5)] + [event(9, None)])
    before = await document(trail)

    rotation = await rotate_log_signing_key(
        first.settings, db, NAME, first.provider, to="file", reason="scheduled"
    )
    assert rotation.generation == 1 and rotation.old == old.verifier_key
    new_file = Path(rotation.where)
    assert new_file.parent == tmp_path / "a" / "keys" and new_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "a" / PUBLIC_KEY_FILE_NAME).read_text().strip() == rotation.new
    await store.append([event(n) for n in range(5, 8)])

    # The rotating gateway switches at its next checkpoint; its trail carries the transition
    # and verifies from the old pinned key, and from the new one.
    rotated = await document(trail)
    assert (await trail.signing_key()).verifier_key == rotation.new
    assert len(rotated["key_transitions"]) == 1  # type: ignore[arg-type]
    assert verify_trail(rotated, old.verifier_key).size == 8
    assert verify_trail(rotated, rotation.new).size == 8
    checkpoint = before["checkpoint"]
    assert isinstance(checkpoint, str)
    assert verify_trail(rotated, old.verifier_key, trusted=checkpoint).trusted_size == 5
    # The platform's log has its own transition checkpoint; a log with no entry then, none.
    assert verify_trail(await document(trail, PLATFORM_LOG), old.verifier_key).size == 1
    [none] = await key_transitions(db, NAME, "210987654321")
    assert none.checkpoint is None and none.size is None

    # The other gateway cannot sign until it has the new key file, then signs with it.
    with pytest.raises(SigningKeyMismatch, match="copy the key file a rotation wrote"):
        await other.checkpoint(TENANT)
    shutil.copy(new_file, second_dir / "keys" / new_file.name)
    assert verify_trail(await document(other), old.verifier_key).size == 8
    assert (second_dir / PUBLIC_KEY_FILE_NAME).read_text().strip() == rotation.new
    # Restarted, both open the registered (new) key from their keys/ folders.
    for data_dir in (tmp_path / "a", second_dir):
        reopened = await Gateway(data_dir, db, token).trail()
        assert (await reopened.signing_key()).verifier_key == rotation.new
    assert token.pairs == []


async def test_a_rotation_from_a_stale_key_fails_and_leaves_no_key_behind(
    tmp_path: Path, db: Database
) -> None:
    token = MemoryToken()
    gateway = Gateway(tmp_path / "a", db, token)
    trail = await gateway.trail()
    old = await trail.signing_key()
    await rotate_log_signing_key(
        gateway.settings, db, NAME, gateway.provider, to="file", reason="compromise"
    )
    keys = sorted((tmp_path / "a" / "keys").glob("audit-log*.key"))

    def sign_both(text: str, name: str) -> str:
        return old.sign(text, name)

    with pytest.raises(RotationConflict):
        await record_rotation(db, NAME, old.public_key, bytes(32), "scheduled", sign_both)
    assert len(await key_transitions(db, NAME, TENANT)) == 1
    # A rotation that loses the race at its record (another rotation committed between its
    # read of the registered key and its transaction) removes the key it made: a token pair
    # or a key file.
    hsm = Gateway(tmp_path / "a", db, token, key_provider="pkcs11", audit_signing_key="file")
    for where in ("hsm", "file"):
        current = await trail.signing_key()
        _, other = FileLogSigningKey.create_new(tmp_path / "a" / "keys", NAME)
        keys = sorted((tmp_path / "a" / "keys").glob("audit-log*.key"))
        raced = RacedDatabase(db, before=rotation_to(db, current, other))
        with pytest.raises(RotationConflict):
            await rotate_log_signing_key(
                hsm.settings, raced, NAME, hsm.provider, to=where, reason="scheduled"
            )
        assert token.pairs == []
        assert sorted((tmp_path / "a" / "keys").glob("audit-log*.key")) == keys
    assert len(await key_transitions(db, NAME, TENANT)) == 3  # the two that won
    # One whose commit went through but whose answer was lost keeps its key: the registry
    # names it, and every gateway needs it.
    lossy = RacedDatabase(db, lose_answer=True)
    with pytest.raises(ConnectionError):
        await rotate_log_signing_key(
            hsm.settings, lossy, NAME, hsm.provider, to="file", reason="scheduled"
        )
    registered = await registered_signing_key(db, NAME)
    assert registered is not None
    assert (await trail.signing_key()).public_key == registered
    assert verify_trail(await document(trail), old.verifier_key).key_transitions == 4


class RacedDatabase:
    """The real database, as another gateway and the network can make it look to a rotation:
    ``before``, a write of another gateway committed just before this one's transaction;
    ``lose_answer``, this one's commit done but its answer lost."""

    def __init__(
        self,
        db: Database,
        *,
        before: Callable[[], Awaitable[object]] | None = None,
        lose_answer: bool = False,
    ) -> None:
        self._db, self._before, self._lose_answer = db, before, lose_answer

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)

    async def write(self, function: Callable[[Any], object]) -> object:
        if self._before is not None:
            before, self._before = self._before, None
            await before()
        result = await self._db.write(function)
        if self._lose_answer:
            raise ConnectionError("the connection dropped before the commit's answer")
        return result


def rotation_to(
    db: Database, current: LogSigningKey, other: LogSigningKey
) -> Callable[[], Awaitable[object]]:
    """Another gateway's rotation from ``current`` to ``other``, both signing."""

    def both(text: str, name: str) -> str:
        return sign_with_both(text, name, [current.sign, other.sign])

    return lambda: record_rotation(
        db, NAME, current.public_key, other.public_key, "scheduled", both
    )


async def test_a_region_on_the_key_file_moves_into_the_token(tmp_path: Path, db: Database) -> None:
    token = MemoryToken()
    # A region that started on the key file with a token as root of keys (0134: kept on the
    # file); the token setting alone is refused, and points at the rotation.
    filed = Gateway(tmp_path / "a", db, token, key_provider="pkcs11", audit_signing_key="file")
    trail = await filed.trail()
    old = await trail.signing_key()
    assert isinstance(old, FileLogSigningKey)
    hsm = Gateway(tmp_path / "a", db, token, key_provider="pkcs11")
    with pytest.raises(Exception, match="audit-key rotate --to hsm"):
        await hsm.trail()
    await SqlAuditStore(db).append([event(n) for n in range(4)])

    rotation = await rotate_log_signing_key(
        filed.settings, db, NAME, filed.provider, to="hsm", reason="move"
    )
    assert [pair.public_key for pair in token.pairs] == [await registered_signing_key(db, NAME)]
    assert rotation.where.startswith("PKCS#11 label andromede-audit-log:")
    key: LogSigningKey = await trail.signing_key()
    assert isinstance(key, TokenLogSigningKey)  # the running gateway moved with no restart
    assert verify_trail(await document(trail), old.verifier_key).size == 4
    # Restarted, with the token setting or still the file's, it signs in the token; the old
    # key file no longer matters.
    for gateway in (hsm, filed):
        reopened = await gateway.trail()
        assert isinstance(await reopened.signing_key(), TokenLogSigningKey)
        assert verify_trail(await document(reopened), old.verifier_key).size == 4
    # The old key, once removed, is needed by no verifier holding the trail.
    (tmp_path / "a" / "keys" / KEY_FILE_NAME).unlink()
    assert verify_trail(await document(await hsm.trail()), old.verifier_key).size == 4
    with pytest.raises(TrailInvalid, match="does not verify"):
        verify_trail({**await document(trail), "key_transitions": []}, old.verifier_key)


def test_a_gateway_without_the_new_key_answers_503_naming_no_folder() -> None:
    problem = problem_for(SigningKeyMismatch("the key is in no key file of /srv/data/keys"))
    assert problem is not None
    assert (problem.status, problem.slug) == (503, "signing-key-unavailable")
    assert "/srv" not in problem.detail
