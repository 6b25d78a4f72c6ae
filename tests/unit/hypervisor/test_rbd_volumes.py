"""The parts of RBD volumes that need no cluster: the keyring, the settings and their wiring.
Against a real cluster: tests/contract/test_rbd_volumes.py and test_hypervisor.py (qemu-rbd)."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.compute_adapters import hypervisor_volumes
from andromede.errors import ConfigurationError
from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.images import QemuImg
from andromede.hypervisor.rbd_volumes import CEPHX_SECRET, RbdVolumes, read_cephx_key
from andromede.settings import load_settings

KEY = "AQCbUAxrwuoxOhAAb+ylzFlE++JHWbEzhJfx6A=="
KEYRING = f"""[client.admin]
\tkey = AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==
\tcaps mon = "allow *"
[client.andromede-hv]
\tkey = {KEY}
\tcaps mon = "profile rbd"
"""


def test_the_cephx_key_of_the_user_is_read_from_its_keyring(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    keyring.write_text(KEYRING)
    assert read_cephx_key(keyring, "client.andromede-hv") == KEY
    with pytest.raises(HypervisorError, match=r"no key for client\.other") as refused:
        read_cephx_key(keyring, "client.other")
    assert KEY not in str(refused.value)
    with pytest.raises(HypervisorError, match="cannot read"):
        read_cephx_key(tmp_path / "missing", "client.andromede-hv")


def test_rbd_volumes_need_a_cluster_and_a_keyring(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ceph_conf and ceph_keyring"):
        load_settings(data_dir=tmp_path, hypervisor_volume_backend="rbd")
    with pytest.raises(ConfigurationError, match="ceph_conf and ceph_keyring"):
        load_settings(
            data_dir=tmp_path, hypervisor_volume_backend="rbd", ceph_conf=tmp_path / "ceph.conf"
        )
    with pytest.raises(ConfigurationError):
        load_settings(data_dir=tmp_path, hypervisor_rbd_namespace="a/b")


async def test_the_agent_gets_the_backend_the_settings_name(tmp_path: Path) -> None:
    assert hypervisor_volumes(load_settings(data_dir=tmp_path)) is None  # files: the default
    keyring = tmp_path / "keyring"
    keyring.write_text(KEYRING)
    settings = load_settings(
        data_dir=tmp_path,
        hypervisor_volume_backend="rbd",
        ceph_conf=tmp_path / "ceph.conf",
        ceph_keyring=keyring,
        ceph_user="client.andromede-hv",
        hypervisor_rbd_pool="volumes-eu",
        hypervisor_rbd_namespace="tenant-a",
    )
    factory = hypervisor_volumes(settings)
    assert factory is not None
    volumes = factory(tmp_path / "host", QemuImg("qemu-img", iter_time_ms=10, timeout=60))
    assert isinstance(volumes, RbdVolumes)
    # Every host of the pool and namespace opens its volumes and snapshots.
    assert volumes.storage_domain() == "rbd:volumes-eu/tenant-a"
    # QEMU gets the cephx key as a secret object, base64 as in the keyring.
    assert volumes.qmp_secrets() == [
        {"qom-type": "secret", "id": CEPHX_SECRET, "format": "base64", "data": KEY}
    ]
    target = volumes.snapshot_target_node("node", "snap-1", "key-node")
    assert target["file"] == {
        "driver": "rbd", "pool": "volumes-eu", "namespace": "tenant-a",
        "image": "snap-1.partial", "conf": str(tmp_path / "ceph.conf"), "user": "andromede-hv",
        "key-secret": CEPHX_SECRET, "auth-client-required": ["cephx"],
    }  # fmt: skip
    assert target["encrypt"] == {"format": "luks", "key-secret": "key-node"}
    assert KEY not in repr(target)
    await volumes.close()
