"""``andromede xks-proxy``'s commands that need no token: new-credential, and serve's refusals."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from andromede.cli.main import app
from andromede.xks.credentials import load_credentials

runner = CliRunner()


def test_new_credential_prints_the_kms_console_file() -> None:
    result = runner.invoke(app, ["xks-proxy", "new-credential", "--uri-path-prefix", "/t-1"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["XksProxyUriPath"] == "/t-1/kms/xks/v1"
    credential = printed["XksProxyAuthenticationCredential"]
    assert set(credential) == {"AccessKeyId", "RawSecretAccessKey"}


def test_new_credential_appends_to_a_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    ids = []
    for _ in range(2):
        result = runner.invoke(app, ["xks-proxy", "new-credential", "--append-to", str(path)])
        assert result.exit_code == 0, result.output
        ids.append(json.loads(result.stdout)["XksProxyAuthenticationCredential"]["AccessKeyId"])
    assert [c.access_key_id for c in load_credentials(path)] == ids
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(tomllib.loads(path.read_text())["credentials"]) == 2
    as_json = tmp_path / "credentials.json"
    result = runner.invoke(app, ["xks-proxy", "new-credential", "--append-to", str(as_json)])
    assert result.exit_code == 0
    assert len(load_credentials(as_json)) == 1


def test_new_credential_refuses_an_eleventh(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    for _ in range(10):
        assert (
            runner.invoke(app, ["xks-proxy", "new-credential", "--append-to", str(path)]).exit_code
            == 0
        )
    result = runner.invoke(app, ["xks-proxy", "new-credential", "--append-to", str(path)])
    assert result.exit_code == 2
    assert "10 credentials" in result.output
    assert len(load_credentials(path)) == 10


def test_serve_refuses_bad_settings_before_touching_anything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANDROMEDE_XKS_")}
    args = [
        "xks-proxy", "serve", "--tls-cert", "c", "--tls-key", "k", "--credentials-file", "c",
        "--pkcs11-module", "m", "--token-label", "t", "--pin-file", "p",
        "--audit-log", str(tmp_path / "audit.log"), "--max-body-size", "100",
    ]  # fmt: skip
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2
    assert "max_body_size" in result.output
    assert not (tmp_path / "audit.log").exists()


def test_the_pin_is_no_option() -> None:
    result = runner.invoke(app, ["xks-proxy", "create-key", "--help"])
    assert "--pin-file" in result.output
    assert "--pin " not in result.output
