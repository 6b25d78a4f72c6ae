"""The launcher the suite forks its servers from (tests/support/launcher.py, decision 0116):
a forked ``andromede serve`` is what an exec'd one is to the tests — its own session, the log
on stdout and stderr, the environment and working folder asked for, no descriptor of the
launcher's — and what ``ServerProcess.process`` offers works on it as on ``Popen``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import support.launcher as launcher_module
from support.launcher import LaunchedServer, Launcher, LauncherGone, launcher
from support.server import ServerProcess, free_port, running_server

ONE_WORKER = {"ANDROMEDE_WORKERS": "1"}


def _server(tmp_path: Path, **kwargs: object) -> ServerProcess:
    return ServerProcess(data_dir=tmp_path / "data", port=free_port(), **kwargs)  # type: ignore[arg-type]


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def _banner(log: str, server: ServerProcess) -> str:
    """The banner with what differs from one start to the next (folders, ports) named, and
    without the line breaks rich put in the long paths."""
    start = log.index("Andromède is serving")
    text = re.sub(r"\s+", "", log[start : log.index(" s3 ls", start)])
    text = text.replace(str(server.data_dir), "DATA")
    return re.sub(r"127\.0\.0\.1:\d+", "ADDR", text)


@pytest.fixture(scope="module")
def forked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("forked") / "data"
    with running_server(data_dir, extra_env={"TZ": "Asia/Tokyo"}) as server:
        yield server


def test_a_forked_server_is_a_child_of_the_launcher_in_its_own_session(
    forked: ServerProcess,
) -> None:
    process = forked.process
    assert isinstance(process, LaunchedServer)
    launcher_pid = launcher().pid
    assert launcher_pid is not None
    status = Path(f"/proc/{process.pid}/status").read_text()
    assert f"PPid:\t{launcher_pid}\n" in status
    assert os.getsid(process.pid) == process.pid  # os.killpg reaches it and its workers
    assert len(forked.pids()) >= 3  # the workers are its children, as before
    for fd in (1, 2):
        assert os.readlink(f"/proc/{process.pid}/fd/{fd}") == str(forked.log_path)
    assert os.readlink(f"/proc/{process.pid}/cwd") == str(Path.cwd())
    # Nothing of the launcher's: its channel to this process is no descriptor of the server's.
    assert _socket_inodes(launcher_pid)
    assert not _socket_inodes(launcher_pid) & _socket_inodes(process.pid)


def test_a_forked_server_keeps_the_time_zone_it_was_given(forked: ServerProcess) -> None:
    """The C library's time zone is set as the process starts: the launcher's (UTC here) would
    stamp the log nine hours off Tokyo's."""
    assert forked.log_path is not None
    first = forked.log_path.read_text().splitlines()[0]
    stamped = datetime.strptime(first[:19], "%Y-%m-%d %H:%M:%S")
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
    assert abs(tokyo - stamped) < timedelta(minutes=30), first


def test_the_exit_status_and_signals_go_through_the_pidfd_and_the_launcher(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, extra_env=ONE_WORKER)
    server.start()
    process = server.process
    assert isinstance(process, LaunchedServer)
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(0.1)
    server.kill()  # os.killpg: the server and its workers at once
    assert process.returncode == -signal.SIGKILL
    assert process.poll() == -signal.SIGKILL
    process.send_signal(signal.SIGTERM)  # gone: nothing to signal, as for Popen


def _fails_at_once(tmp_path: Path, **kwargs: object) -> ServerProcess:
    """A start that ``serve`` refuses before it touches its data folder (a configuration
    error, exit 2): the start fails with the log's text."""
    tmp_path.mkdir(exist_ok=True)
    server = _server(tmp_path, extra_args=["--workers", "0"], **kwargs)
    with pytest.raises(RuntimeError, match=r"exited early:(.|\n)*configuration error"):
        server.start()
    assert server.process is not None and server.process.returncode == 2
    return server


def test_a_server_that_exits_at_once_fails_the_start_with_its_log(tmp_path: Path) -> None:
    assert isinstance(_fails_at_once(tmp_path).process, LaunchedServer)


def test_a_dead_launcher_is_started_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A launcher of its own, so that the module's server keeps the one that forked it."""
    own = Launcher()
    monkeypatch.setattr(launcher_module, "_LAUNCHER", own)
    try:
        _fails_at_once(tmp_path / "first")
        dead = own.pid
        assert dead is not None
        os.kill(dead, signal.SIGKILL)
        assert isinstance(_fails_at_once(tmp_path / "second").process, LaunchedServer)
        assert launcher() is own and own.pid not in (None, dead)
    finally:
        own.close()


def test_the_exit_of_a_dead_launcher_s_child_is_lost_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = Launcher()
    monkeypatch.setattr(launcher_module, "_LAUNCHER", own)
    try:
        server = _server(tmp_path, extra_env=ONE_WORKER)
        server.start()
        assert isinstance(server.process, LaunchedServer) and own.pid is not None
        os.kill(own.pid, signal.SIGKILL)
        _fails_at_once(tmp_path / "next")  # a new launcher, which never knew that server
        os.killpg(server.process.pid, signal.SIGKILL)
        with pytest.raises(LauncherGone, match="ended before it reported"):
            server.process.wait(10)
    finally:
        own.close()


def test_what_the_launcher_cannot_give_is_exec_d(tmp_path: Path) -> None:
    """Interpreter settings read only at start (PYTHON*, the locale) cannot be changed in a
    fork: such a server is exec'd, as is one asked for a fresh interpreter."""
    assert launcher().forks_like_exec(dict(os.environ))
    assert not launcher().forks_like_exec({**os.environ, "PYTHONHASHSEED": "7"})
    assert not launcher().forks_like_exec({**os.environ, "LC_ALL": "fr_FR.UTF-8"})
    assert launcher().forks_like_exec({**os.environ, "ANDROMEDE_WORKERS": "1", "TZ": "UTC"})
    server = _fails_at_once(tmp_path, extra_env={"PYTHONHASHSEED": "7"})
    assert isinstance(server.process, subprocess.Popen)
    assert isinstance(_fails_at_once(tmp_path, fresh_interpreter=True).process, subprocess.Popen)


def test_the_console_script_and_the_launcher_print_the_same_banner(tmp_path: Path) -> None:
    """``fresh_interpreter`` execs the ``andromede`` console script (the tests of the
    executable itself); a forked server prints what it prints."""
    banners = []
    for name, fresh in (("exec", True), ("fork", False)):
        (tmp_path / name).mkdir()
        with running_server(
            tmp_path / name / "data", fresh_interpreter=fresh, extra_env=ONE_WORKER
        ) as server:
            expected = subprocess.Popen if fresh else LaunchedServer
            assert isinstance(server.process, expected)
        assert server.process is not None and server.process.returncode == 0  # SIGTERM: drained
        assert server.log_path is not None
        banners.append(_banner(server.log_path.read_text(), server))
    assert banners[0] == banners[1]
    assert "(uvicorn,1worker(s))" in banners[1]  # ANDROMEDE_WORKERS reached it


@pytest.mark.parametrize("program", ["andromede", "aws"])
def test_what_the_launcher_imported_is_frozen_out_of_the_collector_s_reach(program: str) -> None:
    """Decision 0412: the launcher's imports frozen once made (the collector running again),
    so that no forked child's collection walks them: left in reach, the first full pass of
    every server (its argument parsing met one) and aws CLI call walked them all."""
    probe = (
        "import gc, importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('_probe_launcher', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module._import_program(sys.argv[2])\n"
        "print(gc.isenabled(), gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe, launcher_module.__file__, program],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    enabled, frozen, in_reach = answer[0] == "True", int(answer[1]), int(answer[2])
    assert enabled
    assert frozen > 50_000  # the imports: hundreds of thousands of objects
    assert in_reach < frozen / 100
