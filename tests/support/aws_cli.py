"""The aws CLI (awscli v1, the venv's ``aws`` script) as the tests run it: forked from a launcher
that imported it once, instead of a new interpreter per call.

An exec'd ``aws`` call paid its interpreter's start and the import of awscli, botocore and every
CLI plugin, some 0.55 s of CPU, before the 0.15 s of the call itself (a driver made from the
call's environment, the service's model read, the request); the tests make some 150 calls a
run. :func:`run_aws_cli` forks the call from this test process's ``aws`` launcher
(``support.launcher``, program ``aws``): the child takes the call's argv, environment, working
folder and standard input, and runs the venv's script itself by its path, whose exit status,
standard output and standard error come back as ``subprocess.run`` gives them (decision 0382).

Exec'd as before, when a fork would not be what the exec is: the script names another
interpreter than this process's, the call's interpreter settings (``PYTHON*``, the locale)
differ from the launcher's, or the launcher cannot be started or fails.
``ANDROMEDE_TEST_EXEC_AWS_CLI=1`` execs every call, as ``ANDROMEDE_TEST_EXEC_SERVERS=1`` does
the servers.
"""

from __future__ import annotations

import atexit
import locale
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from support.launcher import LaunchedServer, Launcher, LauncherGone

__all__ = ["aws_launcher", "forks_aws_cli", "run_aws_cli"]

EXEC_AWS_CLI = os.environ.get("ANDROMEDE_TEST_EXEC_AWS_CLI") == "1"


def forks_aws_cli(script: Path, env: Mapping[str, str]) -> bool:
    """Whether ``script`` forked from the launcher is what exec'ing it with ``env`` would run:
    a Python script whose ``#!`` interpreter is this process's (the launcher's), and the
    interpreter settings the launcher started with."""
    try:
        with script.open("rb") as opened:
            first_line = opened.readline(4096)
    except OSError:
        return False
    if not first_line.startswith(b"#!"):
        return False
    interpreter = Path(first_line[2:].decode(errors="replace").strip().split(" ", 1)[0])
    ours = Path(sys.executable)
    # A venv's python and python3 are links to the same binary; the venv is the folder.
    same = interpreter.parent == ours.parent and interpreter.resolve() == ours.resolve()
    return same and aws_launcher().forks_like_exec(env)


def run_aws_cli(
    argv: list[str], env: Mapping[str, str], *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)`` of
    the aws script ``argv[0]``, forked from the launcher where that is what the exec would be."""
    global _LAUNCHER_FAILED
    environment = dict(env)
    if not (EXEC_AWS_CLI or _LAUNCHER_FAILED) and forks_aws_cli(Path(argv[0]), environment):
        with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
            try:
                child = aws_launcher().spawn(
                    argv,
                    environment,
                    Path.cwd(),
                    errors.fileno(),
                    start_timeout=timeout,
                    output=output.fileno(),
                    stdin=_inherited_stdin(),
                    new_session=False,
                )
            except (OSError, LauncherGone, RuntimeError):
                # No child was started (the launcher's log says why): this call and the
                # process's next ones are exec'd. A call is never run twice.
                _LAUNCHER_FAILED = True
            else:
                return _finished(child, argv, timeout, output, errors)
    return subprocess.run(
        argv, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def _finished(
    child: LaunchedServer, argv: list[str], timeout: float, output: IO[bytes], errors: IO[bytes]
) -> subprocess.CompletedProcess[str]:
    try:
        returncode = child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(30)
        raise
    output.seek(0)
    errors.seek(0)
    return subprocess.CompletedProcess(argv, returncode, _text(output.read()), _text(errors.read()))


def _inherited_stdin() -> int | None:
    """This process's standard input, which an exec'd child inherits (``/dev/null`` in an
    xdist worker); ``None`` (the launcher's ``/dev/null``) when it is closed."""
    try:
        os.fstat(0)
    except OSError:
        return None
    return 0


def _text(data: bytes) -> str:
    """Bytes as ``subprocess.run(text=True)`` decodes them: the locale's encoding, strictly,
    universal newlines."""
    decoded = data.decode(locale.getpreferredencoding(False))
    return decoded.replace("\r\n", "\n").replace("\r", "\n")


_AWS_LAUNCHER: Launcher | None = None
_LAUNCHER_FAILED = False


def aws_launcher() -> Launcher:
    """This process's aws CLI launcher (a forked test process gets its own)."""
    global _AWS_LAUNCHER
    if _AWS_LAUNCHER is None or _AWS_LAUNCHER.owner != os.getpid():
        _AWS_LAUNCHER = Launcher(program="aws")
        # Ended with the test process: waited for, so no "still running" warning at exit.
        atexit.register(_AWS_LAUNCHER.close)
    return _AWS_LAUNCHER
