"""A private Ceph cluster for the tests, and a fresh RADOS namespace for each test that asks.

The cluster comes from ``ANDROMEDE_TEST_CEPH_CONF`` when set: the ``ceph.conf`` of a cluster
made by ``scripts/ceph-cluster.sh`` (``scripts/run-tests.sh`` starts one, memstore, for the
whole run, shared by every xdist worker). Otherwise this session starts its own in a temporary
folder and stops it at the end (about 6 s). With neither, or without ``python3-rados`` linked
into the venv (``scripts/venv-link-rados.sh``), the tests that need Ceph skip, and fail under
``ANDROMEDE_TEST_REQUIRE_ALL=1``.

Isolation: every test gets its own RADOS namespace in the pool ``andromede`` (random name, so
workers sharing the cluster never meet), emptied afterwards.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the module imports rados, which may be missing: imported when needed
    from andromede.storage.blob_rados import RadosBlobStore, RadosCluster, RadosConfig

__all__ = [
    "CephCluster",
    "ceph_cluster",
    "fresh_store",
    "rados_blob_store",
    "rados_client",
    "start_cluster",
    "stop_cluster",
]

ENV_CONF = "ANDROMEDE_TEST_CEPH_CONF"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ceph-cluster.sh"
POOL = "andromede"
USER = "client.andromede"


@dataclass(frozen=True)
class CephCluster:
    """A running cluster made by scripts/ceph-cluster.sh, known by its folder."""

    directory: Path

    @property
    def conf(self) -> Path:
        return self.directory / "ceph.conf"

    @property
    def keyring(self) -> Path:
        return self.directory / "ceph.client.andromede.keyring"

    @property
    def admin_keyring(self) -> Path:
        return self.directory / "ceph.client.admin.keyring"

    def rados_config(self, **overrides: float) -> RadosConfig:
        from andromede.storage.blob_rados import RadosConfig

        return RadosConfig(conf_file=self.conf, keyring=self.keyring, user=USER, **overrides)

    def ceph(self, *args: str) -> str:
        """Run the ``ceph`` tool as client.admin; its standard output."""
        command = ["ceph", "--conf", str(self.conf), "--name", "client.admin"]
        command += ["--keyring", str(self.admin_keyring), "--connect-timeout", "20", *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def start_cluster(directory: Path, *args: str) -> CephCluster:
    """Create and start a cluster in ``directory`` (extra arguments go to ``start``)."""
    result = subprocess.run(
        ["bash", str(SCRIPT), "start", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ceph-cluster.sh start failed:\n{result.stderr[-4000:]}")
    return CephCluster(directory)


def stop_cluster(cluster: CephCluster) -> None:
    subprocess.run(
        ["bash", str(SCRIPT), "stop", str(cluster.directory)],
        capture_output=True,
        timeout=120,
        check=False,
    )


def _rados_importable() -> bool:
    return importlib.util.find_spec("rados") is not None


@pytest.fixture(scope="session")
def ceph_cluster() -> Iterator[CephCluster]:
    if not _rados_importable():
        pytest.skip("python3-rados is not importable (scripts/venv-link-rados.sh)")
    conf = os.environ.get(ENV_CONF)
    if conf:
        yield CephCluster(Path(conf).parent)
        return
    if shutil.which("ceph-mon") is None:
        pytest.skip("Ceph is not installed (scripts/install-system-deps.sh)")
    # Short path: the daemons' unix sockets live in it (108 bytes at most).
    directory = Path(tempfile.mkdtemp(prefix="andromede-ceph."))
    cluster = start_cluster(directory)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def rados_client(ceph_cluster: CephCluster) -> Iterator[RadosCluster]:
    """One librados client for the session: it belongs to no event loop (every operation
    resolves its future on the loop that is running when it is issued)."""
    from andromede.storage.blob_rados import RadosCluster

    client = asyncio.run(RadosCluster.connect(ceph_cluster.rados_config()))
    yield client
    asyncio.run(client.close())


async def fresh_store(client: RadosCluster, **options: int) -> AsyncIterator[RadosBlobStore]:
    """A blob store on a namespace of its own, emptied and closed afterwards."""
    store = await client.blob_store(POOL, namespace=f"test-{uuid.uuid4().hex[:16]}", **options)
    try:
        yield store
    finally:
        await asyncio.to_thread(_empty_namespace, store)
        await store.close()


def _empty_namespace(store: RadosBlobStore) -> None:
    for name in store.object_names():
        store._ioctx.remove_object(name)


@pytest.fixture
async def rados_blob_store(rados_client: RadosCluster) -> AsyncIterator[RadosBlobStore]:
    """A RadosBlobStore on its own namespace, with 4 KiB stripes: small blobs already span
    several stripes, so every contract case also checks striping."""
    async for store in fresh_store(rados_client, stripe_size=4096):
        yield store
