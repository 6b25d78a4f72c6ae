"""An RBD pool for the hypervisor's volumes in the tests' Ceph cluster, a namespace per test.

The pool ``andromede-volumes`` is made in the cluster of :mod:`support.ceph` (the one
``scripts/run-tests.sh`` starts, or the session's own) the first time a session asks, initialised
for RBD, with the user ``client.andromede-volumes`` whose caps are what an operator gives a
hypervisor host: ``profile rbd`` on the monitors (it may blocklist a dead host's client to take
over its volume's lock) and on that pool only. Every test gets a namespace of its own (xdist
workers share the cluster), emptied and removed afterwards. Without librbd's binding (python3-rbd,
scripts/venv-link-rados.sh) or QEMU's rbd driver (qemu-block-extra) the tests skip, which
``ANDROMEDE_TEST_REQUIRE_ALL=1`` turns into failures.
"""

from __future__ import annotations

import importlib.util
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.hypervisor.rbd_volumes import RbdConfig
from support.ceph import CephCluster

__all__ = ["RbdNamespace", "RbdPool", "rbd_namespace", "rbd_pool"]

POOL = "andromede-volumes"
USER = "client.andromede-volumes"


@dataclass(frozen=True)
class RbdPool:
    cluster: CephCluster
    keyring: Path

    def config(self, namespace: str) -> RbdConfig:
        return RbdConfig(
            conf_file=self.cluster.conf, keyring=self.keyring, user=USER, pool=POOL,
            namespace=namespace,
        )  # fmt: skip

    def rbd(self, *args: str) -> str:
        """The ``rbd`` tool as client.admin; its standard output."""
        command = ["rbd", "--conf", str(self.cluster.conf), "--name", "client.admin"]
        command += ["--keyring", str(self.cluster.admin_keyring), *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@dataclass(frozen=True)
class RbdNamespace:
    """One test's namespace, looked at as client.admin (never through the code under test)."""

    pool: RbdPool
    name: str

    @property
    def config(self) -> RbdConfig:
        return self.pool.config(self.name)

    def _admin(self) -> tuple[Any, Any]:
        import rados

        cluster = rados.Rados(
            conffile=str(self.pool.cluster.conf), name="client.admin",
            conf={"keyring": str(self.pool.cluster.admin_keyring)},
        )  # fmt: skip
        cluster.connect()
        ioctx = cluster.open_ioctx(POOL)
        ioctx.set_namespace(self.name)
        return cluster, ioctx

    def images(self) -> list[str]:
        import rbd

        cluster, ioctx = self._admin()
        try:
            return sorted(rbd.RBD().list(ioctx))
        finally:
            ioctx.close()
            cluster.shutdown()

    def data_objects(self) -> list[str]:
        """RADOS objects in the namespace that hold an image's data or header."""
        cluster, ioctx = self._admin()
        try:
            return sorted(
                o.key for o in ioctx.list_objects() if o.key.startswith(("rbd_data", "rbd_header"))
            )
        finally:
            ioctx.close()
            cluster.shutdown()

    def read(self, image: str, offset: int = 0, length: int | None = None) -> bytes:
        """The raw bytes of an image as stored (what anyone with the pool's keys reads)."""
        import rbd

        cluster, ioctx = self._admin()
        try:
            with rbd.Image(ioctx, image, read_only=True) as opened:
                size = opened.size() if length is None else length
                chunks = []
                for start in range(offset, offset + size, 4 * 1024 * 1024):
                    chunks.append(opened.read(start, min(4 * 1024 * 1024, offset + size - start)))
                return b"".join(chunks)
        finally:
            ioctx.close()
            cluster.shutdown()

    def empty(self) -> None:
        """Remove whatever a failed test left: clones before their bases."""
        import rbd

        cluster, ioctx = self._admin()
        try:
            for _ in range(3):
                for name in rbd.RBD().list(ioctx):
                    try:
                        with rbd.Image(ioctx, name) as image:
                            for snapshot in list(image.list_snaps()):
                                if image.is_protected_snap(snapshot["name"]):
                                    image.unprotect_snap(snapshot["name"])
                                image.remove_snap(snapshot["name"])
                        rbd.RBD().remove(ioctx, name)
                    except rbd.Error:
                        continue  # a clone of it goes first; the next round removes it
        finally:
            ioctx.close()
            cluster.shutdown()


def _rbd_usable() -> str | None:
    """Why RBD volumes cannot be tested here, or None."""
    if importlib.util.find_spec("rbd") is None:
        return "python3-rbd is not importable (scripts/venv-link-rados.sh)"
    formats = subprocess.run(["qemu-img", "--help"], capture_output=True, text=True).stdout
    if " rbd" not in formats:
        return "QEMU has no rbd block driver (qemu-block-extra; scripts/install-system-deps.sh)"
    return None


@pytest.fixture(scope="session")
def rbd_pool(ceph_cluster: CephCluster, tmp_path_factory: pytest.TempPathFactory) -> RbdPool:
    reason = _rbd_usable()
    if reason is not None:
        pytest.skip(reason)
    # Idempotent: every xdist worker of a run may make them in the shared cluster.
    ceph_cluster.ceph("osd", "pool", "create", POOL, "8", "8", "replicated")
    ceph_cluster.ceph("osd", "pool", "set", POOL, "size", "1", "--yes-i-really-mean-it")
    pool = RbdPool(ceph_cluster, tmp_path_factory.mktemp("rbd") / "keyring")
    pool.rbd("pool", "init", POOL)
    keyring = ceph_cluster.ceph(
        "auth", "get-or-create", USER, "mon", "profile rbd", "osd", f"profile rbd pool={POOL}"
    )
    pool.keyring.write_text(keyring)
    pool.keyring.chmod(0o600)
    return pool


@pytest.fixture
def rbd_namespace(rbd_pool: RbdPool) -> Iterator[RbdNamespace]:
    namespace = RbdNamespace(rbd_pool, f"test-{secrets.token_hex(6)}")
    rbd_pool.rbd("namespace", "create", f"{POOL}/{namespace.name}")
    try:
        yield namespace
    finally:
        namespace.empty()
        rbd_pool.rbd("namespace", "remove", f"{POOL}/{namespace.name}")
