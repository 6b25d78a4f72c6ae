"""``andromede admin audit-key rotate`` (decision 0140) through typer's runner on a temporary
data folder: a rotation to a key file prints the transition, writes the new key file (0600),
publishes the new verifier key and is an event of the platform's log; a region with no key
yet, and a rotation into the HSM without a token, fail with a message and exit 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from andromede.app import audit_key_name, migrate
from andromede.audit.signing import PUBLIC_KEY_FILE_NAME, FileLogSigningKey
from andromede.audit.store_sql import register_signing_key
from andromede.cli.main import app
from andromede.db.database import open_database
from andromede.settings import load_settings
from unit.cli.test_admin_audit import events


def rotate(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["admin", "audit-key", "rotate", *args, "--data-dir", str(data_dir)]
    )
    return result.exit_code, result.stdout, " ".join(result.stderr.split())  # rich wraps lines


def start(data_dir: Path) -> FileLogSigningKey:
    """What a first start does for the key: made in keys/, registered."""
    settings = load_settings(data_dir=data_dir)

    async def work() -> FileLogSigningKey:
        db = open_database(await migrate(settings))
        try:
            key = FileLogSigningKey.load_or_create(
                data_dir / "keys" / "audit-log.key", audit_key_name(settings)
            )
            await register_signing_key(db, key.name, key.public_key)
            return key
        finally:
            await db.close()

    return asyncio.run(work())


def test_a_rotation_to_a_key_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    code, _, err = rotate(data_dir, "--to", "file")
    assert code == 1 and "is registered yet: nothing to rotate" in err
    old = start(data_dir)
    code, out, err = rotate(data_dir, "--to", "file", "--reason", "compromise", "--json")
    assert code == 0, err
    rotation = json.loads(out)
    assert rotation["generation"] == 1 and rotation["old_verifier_key"] == old.verifier_key
    new_file = Path(rotation["where"])
    assert new_file.stat().st_mode & 0o777 == 0o600
    assert FileLogSigningKey.load(new_file, old.name).verifier_key == rotation["verifier_key"]
    published = (data_dir / PUBLIC_KEY_FILE_NAME).read_text().strip()
    assert published == rotation["verifier_key"]
    assert "copy that file to the keys/ folder of every other gateway" in err
    assert "compromised key" in err
    [(tenant, action, resource, _)] = events(data_dir)
    assert (tenant, action, resource) == (
        None,
        "andromede:RotateAuditSigningKey",
        "audit-signing-key/1",
    )
    code, out, _ = rotate(data_dir, "--to", "file")
    assert code == 0 and out.startswith("generation 2: ")


def test_a_rotation_into_the_hsm_needs_a_token(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    start(data_dir)
    code, _, err = rotate(data_dir, "--to", "hsm")
    assert code == 1 and "needs key_provider = pkcs11" in err
    assert sorted(p.name for p in (data_dir / "keys").glob("audit-log*.key")) == ["audit-log.key"]
