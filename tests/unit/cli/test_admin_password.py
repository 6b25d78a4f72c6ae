"""``andromede admin user set-password``: the console password the management API's login
checks, read from standard input or a hidden prompt, never from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from andromede.app import open_identity
from andromede.cli.main import app
from andromede.iam.errors import LoginFailed
from andromede.settings import load_settings

PASSWORD = "Correct-Horse-42"


def set_password(data_dir: Path, user: str, password: str, code: int = 0) -> str:
    result = CliRunner().invoke(
        app,
        ["admin", "user", "set-password", user, "--tenant", "acme", "--password-stdin",
         "--data-dir", str(data_dir)],
        input=password + "\n",
    )  # fmt: skip
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert password not in result.stdout + result.stderr
    return result.stderr


def login(data_dir: Path, user: str, password: str) -> str:
    async def work() -> str:
        async with open_identity(load_settings(data_dir=data_dir)) as identity:
            return (await identity.console_login("acme", user, password)).principal.arn

    return asyncio.run(work())


def test_set_then_change_the_roots_password(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = CliRunner().invoke(
        app, ["admin", "tenant", "create", "acme", "--data-dir", str(data_dir)]
    )
    assert created.exit_code == 0
    assert "set" in set_password(data_dir, "root", PASSWORD)
    assert login(data_dir, "root", PASSWORD).endswith(":root")
    set_password(data_dir, "root", PASSWORD + "!")
    with pytest.raises(LoginFailed):  # the old one no longer works
        login(data_dir, "root", PASSWORD)
    assert login(data_dir, "root", PASSWORD + "!").endswith(":root")
    assert "PasswordPolicyViolation" in set_password(data_dir, "root", "short", code=1)
    assert "NoSuchEntity" in set_password(data_dir, "nobody", PASSWORD, code=1)
