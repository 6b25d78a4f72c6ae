"""``andromede admin``: driven through typer's runner on a temporary data folder."""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from andromede.app import open_identity, prepare
from andromede.cli.main import app
from andromede.iam.model import PrincipalKind
from andromede.kms.errors import KeyDestroyed
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.settings import load_settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run(data_dir: Path, *args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["admin", *args, "--data-dir", str(data_dir)])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def resolve(data_dir: Path, key_id: str) -> tuple[str, PrincipalKind, str | None]:
    """Resolve a key the way a server would (the commands run their own event loop, so the
    tests are synchronous too)."""

    async def work() -> tuple[str, PrincipalKind, str | None]:
        async with open_identity(load_settings(data_dir=data_dir)) as identity:
            secret, principal = await identity.resolve_access_key(key_id, allow_operator=True)
        return secret, principal.kind, principal.tenant_id

    return asyncio.run(work())


def test_tenant_create_prints_a_credentials_profile(data_dir: Path) -> None:
    stdout, stderr = run(data_dir, "tenant", "create", "acme")
    profile = configparser.ConfigParser()
    profile.read_string(stdout)
    assert profile.sections() == ["acme"]
    key_id = profile["acme"]["aws_access_key_id"]
    secret, kind, tenant_id = resolve(data_dir, key_id)
    assert secret == profile["acme"]["aws_secret_access_key"]
    assert kind is PrincipalKind.ROOT and tenant_id is not None and tenant_id in stderr
    run(data_dir, "tenant", "create", "acme", code=1)  # taken
    run(data_dir, "tenant", "create", "Bad Name", code=1)


def test_tenant_create_json_list_and_lifecycle(data_dir: Path) -> None:
    created = json.loads(run(data_dir, "tenant", "create", "beta", "--json")[0])
    assert created["name"] == created["profile"] == "beta"
    assert created["aws_access_key_id"].startswith("AKIA")
    run(data_dir, "tenant", "create", "acme")
    listed = json.loads(run(data_dir, "tenant", "list", "--json")[0])
    assert [(t["name"], t["status"]) for t in listed] == [("acme", "active"), ("beta", "active")]
    table = run(data_dir, "tenant", "list")[0]
    assert "beta" in table and created["tenant_id"] in table
    run(data_dir, "tenant", "suspend", "beta")
    with pytest.raises(Exception, match="does not exist"):
        resolve(data_dir, created["aws_access_key_id"])
    run(data_dir, "tenant", "reactivate", created["tenant_id"])  # by account id
    resolve(data_dir, created["aws_access_key_id"])
    run(data_dir, "tenant", "close", "beta")
    _, stderr = run(data_dir, "tenant", "reactivate", "beta", code=1)
    assert "InvalidTenantTransition" in stderr
    run(data_dir, "tenant", "suspend", "nobody", code=1)
    listed = json.loads(run(data_dir, "tenant", "list", "--json")[0])
    assert [t["status"] for t in listed] == ["active", "closed"]


def test_users(data_dir: Path) -> None:
    run(data_dir, "tenant", "create", "acme")
    created = json.loads(
        run(data_dir, "user", "create", "alice", "--tenant", "acme", "--json", "--path", "/eng/")[0]
    )
    assert created["arn"].endswith(":user/eng/alice")
    stdout, _ = run(data_dir, "user", "create", "bob", "--tenant", "acme", "--access-key")
    profile = configparser.ConfigParser()
    profile.read_string(stdout)
    _, kind, _ = resolve(data_dir, profile["acme-bob"]["aws_access_key_id"])
    assert kind is PrincipalKind.USER
    users = json.loads(run(data_dir, "user", "list", "--tenant", "acme", "--json")[0])
    assert [u["user_name"] for u in users] == ["alice", "bob"]
    assert "alice" in run(data_dir, "user", "list", "--tenant", "acme")[0]
    run(data_dir, "user", "delete", "alice", "--tenant", "acme")
    _, stderr = run(data_dir, "user", "delete", "bob", "--tenant", "acme", code=1)
    assert "DeleteConflict" in stderr  # bob still has a key
    run(data_dir, "user", "list", "--tenant", "nobody", code=1)


def test_operator_create(data_dir: Path) -> None:
    created = json.loads(run(data_dir, "operator", "create", "ops", "--json")[0])
    assert created["arn"] == "arn:andromede:platform::operator/ops"
    _, kind, tenant_id = resolve(data_dir, created["aws_access_key_id"])
    assert kind is PrincipalKind.OPERATOR and tenant_id is None
    stdout, _ = run(data_dir, "operator", "create", "night-shift")
    assert stdout.startswith("[andromede-operator-night-shift]\n")
    run(data_dir, "operator", "create", "ops", code=1)


def test_first_start_writes_tenant_and_operator_credentials(data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir)
    first = asyncio.run(prepare(settings))
    assert first is not None and first.tenant.name == "admin"
    assert asyncio.run(prepare(settings)) is None
    operator = configparser.ConfigParser()
    operator.read(settings.operator_credentials_path)
    assert operator.sections() == ["andromede-operator"]
    assert stat.S_IMODE(os.stat(settings.operator_credentials_path).st_mode) == 0o600
    _, kind, tenant_id = resolve(data_dir, operator["andromede-operator"]["aws_access_key_id"])
    assert kind is PrincipalKind.OPERATOR and tenant_id is None
    admin = configparser.ConfigParser()
    admin.read(settings.credentials_path)
    _, kind, _ = resolve(data_dir, admin["andromede"]["aws_access_key_id"])
    assert kind is PrincipalKind.ROOT  # the first tenant stays an ordinary tenant


def test_tenant_close_crypto_shreds_its_keys(data_dir: Path) -> None:
    created = json.loads(run(data_dir, "tenant", "create", "gamma", "--json")[0])
    kept = json.loads(run(data_dir, "tenant", "create", "delta", "--json")[0])
    keys = KeyService(LocalKeyFileProvider(data_dir / "keys"))
    try:
        keys.create_tenant_key(created["tenant_id"])
        keys.create_tenant_key(kept["tenant_id"])
        shredded = keys.new_data_key(created["tenant_id"]).wrapped
        untouched = keys.new_data_key(kept["tenant_id"]).wrapped
    finally:
        keys.close()
    _, stderr = run(data_dir, "tenant", "close", "gamma")
    assert "closed" in stderr
    after = KeyService(LocalKeyFileProvider(data_dir / "keys"))
    try:
        with pytest.raises(KeyDestroyed):
            after.unwrap_data_key(created["tenant_id"], shredded)
        assert after.unwrap_data_key(kept["tenant_id"], untouched)
    finally:
        after.close()
