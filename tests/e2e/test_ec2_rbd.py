"""EC2 on a real QEMU guest whose root volume is in Ceph RBD: ``andromede serve`` with
``hypervisor = qemu`` and ``hypervisor_volume_backend = rbd``, driven by boto3.

It proves the composition root's wiring (the agent's driver gets its volumes from the settings);
the RBD backend's own contract (stop/start, snapshots, a disk that outlives its host) is in
tests/contract/test_hypervisor.py. One guest boot: they are slow under TCG.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.guest_images import (
    INIT_MARKER,
    USER_DATA_EXIT_MARKER,
    GuestImage,
)
from support.qemu_host import (
    clear_qemu_host,
    ec2_client,
    guest_image_or_skip,
    import_image,
    new_qemu_host,
)
from support.rbd import POOL, USER, RbdNamespace
from support.server import ServerProcess, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT = {"Delay": 1, "MaxAttempts": 180}
BOOT_TIMEOUT = 180.0  # TCG on a loaded 2-core machine
TOKEN = uuid.uuid4().hex
USER_DATA = f"""#!/bin/sh
printf 'andromede-e2e-rbd-{TOKEN}' | dd of="$ROOT_DISK" bs=512 seek=524288 conv=notrunc,fsync
echo "user data ran"
"""


@pytest.fixture
def guest_image() -> GuestImage:
    return guest_image_or_skip()


@pytest.fixture
def rbd_server(
    tmp_path_factory: pytest.TempPathFactory, guest_image: GuestImage, rbd_namespace: RbdNamespace
) -> Iterator[tuple[ServerProcess, Path]]:
    state_dir, host_env = new_qemu_host("rbd")
    config = rbd_namespace.config
    env = {
        **host_env,
        "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "30",
        "ANDROMEDE_HYPERVISOR_VOLUME_BACKEND": "rbd",
        "ANDROMEDE_CEPH_CONF": str(config.conf_file),
        "ANDROMEDE_CEPH_KEYRING": str(config.keyring),
        "ANDROMEDE_CEPH_USER": USER,
        "ANDROMEDE_HYPERVISOR_RBD_POOL": POOL,
        "ANDROMEDE_HYPERVISOR_RBD_NAMESPACE": rbd_namespace.name,
    }
    try:
        with running_server(tmp_path_factory.mktemp("ec2rbd") / "data", extra_env=env) as server:
            yield server, state_dir
    finally:
        clear_qemu_host(state_dir, host_env)


def _wait_console(ec2: Any, instance_id: str) -> str:
    marker = f"{INIT_MARKER} instance-id={instance_id}"
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        console = str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")
        if marker in console and USER_DATA_EXIT_MARKER in console:
            return console
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {BOOT_TIMEOUT:g}s:\n{console}")
        time.sleep(1)


def test_an_instance_boots_from_an_rbd_volume_and_terminating_empties_the_pool(
    rbd_server: tuple[ServerProcess, Path], guest_image: GuestImage, rbd_namespace: RbdNamespace
) -> None:
    server, state_dir = rbd_server
    image_id = import_image(server, guest_image.disk, "busybox")
    ec2 = ec2_client(server)
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1, UserData=USER_DATA
    )
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    console = _wait_console(ec2, instance_id)
    assert "user data ran" in console and f"{USER_DATA_EXIT_MARKER}0" in console

    # The root volume is in the pool (an overlay over its clone of the imported image), LUKS
    # inside, the guest's write not in clear; nothing of it on the host.
    (root,) = [
        v["VolumeId"]
        for v in ec2.describe_volumes()["Volumes"]
        if v["Attachments"] and v["Attachments"][0]["InstanceId"] == instance_id
    ]
    images = rbd_namespace.images()
    assert root in images and f"{root}.parent" in images
    assert len([name for name in images if name.startswith("base-")]) == 1
    stored = rbd_namespace.read(root)
    assert stored[:4] == b"QFI\xfb" and TOKEN.encode() not in stored
    assert list(state_dir.glob("volumes/*")) == []

    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    deadline = time.monotonic() + 60
    while rbd_namespace.images() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert rbd_namespace.images() == []
    assert rbd_namespace.data_objects() == []
