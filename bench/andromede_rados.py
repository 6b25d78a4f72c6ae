"""`andromede serve` in the distributed mode as a target: PostgreSQL metadata, RADOS data.

On the run's shared cluster (bench/cluster.py): a fresh PostgreSQL database per target (durable
commits), object data in the pool `andromede-bench` as the cephx user `client.andromede` (mon r,
osd rw), encryption at rest on as always. ``andromede serve --migrate-only`` brings the schema
up first, as a deployment of several gateways does; then each gateway is one `andromede serve`
with ``workers`` worker processes. ``--workers 1`` makes a gateway one Python process, so one
gateway against one radosgw process compares the two programs on one event loop against a
thread pool, and two against two shows how each scales; ``--workers 2`` is the like-for-like
deployment on two cores (radosgw's threads use every core, andromede's workers do the same,
behind one port). Each target's name and description state both counts. The gateways
share one data folder, which on one machine carries what they must share (the root key file and
the access-key secrets key), as tests/probe/test_many_gateways.py does.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.cluster import ANDROMEDE_POOL, LazyCluster
from bench.targets import (
    HOST,
    Endpoint,
    Processes,
    ProcessTree,
    StartupError,
    TargetFactory,
    free_port,
    read_admin_credentials,
    wait_ready,
)

__all__ = ["andromede_rados_target", "gateway_environment", "target_name"]


def gateway_environment(
    database_url: str, conf: Path, keyring: Path, *, pool: str = ANDROMEDE_POOL
) -> dict[str, str]:
    """The settings, as ANDROMEDE_* variables, of a gateway on PostgreSQL and RADOS."""
    return {
        "ANDROMEDE_DATABASE_URL": database_url,
        "ANDROMEDE_BLOB_BACKEND": "rados",
        "ANDROMEDE_CEPH_CONF": str(conf),
        "ANDROMEDE_CEPH_KEYRING": str(keyring),
        "ANDROMEDE_CEPH_USER": "client.andromede",
        "ANDROMEDE_CEPH_POOL": pool,
    }


def target_name(gateways: int, workers: int, *, inline: bool = False) -> str:
    """``andromede-rados`` with ``-inline`` when small objects stay in the metadata database,
    ``-w<workers>`` past one worker and ``-x<gateways>`` past one gateway: the name says what
    is measured."""
    return (
        "andromede-rados"
        + ("-inline" if inline else "")
        + (f"-w{workers}" if workers > 1 else "")
        + (f"-x{gateways}" if gateways > 1 else "")
    )


def andromede_rados_target(
    cluster: LazyCluster,
    gateways: int = 1,
    server: str = "uvicorn",
    workers: int = 1,
    *,
    pool: str = ANDROMEDE_POOL,
    inline: bool = False,
) -> TargetFactory:
    """``gateways`` `andromede serve` processes of ``workers`` workers each, on the shared
    cluster, writing to ``pool`` (targets running at the same time need a pool each: each one's
    sweeper takes the other's blobs for orphans). ``inline``: the region keeps its small
    objects in the metadata database (decision 0028; the bench's PostgreSQL and Ceph share a
    host, so one jurisdiction), else every object is in RADOS, the default on RADOS."""

    @contextlib.contextmanager
    def target(workdir: Path) -> Iterator[Endpoint]:
        shared = cluster.get()
        executable = Path(sys.executable).parent / "andromede"
        data_dir = workdir / "data"
        region = os.environ.get("ANDROMEDE_REGION", "eu-fr-1")
        database = "bench_" + "".join(c if c.isalnum() else "_" for c in workdir.name)
        env = {
            **os.environ,
            **gateway_environment(
                shared.create_database(database), shared.conf, shared.client_keyring, pool=pool
            ),
        }
        if inline:
            env["ANDROMEDE_INLINE_OBJECT_REGIONS"] = json.dumps([region])
        base = [str(executable), "serve", "--data-dir", str(data_dir), "--region", region]
        migrate = subprocess.run(
            [*base, "--migrate-only"], env=env, capture_output=True, text=True, check=False
        )
        if migrate.returncode != 0:
            raise StartupError(f"andromede serve --migrate-only: {migrate.stderr.strip()[-500:]}")
        processes = Processes()
        try:
            ports: list[int] = []
            pids: list[int] = []
            credentials = None
            for number in range(1, gateways + 1):
                port = free_port()
                argv = [*base, "--s3-host", HOST, "--s3-port", str(port), "--server", server]
                argv += ["--workers", str(workers), "--api-port", "0"]
                log = workdir / f"andromede-{number}.log"
                pids.append(processes.start(f"andromede gateway {number}", argv, log, env=env))
                ports.append(port)
                if credentials is None:
                    # The first start makes the admin tenant; the others find it in the database.
                    credentials = read_admin_credentials(
                        data_dir / "admin-credentials", region, 60.0, processes
                    )
            assert credentials is not None, "at least one gateway"
            plural = "s" if gateways > 1 else ""
            worker_plural = "s" if workers > 1 else ""
            endpoint = Endpoint(
                name=target_name(gateways, workers, inline=inline),
                description=(
                    f"andromede serve --server {server}, {gateways} gateway{plural} of "
                    f"{workers} worker process{worker_plural} each, PostgreSQL (durable "
                    "commits) + RADOS, encrypted at rest, same Ceph cluster"
                    + (", objects up to 16 KiB in PostgreSQL rows" if inline else "")
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
            wait_ready(endpoint, processes)
            yield endpoint
        finally:
            processes.stop_all()
            # As RGW's targets purge their user: the next andromede target starts on an empty
            # pool, else its sweepers would spend its first seconds listing, stat'ing and
            # deleting this target's blobs (orphans to its fresh database).
            try:
                shared.purge_pool(pool)
            except StartupError as exc:
                print(f"andromede-rados: pool not purged: {exc}", file=sys.stderr)

    return target
