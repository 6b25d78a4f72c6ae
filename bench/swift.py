"""OpenStack Swift with the s3api middleware as a peer, set up from PyPI in a bench-owned folder.

One proxy (2 workers) with tempauth and s3api, one account, container and object server each,
a one-replica ring per service on 127.0.0.1, storage in a folder of the run's working directory
(`mount_check = false`; Swift keeps object metadata in user xattrs, so that filesystem must
support them, which is checked). tempauth keeps tokens in memcached, started on a free port.
Swift's object server fsyncs every object before answering, as Andromède does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.sigv4 import Credentials
from bench.targets import (
    HOST,
    Endpoint,
    Processes,
    ProcessTree,
    StartupError,
    free_port,
    wait_ready,
)

__all__ = ["SWIFT_VERSION", "ensure_memcached", "ensure_swift", "swift_target"]

SWIFT_VERSION = "2.38.*"
PROXY_WORKERS = 2
_ACCOUNT, _USER, _KEY = "test", "tester", "testing"


def ensure_swift(venv: Path) -> Path:
    """The Swift virtualenv's bin folder; installs Swift from PyPI into `venv` if missing."""
    bin_dir = venv / "bin"
    if not (bin_dir / "swift-proxy-server").exists():
        print(f"installing swift {SWIFT_VERSION} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(bin_dir / "pip"), "install", "-q", f"swift=={SWIFT_VERSION}"], check=True
        )
    return bin_dir


def ensure_memcached() -> str:
    """The memcached executable; installs Debian's package if missing (the bench runs as root)."""
    found = shutil.which("memcached")
    if found is None:
        print("installing memcached (apt-get) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "memcached"], check=True)
        found = shutil.which("memcached")
        if found is None:
            raise StartupError("memcached is not installed and apt-get did not install it")
    return found


def _check_xattrs(directory: Path) -> None:
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.bench", b"1")
    except OSError as exc:
        raise StartupError(f"{directory} does not support user xattrs, Swift needs them") from exc
    finally:
        probe.unlink()


def _server_conf(etc: Path, devices: Path, port: int, kind: str, workers: int) -> str:
    return f"""[DEFAULT]
bind_ip = {HOST}
bind_port = {port}
workers = {workers}
user = root
swift_dir = {etc}
devices = {devices}
mount_check = false
log_level = WARNING

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}

[{kind}-replicator]
[{kind}-updater]
[{kind}-auditor]
"""


def _proxy_conf(etc: Path, port: int, memcached_port: int) -> str:
    return f"""[DEFAULT]
bind_ip = {HOST}
bind_port = {port}
workers = {PROXY_WORKERS}
user = root
swift_dir = {etc}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api \
tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_{_ACCOUNT}_{_USER} = {_KEY} .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = {HOST}:{memcached_port}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
"""


def _build_ring(bin_dir: Path, etc: Path, kind: str, port: int) -> None:
    builder = str(etc / f"{kind}.builder")
    tool = str(bin_dir / "swift-ring-builder")
    device = ["--port", str(port), "--device", "d1", "--weight", "100"]
    # Part power 6 is plenty for one device; one replica, no min-part-hours wait.
    commands = [
        [tool, builder, "create", "6", "1", "0"],
        [tool, builder, "add", "--region", "1", "--zone", "1", "--ip", HOST, *device],
        [tool, builder, "rebalance"],
    ]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True, cwd=etc)


@contextlib.contextmanager
def swift_target(workdir: Path, *, venv: Path) -> Iterator[Endpoint]:
    """A running Swift with s3api; stopped (every process group) on exit."""
    bin_dir = ensure_swift(venv)
    memcached = ensure_memcached()
    etc, devices = workdir / "etc", workdir / "srv"
    (devices / "d1").mkdir(parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    _check_xattrs(devices / "d1")
    (etc / "swift.conf").write_text(
        "[swift-hash]\nswift_hash_path_suffix = bench\nswift_hash_path_prefix = bench\n\n"
        "[storage-policy:0]\nname = Policy-0\ndefault = yes\n"
    )
    processes = Processes()
    try:
        ports = {kind: free_port() for kind in ("account", "container", "object")}
        proxy_port, memcached_port = free_port(), free_port()
        workers = {"account": 1, "container": 1, "object": 2}
        for kind, port in ports.items():
            _build_ring(bin_dir, etc, kind, port)
            (etc / f"{kind}-server.conf").write_text(
                _server_conf(etc, devices, port, kind, workers[kind])
            )
        (etc / "proxy-server.conf").write_text(_proxy_conf(etc, proxy_port, memcached_port))
        processes.start(
            "memcached",
            [memcached, "-l", HOST, "-p", str(memcached_port), "-U", "0", "-u", "root"],
            workdir / "memcached.log",
        )
        roots = []
        for kind in ("account", "container", "object", "proxy"):
            roots.append(
                processes.start(
                    f"swift-{kind}-server",
                    [str(bin_dir / f"swift-{kind}-server"), str(etc / f"{kind}-server.conf")],
                    workdir / f"{kind}-server.log",
                )
            )
        version = subprocess.run(
            [str(bin_dir / "python"), "-c", "import swift; print(swift.__version__)"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        endpoint = Endpoint(
            name="swift",
            description=(
                f"Swift {version} + s3api, tempauth, proxy {PROXY_WORKERS} workers, "
                "1 replica, local disk, fsync"
            ),
            fsync=True,
            ports=(proxy_port,),
            credentials=Credentials(f"{_ACCOUNT}:{_USER}", _KEY, "us-east-1"),
            # memcached's CPU counts too: tempauth needs it on every request.
            probe=ProcessTree([*roots, processes.started[0][1].pid]),
        )
        wait_ready(endpoint, processes, timeout_s=90.0)
        yield endpoint
    finally:
        processes.stop_all()
