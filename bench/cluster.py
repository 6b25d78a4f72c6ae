"""The Ceph cluster and the PostgreSQL server that the RADOS targets of one run share.

The `rgw*` and `andromede-rados*` targets (bench/rgw.py, bench/andromede_rados.py) run on one
single-node Ceph cluster, bluestore on a sparse file in the run's work dir so that both sides
are durable, made by scripts/ceph-cluster.sh; andromede's metadata go to a private PostgreSQL
with durable commits (scripts/postgres-cluster.sh --durable), a fresh database per target. Both
start once, when the first target needs them (`LazyCluster`), and are stopped, their folders
removed, when the run ends, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.targets import ProcessTree, StartupError

__all__ = [
    "ANDROMEDE_POOL",
    "LazyCluster",
    "SharedCluster",
    "database_url",
    "libpq_url",
]

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
# andromede's own pool; radosgw makes its pools itself (same 8 placement groups each, the
# cluster's default, so neither side gets more OSD parallelism than the other).
ANDROMEDE_POOL = "andromede-bench"
_START_TIMEOUT_S = 300


def database_url(base_url: str, database: str) -> str:
    """``base_url`` (a SQLAlchemy URL) naming another database on the same server."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL as psql takes it: ``postgresql://``, without the driver name."""
    parts = urlsplit(sqlalchemy_url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def _pid_in(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(path.read_text().split()[0])
    return None


@dataclass(frozen=True)
class SharedCluster:
    """A started Ceph cluster (in ``ceph_dir``) and PostgreSQL server (in ``pg_dir``)."""

    ceph_dir: Path
    pg_dir: Path
    pg_url: str

    @property
    def conf(self) -> Path:
        return self.ceph_dir / "ceph.conf"

    @property
    def admin_keyring(self) -> Path:
        return self.ceph_dir / "ceph.client.admin.keyring"

    @property
    def client_keyring(self) -> Path:
        """client.andromede's key: mon r, osd rw (scripts/ceph-cluster.sh)."""
        return self.ceph_dir / "ceph.client.andromede.keyring"

    def ceph(self, *args: str) -> str:
        """Run the `ceph` tool as client.admin; its standard output."""
        command = ["ceph", "--conf", str(self.conf), "--name", "client.admin"]
        command += ["--keyring", str(self.admin_keyring), "--connect-timeout", "30", *args]
        return _checked(command)

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        psql = _pg_bindir() / "psql"
        admin = libpq_url(database_url(self.pg_url, "postgres"))
        _checked(
            [str(psql), admin, "-q", "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"']
        )
        return database_url(self.pg_url, name)

    def purge_pool(self, pool: str) -> None:
        """Remove every object of ``pool`` (the pool stays)."""
        command = ["rados", "--conf", str(self.conf), "--name", "client.admin"]
        command += ["--keyring", str(self.admin_keyring), "purge", pool]
        _checked([*command, "--yes-i-really-really-mean-it"])

    def daemons(self) -> dict[str, ProcessTree]:
        """The shared daemons, for the CPU breakdown: the OSD, mon + mgr, PostgreSQL."""
        run = self.ceph_dir / "run"
        osd = [pid for path in sorted(run.glob("osd.*.pid")) if (pid := _pid_in(path))]
        mon_mgr = [
            pid
            for pattern in ("mon.*.pid", "mgr.*.pid")
            for path in sorted(run.glob(pattern))
            if (pid := _pid_in(path))
        ]
        postmaster = _pid_in(self.pg_dir / "data" / "postmaster.pid")
        return {
            "ceph-osd": ProcessTree(osd),
            "ceph-mon+mgr": ProcessTree(mon_mgr),
            "postgres": ProcessTree([postmaster] if postmaster else []),
        }


def _checked(command: list[str]) -> str:
    """Standard output of ``command``; a StartupError with its last words if it fails."""
    try:
        done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        raise StartupError(f"{command[0]} failed: {exc.stderr.strip()[-500:]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise StartupError(f"{command[0]}: no answer in {exc.timeout}s") from exc
    return done.stdout


def _pg_bindir() -> Path:
    override = os.environ.get("PG_BINDIR")
    if override:
        return Path(override)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise StartupError("PostgreSQL binaries not found (scripts/install-system-deps.sh)")
    return found[-1]


def _script(*args: str) -> str:
    try:
        done = subprocess.run(
            ["bash", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S,
        )
    except subprocess.CalledProcessError as exc:
        tail = "\n".join(exc.stderr.strip().splitlines()[-5:])
        raise StartupError(f"{Path(args[0]).name} {args[1]} failed: {tail}") from exc
    except subprocess.TimeoutExpired as exc:
        raise StartupError(f"{Path(args[0]).name} {args[1]}: no answer in {exc.timeout}s") from exc
    return done.stdout


class LazyCluster:
    """Starts the shared cluster on first `get()`; `close()` stops whatever was started."""

    def __init__(self, directory: Path, pools: tuple[str, ...] = (ANDROMEDE_POOL,)) -> None:
        self._directory = directory
        self._pools = pools
        self._cluster: SharedCluster | None = None
        self._started: list[tuple[str, Path]] = []

    def get(self) -> SharedCluster:
        if self._cluster is None:
            ceph_dir = self._directory / "ceph"
            pg_dir = self._directory / "postgres"
            self._started.append(("ceph-cluster.sh", ceph_dir))
            _script(
                str(SCRIPTS / "ceph-cluster.sh"),
                "start",
                str(ceph_dir),
                "--objectstore",
                "bluestore",
                "--pools",
                " ".join(self._pools),
            )
            self._started.append(("postgres-cluster.sh", pg_dir))
            url = _script(
                str(SCRIPTS / "postgres-cluster.sh"), "start", str(pg_dir), "--durable"
            ).strip()
            self._cluster = SharedCluster(ceph_dir, pg_dir, url)
        return self._cluster

    def close(self) -> None:
        for script, directory in reversed(self._started):
            with contextlib.suppress(StartupError):
                _script(str(SCRIPTS / script), "stop", str(directory))
        self._started.clear()
        self._cluster = None
