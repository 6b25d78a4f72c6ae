"""The aws CLI forked from a launcher that imported it (tests/support/aws_cli.py, decision 0382):
a forked call is what the exec'd script is to the tests — the same exit status, standard output
and standard error, the call's own argv, environment, working folder and standard input, no
state left from the call before — and a call the launcher cannot give is exec'd."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import support.aws_cli as aws_cli_module
from support.aws_cli import aws_launcher, forks_aws_cli, run_aws_cli
from support.launcher import Launcher

# The venv the tests run in is the one whose aws the e2e tests call (e2e.helpers.client_binary).
AWS = Path(sys.executable).parent / "aws"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No credentials or configuration of the developer's: a folder of the test's own."""
    home = tmp_path / "home"
    home.mkdir()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID="AKIDFORKEDCLI",
        AWS_SECRET_ACCESS_KEY="not-a-secret",
        AWS_DEFAULT_REGION="eu-west-3",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_PAGER="",
    )
    return environment


def _script(tmp_path: Path, body: str, interpreter: str = sys.executable) -> Path:
    script = tmp_path / "probe-script"
    script.write_text(f"#!{interpreter}\n{body}")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["configure", "list"],
        ["sts", "get-caller-identity", "--endpoint-url", "http://127.0.0.1:9"],
        ["no-such-command"],
        ["kms", "encrypt", "--key-id"],
    ],
)
def test_a_forked_call_answers_as_the_exec_d_script(args: list[str], env: dict[str, str]) -> None:
    if not AWS.exists():
        pytest.skip("aws not installed in the venv")
    assert forks_aws_cli(AWS, env)
    argv = [str(AWS), "--cli-connect-timeout", "1", *args]
    exec_d = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    forked = run_aws_cli(argv, env, timeout=120)
    assert (forked.args, forked.returncode) == (argv, exec_d.returncode)
    assert (forked.stdout, forked.stderr) == (exec_d.stdout, exec_d.stderr)
    assert forked.stdout or forked.stderr


def test_each_call_reads_its_own_environment(env: dict[str, str]) -> None:
    if not AWS.exists():
        pytest.skip("aws not installed in the venv")
    first = run_aws_cli([str(AWS), "configure", "list"], env, timeout=120)
    other = {**env, "AWS_ACCESS_KEY_ID": "AKIDANOTHERONE", "AWS_DEFAULT_REGION": "us-west-2"}
    second = run_aws_cli([str(AWS), "configure", "list"], other, timeout=120)
    # The CLI shows the access key's last four characters.
    assert "DCLI" in first.stdout and "eu-west-3" in first.stdout
    assert "RONE" in second.stdout and "us-west-2" in second.stdout
    assert "DCLI" not in second.stdout and "eu-west-3" not in second.stdout


@pytest.fixture
def stdin_from_pipe() -> Iterator[int]:
    """This process's standard input a pipe whose write end the test gets."""
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)
    os.close(read_end)
    try:
        yield write_end
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def test_the_child_takes_argv_environment_folder_stdin_and_exit_status(
    tmp_path: Path, stdin_from_pipe: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(
        tmp_path,
        "import os, sys\n"
        "print(sys.argv[1:], os.environ['PROBE'], os.getcwd(), os.getppid())\n"
        "print(sys.stdin.read(), end='', file=sys.stderr)\n"
        "sys.exit(7)\n",
    )
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    os.write(stdin_from_pipe, b"what the caller piped in\r\nsecond line")
    os.close(stdin_from_pipe)
    env = {**os.environ, "PROBE": "one"}
    result = run_aws_cli([str(script), "a b", "c"], env, timeout=60)
    assert result.returncode == 7
    assert result.stdout == f"['a b', 'c'] one {folder} {aws_launcher().pid}\n"
    # Decoded as subprocess.run(text=True) does: universal newlines.
    assert result.stderr == "what the caller piped in\nsecond line"


def test_a_script_of_another_interpreter_is_exec_d(tmp_path: Path) -> None:
    script = _script(
        tmp_path, "import os\nprint(os.getppid())\n", interpreter="/usr/bin/env python3"
    )
    assert not forks_aws_cli(script, dict(os.environ))
    assert not forks_aws_cli(tmp_path / "missing", dict(os.environ))
    result = run_aws_cli([str(script)], dict(os.environ), timeout=60)
    assert result.returncode == 0
    assert result.stdout == f"{os.getpid()}\n"


def test_other_interpreter_settings_are_exec_d(tmp_path: Path) -> None:
    script = _script(tmp_path, "import os\nprint(os.getppid())\n")
    env = {**os.environ, "PYTHONHASHSEED": "7"}
    assert not forks_aws_cli(script, env)
    assert run_aws_cli([str(script)], env, timeout=60).stdout == f"{os.getpid()}\n"
    # botocore reads BOTO_DISABLE_CRT as it is imported.
    other = "true" if os.environ.get("BOTO_DISABLE_CRT") != "true" else "false"
    assert not forks_aws_cli(script, {**os.environ, "BOTO_DISABLE_CRT": other})


class _BrokenLauncher(Launcher):
    def spawn(self, *args: object, **kwargs: object) -> aws_cli_module.LaunchedServer:
        raise OSError("no launcher here")


def test_a_launcher_that_cannot_start_leaves_the_calls_exec_d(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path, "import os\nprint(os.getppid())\n")
    monkeypatch.setattr(aws_cli_module, "_AWS_LAUNCHER", _BrokenLauncher(program="aws"))
    monkeypatch.setattr(aws_cli_module, "_LAUNCHER_FAILED", False)
    for _ in range(2):
        result = run_aws_cli([str(script)], dict(os.environ), timeout=60)
        assert result.stdout == f"{os.getpid()}\n"
    assert aws_cli_module._LAUNCHER_FAILED


def test_a_call_past_its_timeout_is_killed_and_reaped(tmp_path: Path) -> None:
    script = _script(tmp_path, "import time\ntime.sleep(120)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run_aws_cli([str(script)], dict(os.environ), timeout=3)
    launcher_pid = aws_launcher().pid
    assert launcher_pid is not None
    assert Path(f"/proc/{launcher_pid}/task/{launcher_pid}/children").read_text() == ""


def test_every_call_is_exec_d_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script(tmp_path, "import os\nprint(os.getppid())\n")
    assert run_aws_cli([str(script)], dict(os.environ), timeout=60).stdout != f"{os.getpid()}\n"
    monkeypatch.setattr(aws_cli_module, "EXEC_AWS_CLI", True)
    assert run_aws_cli([str(script)], dict(os.environ), timeout=60).stdout == f"{os.getpid()}\n"


def test_what_the_imports_took_from_home_is_the_call_s(env: dict[str, str]) -> None:
    """awscli and botocore derive paths from the home folder as they are imported (the alias
    file, the user's models, the caches): a forked call reads its own HOME's."""
    if not AWS.exists():
        pytest.skip("aws not installed in the venv")
    aliases = Path(env["HOME"]) / ".aws" / "cli" / "alias"
    aliases.parent.mkdir(parents=True)
    aliases.write_text(
        "[toplevel]\nwhoami = sts get-caller-identity --endpoint-url http://127.0.0.1:9\n"
    )
    argv = [str(AWS), "--cli-connect-timeout", "1", "whoami"]
    exec_d = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    forked = run_aws_cli(argv, env, timeout=120)
    assert "invalid choice" not in exec_d.stderr
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        exec_d.returncode,
        exec_d.stdout,
        exec_d.stderr,
    )
