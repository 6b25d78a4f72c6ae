"""The servers under test: starting them, waiting for them, measuring them, stopping them.

Every server is started in its own session (process group) so that stopping it reaches the
workers it forks; `Processes.stop_all` runs from a `finally`, so Ctrl-C or a failure in the
bench never leaves a server behind. Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bench.sigv4 import Credentials, Signer
from bench.workloads import S3Session

__all__ = [
    "Endpoint",
    "ProcessTree",
    "Processes",
    "StartupError",
    "TargetFactory",
    "andromede_target",
    "free_port",
    "moto_target",
    "read_admin_credentials",
    "restored_environment",
    "wait_ready",
]

HOST = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class StartupError(RuntimeError):
    """A server did not come up; the message names its log file."""


@contextlib.contextmanager
def restored_environment(names: Iterable[str]) -> Iterator[dict[str, str | None]]:
    """The values of the environment variables ``names`` now (None: unset), which the caller
    may change while the block runs: on leaving, each is set back, or removed, as it was."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield saved
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ProcessTree:
    """Resource use of some root processes and all their descendants, read from /proc."""

    roots: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        found: list[int] = []
        pending = list(self.roots)
        while pending:
            pid = pending.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as children:
                        pending.extend(int(child) for child in children.read().split())
        return found

    def cpu_seconds(self) -> float:
        ticks = 0
        for pid in self.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
                # Fields after the parenthesised command: utime and stime are 14th and 15th.
                fields = stat.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        return ticks / _CLOCK_TICKS

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * _PAGE
        return total


@dataclass
class Processes:
    """The processes one target started; stops them all, whole process groups first."""

    started: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], log: Path, **kwargs: object) -> int:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,  # type: ignore[call-overload]
            )
        self.started.append((name, process, log))
        return int(process.pid)

    def check_alive(self) -> None:
        for name, process, log in self.started:
            if process.poll() is not None:
                raise StartupError(f"{name} exited with {process.returncode}; see {log}")

    def stop_all(self) -> None:
        for _, process, _ in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process, _ in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Workers that outlived their parent are still in the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.started.clear()


@dataclass(frozen=True)
class Endpoint:
    """A running server under test and how to reach and measure it.

    A target of several gateways has one port per gateway; the load generator spreads its
    connections over them. ``parts`` names the processes whose CPU time is reported apart
    (each gateway, and the shared Ceph and PostgreSQL daemons behind them); ``probe`` is the
    server's own processes, those its "server CPU" figure counts.
    """

    name: str
    description: str
    fsync: bool
    ports: tuple[int, ...]
    credentials: Credentials
    probe: ProcessTree
    parts: Mapping[str, ProcessTree] = field(default_factory=dict)
    # The buckets' default encryption set before the runs (``aws:kms``, ``aws:kms:dsse``);
    # None: the server's own default (SSE-S3 for andromede).
    default_encryption: str | None = None

    def session(self) -> S3Session:
        """A session on the first gateway."""
        return self.sessions()[0]

    def sessions(self) -> list[S3Session]:
        """One session per gateway (each signs for its own ``Host``)."""
        return [
            S3Session(Signer(self.credentials, f"{HOST}:{port}"), HOST, port) for port in self.ports
        ]


# Given a fresh working directory, yields a running endpoint and stops it on exit.
TargetFactory = Callable[[Path], AbstractContextManager[Endpoint]]


async def _list_buckets_status(session: S3Session) -> int:
    conn = session.connection()
    try:
        return (await conn.request(session.head("GET", "/"))).status
    finally:
        conn.close()


def wait_ready(endpoint: Endpoint, processes: Processes, timeout_s: float = 60.0) -> None:
    """Poll until every gateway's port accepts connections and a signed ListBuckets answers
    200 on it."""
    deadline = time.monotonic() + timeout_s
    last = "no connection"
    pending = endpoint.sessions()
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            with socket.create_connection((HOST, pending[0].port), timeout=1):
                pass
            status = asyncio.run(_list_buckets_status(pending[0]))
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if status == 200:
                pending.pop(0)
                if not pending:
                    return
                continue
            last = f"ListBuckets answered {status}"
        time.sleep(0.2)
    logs = ", ".join(str(log) for _, _, log in processes.started)
    raise StartupError(f"{endpoint.name} not ready after {timeout_s:.0f}s ({last}); see {logs}")


@contextlib.contextmanager
def moto_target(workdir: Path) -> Iterator[Endpoint]:
    """moto's server mode: every object in memory, nothing written to disk."""
    from importlib.metadata import version

    processes = Processes()
    try:
        port = free_port()
        pid = processes.start(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            workdir / "moto.log",
        )
        endpoint = Endpoint(
            name="moto",
            description=f"moto {version('moto')} server, in memory, no fsync",
            fsync=False,
            ports=(port,),
            credentials=Credentials("bench", "bench-secret", "us-east-1"),
            probe=ProcessTree([pid]),
        )
        wait_ready(endpoint, processes)
        yield endpoint
    finally:
        processes.stop_all()


def read_admin_credentials(
    path: Path, region: str, timeout_s: float, processes: Processes
) -> Credentials:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        processes.check_alive()
        if path.exists():
            parser = configparser.ConfigParser()
            parser.read(path)
            if parser.has_option("andromede", "aws_secret_access_key"):
                section = parser["andromede"]
                return Credentials(
                    section["aws_access_key_id"], section["aws_secret_access_key"], region
                )
        time.sleep(0.1)
    raise StartupError(f"andromede wrote no {path} within {timeout_s:.0f}s")


def andromede_target(
    server: str,
    *,
    encrypted: bool = True,
    launcher: Sequence[str] = (),
    default_encryption: str | None = None,
) -> TargetFactory:
    """`andromede serve` on a fresh data dir, with the given ASGI server.

    ``encrypted=False`` sets the benchmark-only switch ``bench_unencrypted`` (new blobs stored
    in clear): the reference that the cost of encryption at rest is measured against. Never a
    production setting. ``launcher`` is put before the command (``valgrind --tool=callgrind
    ...`` for ``bench.instructions``), which must run it in the same process.
    ``default_encryption``: the buckets' default (``aws:kms``, ``aws:kms:dsse``), to measure
    SSE-KMS and DSSE-KMS against the SSE-S3 default.
    """
    suffix = "" if encrypted else "-plain"
    if default_encryption is not None:
        suffix += "-" + default_encryption.removeprefix("aws:").replace(":", "-")

    @contextlib.contextmanager
    def target(workdir: Path) -> Iterator[Endpoint]:
        executable = Path(sys.executable).parent / "andromede"
        data_dir = workdir / "data"
        processes = Processes()
        try:
            port = free_port()
            region = os.environ.get("ANDROMEDE_REGION", "eu-fr-1")
            argv = [*launcher, str(executable), "serve", "--data-dir", str(data_dir)]
            argv += ["--region", region]
            argv += ["--s3-host", HOST, "--s3-port", str(port), "--server", server]
            argv += ["--api-port", "0"]  # the management API is not measured: any free port
            env = {**os.environ}
            if not encrypted:
                env["ANDROMEDE_BENCH_UNENCRYPTED"] = "1"
            pid = processes.start("andromede", argv, workdir / "andromede.log", env=env)
            credentials = read_admin_credentials(
                data_dir / "admin-credentials", region, 180.0, processes
            )
            endpoint = Endpoint(
                name=f"andromede-{server}{suffix}",
                description=f"andromede serve --server {server}, local disk, fsync, "
                + (
                    f"bucket default {default_encryption}"
                    if default_encryption
                    else "encrypted at rest"
                    if encrypted
                    else "UNENCRYPTED (bench switch)"
                ),
                fsync=True,
                ports=(port,),
                credentials=credentials,
                probe=ProcessTree([pid]),
                default_encryption=default_encryption,
            )
            wait_ready(endpoint, processes)
            yield endpoint
        finally:
            processes.stop_all()

    return target
