"""A real QEMU guest whose root volume is under a KMS key of an external key store (decisions
0094, 0101): ``andromede serve`` with ``hypervisor = qemu`` (one worker, no data-key cache, so
each boot asks the proxy), a real ``andromede xks-proxy`` on SoftHSM2, boto3.

The root disk is a qcow2 + LUKS file whose key is a two-layer data key: sealed under the KMS
key's ring, then by the customer's proxy. Nothing on the host opens it alone: with the external
key disabled in the HSM, or the proxy stopped, a stopped instance does not boot again
(StartInstances is accepted, as on AWS, and the instance stops with EC2's
``Client.InvalidKMSKey.InvalidState``); with the key back, it boots and finds what it wrote.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.test_kms_api import kms_client
from e2e.test_kms_xks import connected_store, server_env, xks_key
from support.guest_images import INIT_MARKER, USER_DATA_EXIT_MARKER, GuestImage
from support.qemu_host import (
    clear_qemu_host,
    ec2_client,
    guest_image_or_skip,
    import_image,
    new_qemu_host,
    qemu_processes,
)
from support.server import REGION, ServerProcess, running_server
from support.xks import RunningXksProxy, running_xks_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT = {"Delay": 1, "MaxAttempts": 180}
BOOT_TIMEOUT = 180.0  # TCG on a loaded 2-core machine
CANARY_SECTOR = 65536  # 32 MiB into the root disk
USER_DATA = f"""#!/bin/sh
found=$(dd if="$ROOT_DISK" bs=512 skip={CANARY_SECTOR} count=1 2>/dev/null | head -c 40 |
  tr -d '\\000')
case "$found" in
  andromede-xks-*) echo "persisted: $found" ;;
  *) printf 'andromede-xks-%s' "$(cat /proc/sys/kernel/random/uuid)" |
       dd of="$ROOT_DISK" bs=512 seek={CANARY_SECTOR} conv=notrunc 2>/dev/null
     sync
     echo "user data ran: wrote canary" ;;
esac
"""
KEY_UNUSABLE = "Client.InvalidKMSKey.InvalidState"


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    return guest_image_or_skip()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningXksProxy]:
    with running_xks_proxy(tmp_path_factory.mktemp("xks-proxy"), region=REGION) as running:
        yield running


@pytest.fixture(scope="module")
def qemu_xks_server(
    tmp_path_factory: pytest.TempPathFactory, guest_image: GuestImage, proxy: RunningXksProxy
) -> Iterator[tuple[ServerProcess, Path]]:
    state_dir, host_env = new_qemu_host("xks")
    env = {
        **host_env,
        **server_env(proxy),
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_DATA_KEY_CACHE_TTL": "0",  # every boot opens the disk key through the proxy
        "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "30",
    }
    try:
        with running_server(tmp_path_factory.mktemp("ec2q-xks") / "data", extra_env=env) as server:
            yield server, state_dir
    finally:
        clear_qemu_host(state_dir, host_env)


def _wait_console(ec2: Any, instance_id: str, boots: int) -> str:
    marker = f"{INIT_MARKER} instance-id={instance_id}"
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        console = str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")
        if marker in console and console.count(USER_DATA_EXIT_MARKER) >= boots:
            return console
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {BOOT_TIMEOUT:g}s:\n{console}")
        time.sleep(1)  # polling the console, which the guest writes when it will


def _start_refused(ec2: Any, instance_id: str) -> dict[str, Any]:
    """StartInstances is accepted; the launch cannot open the disk key and the instance is
    stopped again, with EC2's reason."""
    ec2.start_instances(InstanceIds=[instance_id])
    deadline = time.monotonic() + 60
    while True:
        [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance: dict[str, Any] = reservation["Instances"][0]
        if instance["State"]["Name"] == "stopped" and "StateReason" in instance:
            return instance
        assert time.monotonic() < deadline, instance["State"]
        time.sleep(0.5)


def _decrypts(proxy: RunningXksProxy, external: str) -> int:
    return sum(
        1
        for r in proxy.audit_records()
        if r.get("externalKeyId") == external and r["operation"] == "Decrypt"
    )


def test_a_real_guest_on_a_volume_under_an_xks_key_and_the_customers_kill_switch(
    qemu_xks_server: tuple[ServerProcess, Path], guest_image: GuestImage, proxy: RunningXksProxy
) -> None:
    server, state_dir = qemu_xks_server
    image_id = import_image(server, guest_image.disk, "busybox-xks")
    ec2 = ec2_client(server)
    kms = kms_client(server, *server.credentials())
    store_id = connected_store(kms, proxy, f"hsm-{uuid.uuid4().hex[:6]}")
    _, arn, external = xks_key(kms, proxy, store_id, f"root-{uuid.uuid4().hex[:6]}")

    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1, UserData=USER_DATA,
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                              "Ebs": {"Encrypted": True, "KmsKeyId": arn}}],
    )  # fmt: skip
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    console = _wait_console(ec2, instance_id, boots=1)
    assert "user data ran: wrote canary" in console
    assert f"{USER_DATA_EXIT_MARKER}0" in console
    [root] = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )["Volumes"]
    assert (root["Encrypted"], root["KmsKeyId"]) == (True, arn)
    # The launch made the disk key through the proxy, and opened it through the proxy to boot.
    made = [
        r for r in proxy.audit_records()
        if r.get("externalKeyId") == external and r["operation"] == "Encrypt"
    ]  # fmt: skip
    assert [r["kmsOperation"] for r in made] == ["GenerateDataKeyWithoutPlaintext"]
    assert _decrypts(proxy, external) >= 1

    # The root disk is a qcow2 whose payload is LUKS: its key is nowhere on the host.
    [volume_file] = [p for p in state_dir.glob("volumes/**/*") if p.is_file()]
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", "-U", str(volume_file)],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout
    )  # fmt: skip
    assert info["format"] == "qcow2" and info["encrypted"] is True
    assert info["format-specific"]["data"]["encrypt"]["format"] == "luks"

    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    assert qemu_processes(state_dir) == []

    # The customer disables the key in their HSM: the disk does not open, no QEMU starts.
    proxy.disable_key(external)
    refused = _start_refused(ec2, instance_id)
    assert refused["StateReason"]["Code"] == KEY_UNUSABLE
    assert qemu_processes(state_dir) == []
    proxy.enable_key(external)

    # The customer stops their proxy: the same.
    proxy.stop()
    try:
        refused = _start_refused(ec2, instance_id)
        assert refused["StateReason"]["Code"] == KEY_UNUSABLE
        assert qemu_processes(state_dir) == []
    finally:
        proxy.start()

    # The proxy is back: the guest boots, and its disk kept what the first boot wrote.
    opened = _decrypts(proxy, external)
    ec2.start_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    console = _wait_console(ec2, instance_id, boots=2)
    persisted = re.search(r"persisted: (andromede-xks-[0-9a-f-]{16,})", console)
    assert persisted is not None, console
    assert _decrypts(proxy, external) > opened
    # Only ciphertext of what the guest wrote is on the host's disk.
    assert persisted.group(1).encode() not in volume_file.read_bytes()

    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
