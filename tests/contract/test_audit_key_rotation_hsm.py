"""Moving a region's audit log signing key from the key file into a real SoftHSM2 token
(decision 0140): a gateway started on the key file with the token as root of keys, the
operator's ``andromede admin audit-key rotate --to hsm`` in its own process, and the running
gateway then signs in the token, with no restart; its trail verifies from the key file's
pinned key, with the CLI too; the new pair is sensitive and not extractable; restarted with
the token setting, the gateway keeps the token key, the retired key file removed once
``audit_old_key_retention`` has passed. A region on the token whose key is due rotates on
schedule (``ScheduledRotation``, as ``serve`` runs it, not the command) into the same real
token: the gateway signs with the new pair from its next checkpoint, its trail verifies across
the transition from the pinned first key, and restarted it opens the new pair."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pkcs11 import Attribute, ObjectClass
from typer.testing import CliRunner

from andromede.app import audit_key_name, database_url, migrate
from andromede.audit.model import PLATFORM_LOG, AuditEvent, Outcome
from andromede.audit.signing import (
    KEY_FILE_NAME,
    PUBLIC_KEY_FILE_NAME,
    FileLogSigningKey,
    TokenLogSigningKey,
)
from andromede.audit.store_sql import SqlAuditStore
from andromede.audit.trail import AuditTrail
from andromede.audit.verify import verify_trail
from andromede.audit_keys import (
    AUDIT_KEY_LABEL_PREFIX,
    RegisteredKeys,
    RetiredKeyFiles,
    Rotation,
    ScheduledRotation,
    open_log_signing_key,
)
from andromede.cli.main import app as cli
from andromede.db.database import open_database
from andromede.object_keys import root_key_provider
from andromede.settings import Settings, load_settings
from contract.test_audit_signing_keys import token_session
from support.softhsm import SoftHsm, SoftHsmToken

pytestmark = pytest.mark.slow


def token_settings(data_dir: Path, token: SoftHsmToken, **overrides: object) -> Settings:
    pin_file = data_dir.parent / f"{token.label}.pin"
    pin_file.write_text(token.pin + "\n")
    return load_settings(
        data_dir=data_dir,
        key_provider="pkcs11",
        pkcs11_library=Path(token.library),
        pkcs11_token_label=token.label,
        pkcs11_pin_file=pin_file,
        **overrides,
    )


def event(n: int) -> AuditEvent:
    return AuditEvent(
        occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        request_id=f"R{n}",
        tenant_id=None,
        principal=None,
        action="andromede:CreateTenant",
        resource=f"tenant/{n}",
        outcome=Outcome.SUCCESS,
    )


async def trail_document(trail: AuditTrail) -> dict[str, object]:
    _, chunks = await trail.trail_document(PLATFORM_LOG)
    content: dict[str, object] = json.loads(b"".join([c async for c in chunks]))
    return content


async def test_a_region_on_the_key_file_rotates_into_the_token(
    softhsm: SoftHsm, tmp_path: Path
) -> None:
    token = softhsm.new_token()
    data_dir = tmp_path / "data"
    filed = token_settings(data_dir, token, audit_signing_key="file")
    db = open_database(await migrate(filed))
    provider = root_key_provider(filed)
    name = audit_key_name(filed)
    try:
        key = await open_log_signing_key(filed, db, name, provider)
        assert isinstance(key, FileLogSigningKey)
        pinned_key = key.verifier_key
        trail = AuditTrail(
            SqlAuditStore(db),
            key,
            max_entries=100,
            keys=RegisteredKeys(filed, db, key, provider),
        )
        await SqlAuditStore(db).append([event(n) for n in range(3)])
        before = await trail.checkpoint(PLATFORM_LOG)

        # The operator's command, its own process and its own session on the token.
        env = {
            **os.environ,
            "SOFTHSM2_CONF": str(softhsm.config),
            "ANDROMEDE_DATA_DIR": str(data_dir),
            "ANDROMEDE_KEY_PROVIDER": "pkcs11",
            "ANDROMEDE_PKCS11_LIBRARY": token.library,
            "ANDROMEDE_PKCS11_TOKEN_LABEL": token.label,
            "ANDROMEDE_PKCS11_PIN_FILE": str(filed.pkcs11_pin_file),
            "ANDROMEDE_AUDIT_SIGNING_KEY": "file",
        }
        done = subprocess.run(
            [sys.executable, "-c", "from andromede.cli.main import app; app()",
             "admin", "audit-key", "rotate", "--to", "hsm", "--reason", "move", "--json"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        rotation = json.loads(done.stdout)
        assert rotation["old_verifier_key"] == pinned_key
        assert rotation["generation"] == 1

        # The running gateway signs in the token from its next checkpoint, no restart.
        now = await trail.signing_key()
        assert isinstance(now, TokenLogSigningKey)
        assert now.verifier_key == rotation["verifier_key"]
        await SqlAuditStore(db).append([event(n) for n in range(3, 6)])
        content = await trail_document(trail)
        # 3 events, the rotation's own event (the operator's action, in the platform log), 3.
        assert verify_trail(content, pinned_key, trusted=before.note).size == 7
        trail_file = tmp_path / "trail.json"
        trail_file.write_text(json.dumps(content))
        verify = ["audit", "verify", str(trail_file), "--public-key", str(tmp_path / "old.pub")]
        (tmp_path / "old.pub").write_text(pinned_key + "\n")
        result = CliRunner().invoke(cli, verify)
        assert result.exit_code == 0, result.output
        assert (data_dir / PUBLIC_KEY_FILE_NAME).read_text().strip() == rotation["verifier_key"]

        # The new key is a pair of the token: private, sensitive, never extractable.
        label = AUDIT_KEY_LABEL_PREFIX + name
        with token_session(token) as session:  # this thread, one call at a time
            [private] = session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
            )
            assert private[Attribute.SENSITIVE] is True
            assert private[Attribute.EXTRACTABLE] is False

        # The retired key file goes once audit_old_key_retention has passed (0140's second
        # addendum): not before; the token's pair is never a file to remove.
        retention = filed.model_copy(update={"audit_old_key_retention": 3600.0})
        files = RetiredKeyFiles(retention, db, name)
        assert await files.run_once() == []
        assert (data_dir / "keys" / KEY_FILE_NAME).exists()
        later = datetime.now(UTC) + timedelta(hours=2)
        files = RetiredKeyFiles(retention, db, name, clock=lambda: later)
        assert await files.run_once() == [data_dir / "keys" / KEY_FILE_NAME]
        assert list((data_dir / "keys").glob("audit-log*.key")) == []
        await SqlAuditStore(db).append([event(6)])
        assert verify_trail(await trail_document(trail), pinned_key).size == 8

        # Restarted on the token's setting, the gateway signs with the token key.
        hsm = filed.model_copy(update={"audit_signing_key": "hsm"})
        again = await open_log_signing_key(hsm, db, name, provider)
        assert again.verifier_key == rotation["verifier_key"]
    finally:
        provider.close()
        await db.close()
    assert database_url(filed).startswith("sqlite")


async def test_a_scheduled_rotation_rotates_in_the_real_token(
    softhsm: SoftHsm, tmp_path: Path
) -> None:
    token = softhsm.new_token()
    data_dir = tmp_path / "data"
    hsm = token_settings(data_dir, token, audit_signing_key="hsm", audit_key_rotation_days=90)
    db = open_database(await migrate(hsm))
    provider = root_key_provider(hsm)
    name = audit_key_name(hsm)
    label = AUDIT_KEY_LABEL_PREFIX + name
    try:
        key = await open_log_signing_key(hsm, db, name, provider)
        assert isinstance(key, TokenLogSigningKey)
        pinned_key = key.verifier_key
        trail = AuditTrail(
            SqlAuditStore(db), key, max_entries=100, keys=RegisteredKeys(hsm, db, key, provider)
        )
        await SqlAuditStore(db).append([event(n) for n in range(4)])
        before = await trail.checkpoint(PLATFORM_LOG)

        made: list[Rotation] = []
        now = datetime.now(UTC)
        not_yet = ScheduledRotation(
            hsm, db, name, provider, on_rotation=made.append,
            clock=lambda: now + timedelta(days=89),
        )  # fmt: skip
        assert await not_yet.run_once() is None
        due = ScheduledRotation(
            hsm, db, name, provider, on_rotation=made.append,
            clock=lambda: now + timedelta(days=91),
        )  # fmt: skip
        rotation = await due.run_once()
        assert rotation is not None and made == [rotation]
        assert (rotation.generation, rotation.old) == (1, pinned_key)
        assert rotation.where == f"PKCS#11 label {label}"
        assert await due.run_once() is None  # the new key is not due

        # The running gateway signs in the token with the new pair from its next checkpoint;
        # the trail verifies across the transition from the first key, the earlier trusted.
        now_key = await trail.signing_key()
        assert isinstance(now_key, TokenLogSigningKey)
        assert now_key.verifier_key == rotation.new != pinned_key
        await SqlAuditStore(db).append([event(n) for n in range(4, 7)])
        content = await trail_document(trail)
        verified = verify_trail(content, pinned_key, trusted=before.note)
        assert (verified.size, verified.trusted_size, verified.key_transitions) == (7, 4, 1)
        assert verify_trail(content, rotation.new).size == 7
        assert "\nscheduled\n" in content["key_transitions"][0]["statement"]  # type: ignore[index]
        assert list((data_dir / "keys").glob("audit-log*.key")) == []  # no file, no copy

        # Both pairs in the token, each sensitive and never extractable.
        with token_session(token) as session:
            privates = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
                )
            )
            assert len(privates) == 2
            for private in privates:
                assert private[Attribute.SENSITIVE] is True
                assert private[Attribute.EXTRACTABLE] is False
    finally:
        provider.close()

    # Restarted (a new session on the token), the gateway opens the new pair.
    provider = root_key_provider(hsm)
    try:
        again = await open_log_signing_key(hsm, db, name, provider)
        assert again.verifier_key == rotation.new
    finally:
        provider.close()
        await db.close()
