"""Ceph RGW (Debian's `radosgw`) as a peer, on the run's shared Ceph cluster (bench/cluster.py).

Each gateway is one `radosgw` process: the beast frontend on 127.0.0.1 with ``tcp_nodelay=1``
(without it, small requests stall near 40 ms on Nagle's algorithm and delayed ACKs), its own
cephx key (``client.rgw.bench-N``: radosgw 16.2 cannot run with ``auth none``), its own section
in a copy of the cluster's ceph.conf, its thread pool at RGW's default. The S3 user is made
once with ``radosgw-admin user create``, which also creates the default realm, zone group and
zone and their pools on first use. RGW's pools get the cluster's default placement-group count,
as andromede's pool does. Several gateways share the user and the cluster; the load generator
spreads its connections over them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.cluster import LazyCluster, SharedCluster
from bench.sigv4 import Credentials
from bench.targets import (
    HOST,
    Endpoint,
    Processes,
    ProcessTree,
    StartupError,
    TargetFactory,
    free_port,
    wait_ready,
)
from bench.workloads import S3Session

__all__ = ["parse_user_credentials", "rgw_section", "rgw_target"]

BENCH_UID = "bench"
# radosgw-admin runs as the first gateway's cephx user.
_ADMIN = "client.rgw.bench-1"
_WARM_UP_BUCKET = "bench-warm-up"
# RGW answers SigV4 for any region; the bench signs for AWS's default one.
REGION = "us-east-1"


def rgw_section(name: str, *, port: int, keyring: Path, data_dir: Path, log_file: Path) -> str:
    """The ceph.conf section of one radosgw instance (``name`` is ``client.rgw.<id>``)."""
    return f"""
[{name}]
keyring = {keyring}
rgw_frontends = beast endpoint={HOST}:{port} tcp_nodelay=1
rgw_data = {data_dir}
log_file = {log_file}
debug_rgw = 0/0
rgw_enable_usage_log = false
rgw_enable_ops_log = false
"""


def parse_user_credentials(output: str, region: str = REGION) -> Credentials:
    """The S3 key pair in ``radosgw-admin user create`` / ``user info`` JSON output."""
    try:
        user = json.loads(output)
        key = user["keys"][0]
        return Credentials(str(key["access_key"]), str(key["secret_key"]), region)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise StartupError("radosgw-admin printed no S3 key for the bench user") from exc


def _admin(conf: Path, name: str, *args: str) -> str:
    command = ["radosgw-admin", "--conf", str(conf), "--name", name, *args]
    try:
        done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=180)
    except subprocess.CalledProcessError as exc:
        raise StartupError(f"radosgw-admin {' '.join(args[:2])}: {exc.stderr.strip()}") from exc
    return done.stdout


def _purge_user(conf: Path) -> None:
    """Remove the bench user with its buckets and objects (no garbage left for RGW's GC)."""
    for bucket in json.loads(_admin(conf, _ADMIN, "bucket", "list", "--uid", BENCH_UID) or "[]"):
        _admin(conf, _ADMIN, "bucket", "rm", "--bucket", bucket, "--purge-objects", "--bypass-gc")
    _admin(conf, _ADMIN, "user", "rm", "--uid", BENCH_UID)


async def _warm_up(session: S3Session) -> None:
    """Write and remove one object: RGW creates its bucket-index and data pools on the first
    bucket and object, and a PUT meanwhile waits seconds for their placement groups, which the
    first measured PUTs would otherwise pay."""
    conn = session.connection()
    try:
        await session.create_bucket(conn, _WARM_UP_BUCKET)
        for method, path, length in (
            ("PUT", f"/{_WARM_UP_BUCKET}/object", 4),
            ("DELETE", f"/{_WARM_UP_BUCKET}/object", None),
            ("DELETE", f"/{_WARM_UP_BUCKET}", None),
        ):
            body = b"warm" if length else b""
            response = await conn.request(session.head(method, path, length=length), body)
            if response.status not in (200, 204):
                raise StartupError(f"RGW warm-up {method} {path}: HTTP {response.status}")
    finally:
        conn.close()


def _version() -> str:
    done = subprocess.run(["radosgw", "--version"], capture_output=True, text=True, check=False)
    words = done.stdout.split()
    return words[2] if len(words) > 2 else "?"


def _start(
    cluster: SharedCluster, workdir: Path, gateways: int, processes: Processes
) -> tuple[list[int], list[int], Credentials]:
    """Keys, config and user; then the radosgw processes. Their ports and pids."""
    names = [f"client.rgw.bench-{n}" for n in range(1, gateways + 1)]
    keyring = workdir / "rgw.keyring"
    keyring.write_text("")
    keyring.chmod(0o600)
    for name in names:
        # mon rw: RGW registers in the service map and creates its pools; osd rwx: its
        # bucket indexes use object classes.
        key = cluster.ceph("auth", "get-or-create", name, "mon", "allow rw", "osd", "allow rwx")
        with keyring.open("a") as out:
            out.write(key)
    ports = [free_port() for _ in names]
    conf = workdir / "ceph.conf"
    sections = [
        rgw_section(
            name,
            port=port,
            keyring=keyring,
            data_dir=workdir / name,
            log_file=workdir / f"{name}.log",
        )
        for name, port in zip(names, ports, strict=True)
    ]
    conf.write_text(cluster.conf.read_text() + "".join(sections))
    for name in names:
        (workdir / name).mkdir()
    output = _admin(conf, _ADMIN, "user", "create", "--uid", BENCH_UID, "--display-name", "bench")
    credentials = parse_user_credentials(output)
    pids = [
        processes.start(
            name,
            ["radosgw", "--conf", str(conf), "--name", name, "--foreground"],
            workdir / f"{name}.stdout",
        )
        for name in names
    ]
    return ports, pids, credentials


def rgw_target(cluster: LazyCluster, gateways: int = 1) -> TargetFactory:
    """``gateways`` radosgw processes on the shared cluster; the bench user and its buckets
    are purged afterwards, so a later RGW target of the run starts empty too."""

    @contextlib.contextmanager
    def target(workdir: Path) -> Iterator[Endpoint]:
        if shutil.which("radosgw") is None:
            raise StartupError("radosgw is not installed (scripts/install-system-deps.sh)")
        shared = cluster.get()
        processes = Processes()
        conf = workdir / "ceph.conf"
        try:
            ports, pids, credentials = _start(shared, workdir, gateways, processes)
            suffix = f"-x{gateways}" if gateways > 1 else ""
            plural = "es" if gateways > 1 else ""
            endpoint = Endpoint(
                name=f"rgw{suffix}",
                description=(
                    f"Ceph RGW {_version()} (radosgw), {gateways} process{plural}, beast "
                    "tcp_nodelay=1, cephx, single-node Ceph bluestore on a sparse file"
                ),
                fsync=True,
                ports=tuple(ports),
                credentials=credentials,
                probe=ProcessTree(pids),
                parts={
                    **{f"gateway {n}": ProcessTree([pid]) for n, pid in enumerate(pids, 1)},
                    **shared.daemons(),
                },
            )
            wait_ready(endpoint, processes, timeout_s=90.0)
            asyncio.run(_warm_up(endpoint.session()))
            yield endpoint
        finally:
            processes.stop_all()
            if conf.exists():
                try:
                    _purge_user(conf)
                except StartupError as exc:  # a later RGW target's CreateBucket will say so
                    print(f"rgw: bench user not purged: {exc}", file=sys.stderr)

    return target
