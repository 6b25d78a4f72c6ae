"""Start, stop and kill a real ``andromede serve`` process on a free loopback port.

A server is forked from this test process's launcher (tests/support/launcher.py, decision
0116), which has the application imported already; ``fresh_interpreter=True``, or
``ANDROMEDE_TEST_EXEC_SERVERS=1`` for every server, execs the ``andromede`` console script
instead, as an operator starts it.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from support.launcher import LaunchedServer, launcher
from support.schema import migrated_sqlite

__all__ = [
    "EXEC_SERVERS",
    "REGION",
    "ServerProcess",
    "free_port",
    "running_server",
    "server_logs",
]

REGION = "eu-fr-1"
ANDROMEDE = Path(sys.executable).with_name("andromede")
# Every server exec'd, none forked from the launcher: the way to rule the launcher out.
EXEC_SERVERS = os.environ.get("ANDROMEDE_TEST_EXEC_SERVERS") == "1"

# The log of every server this process started, in order: a failed test's report carries what
# each wrote while it ran (tests/conftest.py), the test's own servers as well as the session's.
_STARTED_LOGS: list[Path] = []


def server_logs() -> list[Path]:
    """The logs of the servers this process started."""
    return list(_STARTED_LOGS)


def free_port() -> int:
    """A loopback port nothing listens on, below the kernel's ephemeral range: a port the
    kernel handed out (bind to 0) can be taken again, before the process it is meant for
    binds it, by any outbound connection of the machine — under a loaded parallel run an
    agent once met "Address already in use" so. Ports below the range are only ever taken
    by an explicit bind, as this one picks them (at random, so parallel pickers rarely meet)."""
    low = _ephemeral_low()
    for _ in range(200):
        port = _PORTS.randrange(_LISTENER_PORTS_FROM, low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # every probe was taken: the kernel's choice, as before
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LISTENER_PORTS_FROM = 20_000
_PORTS = random.SystemRandom()


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768
    return max(low, _LISTENER_PORTS_FROM + 1_000)


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    scheme: str = "http"
    # The management API's own listener; a free port, so parallel servers never collide on 9001.
    api_port: int = field(default_factory=lambda: free_port())
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    # Exec the console script rather than fork from the launcher: for the tests of the
    # ``andromede`` executable itself.
    fresh_interpreter: bool = False
    process: subprocess.Popen[bytes] | LaunchedServer | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def api_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.api_port}"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "admin-credentials"

    def credentials(self) -> tuple[str, str]:
        parser = configparser.ConfigParser()
        parser.read(self.credentials_file)
        section = parser["andromede"]
        return section["aws_access_key_id"], section["aws_secret_access_key"]

    def create_tenant(self, name: str) -> tuple[str, str, str]:
        """Another tenant, made the way an operator makes one (``andromede admin tenant
        create``, on the server's data folder); (account id, access key id, secret)."""
        created = subprocess.run(
            [str(Path(sys.executable).parent / "andromede"), "admin", "tenant", "create", name,
             "--json", "--data-dir", str(self.data_dir)],
            capture_output=True, check=True, text=True, timeout=60,
        )  # fmt: skip
        document = json.loads(created.stdout)
        return (
            document["tenant_id"],
            document["aws_access_key_id"],
            document["aws_secret_access_key"],
        )

    def operator_credentials(self) -> tuple[str, str]:
        parser = configparser.ConfigParser()
        parser.read(self.data_dir / "operator-credentials")
        section = parser["andromede-operator"]
        return section["aws_access_key_id"], section["aws_secret_access_key"]

    # Ready is waited for, not assumed: the bound only says when to give up. Each of the two
    # workers imports the whole application (about 1.5 s on a quick core), and on a slow or
    # loaded CI machine that was seen to take over 20 s; 120 s costs nothing when it is quick.
    def start(self, timeout: float = 120.0) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        if self.log_path not in _STARTED_LOGS:
            _STARTED_LOGS.append(self.log_path)
        env = {
            **os.environ,
            "ANDROMEDE_LOG_LEVEL": "info",
            # A run starts some 250 servers; the 4,096 blob folders each made at start were
            # over a million folders for pytest to delete at the end (minutes of disk work).
            # Made at first write instead; tests/unit/storage tests the start-up layout.
            "ANDROMEDE_BLOB_DIRECTORIES_AT_START": "false",
            **self.extra_env,
        }
        self._seed_new_data_folder(env)
        # The child keeps its own copy of the descriptor; the parent's is closed at once, or it
        # leaks (a ResourceWarning, an error under filterwarnings=error).
        with self.log_path.open("ab") as log:
            if self.fresh_interpreter or EXEC_SERVERS or not launcher().forks_like_exec(env):
                self.process = self._spawn(log, env)
            else:
                self.process = launcher().spawn(
                    self._argv(), env, Path.cwd(), log.fileno(), start_timeout=timeout
                )
        self._wait_ready(timeout)

    def _seed_new_data_folder(self, env: dict[str, str]) -> None:
        """A new data folder on the embedded database starts with a copy of a database at the
        latest schema (support/schema.py), as a folder the server created and migrated itself
        would hold before its first tenant: creating ~130 tables from the models took each new
        server 0.15 to 0.2 s of CPU, some 250 times a run. The creation itself keeps its tests
        (tests/unit/db, and the servers that ``fresh_interpreter`` or a configuration start)."""
        if self.data_dir.exists() or self.fresh_interpreter:
            return
        if "ANDROMEDE_DATABASE_URL" in env or "ANDROMEDE_CONFIG" in env:
            return
        if any(arg == "--config" or arg.startswith("--config=") for arg in self.extra_args):
            return
        self.data_dir.mkdir(mode=0o700, parents=True)
        migrated_sqlite(self.data_dir / "metadata.sqlite3")

    def _argv(self) -> list[str]:
        return [
            str(ANDROMEDE),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--s3-port",
            str(self.port),
            "--api-port",
            str(self.api_port),
            "--region",
            REGION,
            *self.extra_args,
        ]

    def _spawn(self, log: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._argv(), stdout=log, stderr=log, env=env, start_new_session=True
        )

    def _wait_ready(self, timeout: float) -> None:
        """Ready when the admin credentials are written and the server answers HTTP (the port
        accepts connections as soon as the parent has bound it, before any worker serves)."""
        assert self.process is not None and self.log_path is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"andromede serve exited early:\n{self.log_path.read_text()}")
            if self.credentials_file.exists() and self._answers_http():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"andromede serve did not start:\n{self.log_path.read_text()}")

    def _answers_http(self) -> bool:
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as plain:
                if self.scheme == "https":
                    # Only "is something serving?": the test CA is checked by the tests.
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                    with context.wrap_socket(plain) as sock:
                        sock.sendall(request)
                        return sock.recv(12).startswith(b"HTTP/1.1 ")
                plain.sendall(request)
                return plain.recv(12).startswith(b"HTTP/1.1 ")
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        """``kill -9`` the server and its workers at once, as a crash of the machine would."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def pids(self) -> list[int]:
        """The server and its worker processes (the whole tree)."""
        assert self.process is not None
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                queue.extend(int(c) for c in children.read_text().split())
        return found

    def rss_kib(self) -> int:
        """Resident memory of the server and all its workers."""
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total


@contextmanager
def running_server(data_dir: Path, **kwargs: object) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir=data_dir, port=free_port(), **kwargs)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()
