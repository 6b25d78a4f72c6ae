"""EC2 on real QEMU guests: boto3 against ``andromede serve`` with ``hypervisor = qemu``.

The server runs two workers and one hypervisor agent (the owner of the host's guests); every
EC2 call lands on either worker and reaches the same agent. The guest is the small kernel +
busybox image of tests/support/guest_images.py: its init prints a marker with the instance id on
the serial console, runs shell user data with ``ROOT_DISK`` set, and powers off on ACPI
power-down. Guests run under TCG where KVM cannot run them (CI).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.waiter import WaiterModel, create_waiter_with_client

from e2e.test_kms_api import kms_client
from support.guest_images import (
    INIT_MARKER,
    USER_DATA_EXIT_MARKER,
    GuestImage,
)
from support.launcher import run_command
from support.qemu_host import (
    clear_qemu_host,
    ec2_client,
    guest_image_or_skip,
    import_image,
    new_qemu_host,
    qemu_processes,
)
from support.server import ANDROMEDE, REGION, ServerProcess, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT = {"Delay": 1, "MaxAttempts": 180}
BOOT_TIMEOUT = 180.0  # TCG on a loaded 2-core machine
CANARY_SECTOR = 524288  # 256 MiB into the root disk


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    return guest_image_or_skip()


@pytest.fixture(scope="module")
def qemu_server(
    tmp_path_factory: pytest.TempPathFactory, guest_image: GuestImage
) -> Iterator[tuple[ServerProcess, Path]]:
    state_dir, host_env = new_qemu_host("hv")
    env = {
        **host_env,
        "ANDROMEDE_WORKERS": "2",
        "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "30",
        # The guests' metrics gathered (and written) every second (decision 0178).
        "ANDROMEDE_INSTANCE_METRICS_INTERVAL": "1",
        "ANDROMEDE_METRICS_PLATFORM_INTERVAL": "1",
    }
    try:
        with running_server(tmp_path_factory.mktemp("ec2q") / "data", extra_env=env) as server:
            yield server, state_dir
    finally:
        clear_qemu_host(state_dir, host_env)


@pytest.fixture(autouse=True)
def _no_guest_outlives_its_test(qemu_server: tuple[ServerProcess, Path]) -> Iterator[None]:
    """After each test, whatever it asserted: its account's instances terminated through the
    API (termination protection lifted first) and any guest still running — another
    account's — killed by its pid file, so one failure does not fail the next tests, which
    count this host's QEMU processes."""
    yield
    server, state_dir = qemu_server
    if not qemu_processes(state_dir):
        return
    ec2 = ec2_client(server)
    left = [
        instance["InstanceId"]
        for reservation in ec2.describe_instances()["Reservations"]
        for instance in reservation["Instances"]
        if instance["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    for instance_id in left:
        with contextlib.suppress(ClientError):  # gone meanwhile: nothing to lift
            ec2.modify_instance_attribute(
                InstanceId=instance_id, DisableApiTermination={"Value": False}
            )
    if left:
        with contextlib.suppress(ClientError):
            ec2.terminate_instances(InstanceIds=left)
    deadline = time.monotonic() + 90
    while qemu_processes(state_dir) and time.monotonic() < deadline:
        time.sleep(1)
    for pidfile in state_dir.glob("instances/*/qemu.pid"):
        try:
            os.kill(int(pidfile.read_text().strip()), 9)
        except (OSError, ValueError):
            pass  # already gone


def _console(ec2: Any, instance_id: str) -> str:
    # botocore decodes GetConsoleOutput's base64 itself (its decode_console_output handler).
    return str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")


def _wait_console(ec2: Any, instance_id: str, boots: int) -> str:
    marker = f"{INIT_MARKER} instance-id={instance_id}"
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        console = _console(ec2, instance_id)
        if marker in console and console.count(USER_DATA_EXIT_MARKER) >= boots:
            return console
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {BOOT_TIMEOUT:g}s:\n{console}")
        time.sleep(1)


DATA_VOLUME_SECTORS = 2097152  # the 1 GiB volume the launch's mapping adds
USER_DATA = f"""#!/bin/sh
found=$(dd if="$ROOT_DISK" bs=512 skip={CANARY_SECTOR} count=1 2>/dev/null | head -c 40 |
  tr -d '\\000')
case "$found" in
  andromede-e2e-*) echo "persisted: $found" ;;
  *) printf 'andromede-e2e-%s' "$(cat /proc/sys/kernel/random/uuid)" |
       dd of="$ROOT_DISK" bs=512 seek={CANARY_SECTOR} conv=notrunc 2>/dev/null
     sync
     echo "user data ran: wrote canary" ;;
esac
for disk in /sys/block/vd*; do
  [ "$(cat "$disk/size")" = {DATA_VOLUME_SECTORS} ] && data="/dev/${{disk##*/}}"
done
[ -n "$data" ] || exit 3
found=$(dd if="$data" bs=512 skip=8 count=1 2>/dev/null | head -c 40 | tr -d '\\000')
case "$found" in
  andromede-data-*) echo "data persisted: $found" ;;
  *) printf 'andromede-data-%s' "$(cat /proc/sys/kernel/random/uuid)" |
       dd of="$data" bs=512 seek=8 conv=notrunc 2>/dev/null
     sync
     echo "user data ran: wrote data canary" ;;
esac
# One DHCP exchange with its VPC's router: traffic through its tap both ways for its network
# metrics (decision 0178), whatever the answer.
for nic in /sys/class/net/e*; do
  ip link set "${{nic##*/}}" up && udhcpc -i "${{nic##*/}}" -n -q -t 2 -T 1 -s /bin/true
done >/dev/null 2>&1
true
"""


def test_a_real_guest_runs_stops_starts_and_terminates_through_boto3(
    qemu_server: tuple[ServerProcess, Path], guest_image: GuestImage
) -> None:
    server, state_dir = qemu_server
    image_id = import_image(server, guest_image.disk, "busybox")
    ec2 = ec2_client(server)
    key_name = f"k-{uuid.uuid4().hex[:8]}"
    ec2.create_key_pair(KeyName=key_name, KeyType="ed25519")

    # The root disk under a customer-managed KMS key (decision 0062): LUKS in the real QEMU
    # opens with the data key that key wraps.
    kms = kms_client(server, *server.credentials())
    disk_key = kms.create_key(Description="guest root disks")["KeyMetadata"]
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1,
        KeyName=key_name, UserData=USER_DATA,
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                              "Ebs": {"Encrypted": True, "KmsKeyId": disk_key["Arn"]}},
                             # A further volume made at launch, kept after it (decision 0070).
                             {"DeviceName": "/dev/sdb",
                              "Ebs": {"VolumeSize": 1, "DeleteOnTermination": False}}],
    )  # fmt: skip
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    console = _wait_console(ec2, instance_id, boots=1)
    assert "user data ran: wrote canary" in console
    assert "user data ran: wrote data canary" in console
    assert f"{USER_DATA_EXIT_MARKER}0" in console
    assert len(qemu_processes(state_dir)) == 1
    attached = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )["Volumes"]
    by_device = {v["Attachments"][0]["Device"]: v for v in attached}
    root, data = by_device["/dev/xvda"], by_device["/dev/sdb"]
    assert root["KmsKeyId"] == disk_key["Arn"]
    assert data["Size"] == 1 and data["Attachments"][0]["DeleteOnTermination"] is False
    serial = data["VolumeId"].replace("-", "")[:20]
    assert f"serial={serial} sectors={DATA_VOLUME_SECTORS}" in console
    _assert_guest_metrics(server, instance_id, root["VolumeId"])

    # Stop (ACPI power-down), start again: the disk kept what the first boot wrote.
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    assert qemu_processes(state_dir) == []
    # An image of the stopped guest (decision 0147): a snapshot of each volume, booted below.
    image = ec2.create_image(
        InstanceId=instance_id, Name=f"of-{instance_id}",
        BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"DeleteOnTermination": True}}],
    )  # fmt: skip
    ec2.get_waiter("image_available").wait(ImageIds=[image["ImageId"]], WaiterConfig=WAIT)
    # With the key disabled the guest does not boot: it stops again, saying why as EC2 does.
    kms.disable_key(KeyId=disk_key["KeyId"])
    ec2.start_instances(InstanceIds=[instance_id])
    deadline = time.monotonic() + 60
    while True:
        [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservation["Instances"][0]
        if instance["State"]["Name"] == "stopped" and "StateReason" in instance:
            break
        assert time.monotonic() < deadline, instance["State"]
        time.sleep(0.5)
    assert instance["StateReason"]["Code"] == "Client.InvalidKMSKey.InvalidState"
    assert qemu_processes(state_dir) == []
    kms.enable_key(KeyId=disk_key["KeyId"])
    ec2.start_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    console = _wait_console(ec2, instance_id, boots=2)
    persisted = re.search(r"persisted: (andromede-e2e-[0-9a-f-]{16,})", console)
    assert persisted is not None, console
    data_persisted = re.search(r"data persisted: (andromede-data-[0-9a-f-]{16,})", console)
    assert data_persisted is not None, console
    # Only ciphertext of what the guest wrote is on the host's disk.
    stored = [path for path in state_dir.glob("volumes/**/*") if path.is_file()]
    assert len(stored) == 2
    for canary in (persisted.group(1).encode(), data_persisted.group(1).encode()):
        assert not any(canary in path.read_bytes() for path in stored)

    # Terminate frees everything but the volume asked to be kept: no QEMU process, no
    # instance directory, the root volume's file gone; the kept one goes when deleted.
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    deadline = time.monotonic() + 60
    while (qemu_processes(state_dir) or len(list(state_dir.glob("volumes/*"))) > 1) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert qemu_processes(state_dir) == []
    assert [p.name for p in state_dir.glob("volumes/*")] == [f"{data['VolumeId']}.qcow2"]
    assert not (state_dir / "instances" / instance_id).exists()
    [kept] = ec2.describe_volumes(VolumeIds=[data["VolumeId"]])["Volumes"]
    assert (kept["State"], kept["Attachments"]) == ("available", [])
    ec2.delete_volume(VolumeId=data["VolumeId"])
    assert list(state_dir.glob("volumes/*")) == []

    # A second guest from the image, in another account it is shared with (decision 0147,
    # 2026-12-05): its two disks are the first guest's, canaries included, once the root
    # snapshot's KMS key is granted to that account too; before, EC2's client error on launch.
    account, access_key, secret_key = server.create_tenant(f"sharing-{instance_id[-6:]}")
    other = ec2_client(server, (access_key, secret_key))
    ec2.modify_image_attribute(
        ImageId=image["ImageId"], LaunchPermission={"Add": [{"UserId": account}]}
    )
    launch = {"ImageId": image["ImageId"], "InstanceType": "t2.nano", "MinCount": 1,
              "MaxCount": 1, "UserData": USER_DATA}  # fmt: skip
    refused = other.run_instances(**launch)["Instances"][0]["InstanceId"]
    failed = _wait_launch_failed(other, refused)
    assert failed["StateReason"]["Code"] == "Client.InternalError"
    kms.create_grant(
        KeyId=disk_key["Arn"], GranteePrincipal=f"arn:aws:iam::{account}:root",
        Operations=["Decrypt"],
    )  # fmt: skip
    second = other.run_instances(**launch)["Instances"][0]["InstanceId"]
    other.get_waiter("instance_running").wait(InstanceIds=[second], WaiterConfig=WAIT)
    console = _wait_console(other, second, boots=1)
    assert f"persisted: {persisted.group(1)}" in console, console
    assert f"data persisted: {data_persisted.group(1)}" in console, console
    # Under the other account's own key: not the owner's.
    theirs = other.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [second]}]
    )["Volumes"]
    assert len(theirs) == 2 and all("KmsKeyId" not in v for v in theirs), theirs
    other.terminate_instances(InstanceIds=[second])
    other.get_waiter("instance_terminated").wait(InstanceIds=[second], WaiterConfig=WAIT)
    snapshot_ids = [
        m["Ebs"]["SnapshotId"]
        for m in ec2.describe_images(ImageIds=[image["ImageId"]])["Images"][0][
            "BlockDeviceMappings"
        ]
    ]
    ec2.deregister_image(ImageId=image["ImageId"])
    for snapshot_id in snapshot_ids:
        ec2.delete_snapshot(SnapshotId=snapshot_id)


def _assert_guest_metrics(server: ServerProcess, instance_id: str, root_volume: str) -> None:
    """Decision 0178: the real guest's CPU (its QEMU process's time), network (its tap: the
    DHCP answers it got, at least) and disks (QMP's block statistics: its boot read its root
    volume) in AWS/EC2 and AWS/EBS, at basic monitoring's 5-minute periods."""
    access_key, secret_key = server.credentials()
    cw = boto3.client(
        "cloudwatch", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
    )  # fmt: skip
    now = time.time()

    def total(namespace: str, name: str, dimension: tuple[str, str], statistic: str) -> float:
        found = cw.get_metric_statistics(
            Namespace=namespace, MetricName=name, StartTime=now - 900, EndTime=now + 600,
            Dimensions=[{"Name": dimension[0], "Value": dimension[1]}], Period=300,
            Statistics=[statistic],
        )["Datapoints"]  # fmt: skip
        if not found:
            return -1.0
        # A period's Sum adds up across periods; its Maximum does not (a guest whose run
        # crossed a 5-minute boundary has two, whose maxima once summed to 188 %).
        values = [p[statistic] for p in found]
        return max(values) if statistic == "Maximum" else sum(values)

    instance = ("InstanceId", instance_id)
    volume = ("VolumeId", root_volume)
    # Its user data's DHCP exchange: a DHCP message is at least 300 bytes each way.
    wanted = [("AWS/EC2", "NetworkIn", instance), ("AWS/EC2", "NetworkOut", instance),
              ("AWS/EBS", "VolumeReadBytes", volume)]  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        total(namespace, name, dimension, "Sum") < 300 for namespace, name, dimension in wanted
    ):
        time.sleep(0.5)
    for namespace, name, dimension in wanted:
        assert total(namespace, name, dimension, "Sum") >= 300, name
    assert 0 < total("AWS/EC2", "CPUUtilization", instance, "Maximum") <= 100


def test_guests_outlive_a_restart_of_serve(
    qemu_server: tuple[ServerProcess, Path], guest_image: GuestImage
) -> None:
    server, state_dir = qemu_server
    image_id = import_image(server, guest_image.disk, "busybox")
    ec2 = ec2_client(server)
    run = ec2.run_instances(ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1)
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    _wait_console(ec2, instance_id, boots=0)
    (qemu_pid,) = qemu_processes(state_dir)

    # serve and its agent go away and come back; the guest never stops.
    server.stop()
    assert qemu_processes(state_dir) == [qemu_pid]
    server.start()
    ec2 = ec2_client(server)
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
    assert described["Instances"][0]["State"]["Name"] == "running"
    assert f"{INIT_MARKER} instance-id={instance_id}" in _console(ec2, instance_id)
    assert qemu_processes(state_dir) == [qemu_pid]

    # The new agent drives the guest it reattached to: an ACPI stop, then termination.
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    assert qemu_processes(state_dir) == []
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)


def test_the_host_keeps_a_verified_copy_of_an_image_until_it_is_deregistered_and_unused(
    qemu_server: tuple[ServerProcess, Path], guest_image: GuestImage
) -> None:
    """The agent gets the image's bytes from the control plane (never the gateway's image
    folder): a read-only copy named by its checksum in its own state directory, removed once
    the image is deregistered and its last instance terminated."""
    server, state_dir = qemu_server
    access_key, secret_key = server.credentials()
    sts = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    ).client("sts", endpoint_url=server.endpoint)
    tenant = sts.get_caller_identity()["Account"]
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(guest_image.disk), "--name",
         f"private-{uuid.uuid4().hex[:6]}", "--tenant", tenant, "--json",
         "--data-dir", str(server.data_dir)],
        timeout=300, check=True,
        env={**os.environ, **server.extra_env},
    )  # fmt: skip
    imported = json.loads(done.stdout)
    image_id, sha256 = imported["image_id"], imported["sha256"]
    assert not list(state_dir.glob(f"images/{image_id}.*"))  # nothing sent before it is needed

    ec2 = ec2_client(server)
    run = ec2.run_instances(ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1)
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    (copy,) = state_dir.glob(f"images/{image_id}.*")
    assert copy.name == f"{image_id}.{sha256}"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o400
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == sha256
    assert not list(state_dir.glob("images/.*.partial"))

    # Deregistered while its instance's volume still reads it: the copy stays.
    ec2.deregister_image(ImageId=image_id)
    assert copy.exists()
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    deadline = time.monotonic() + 60
    while copy.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not copy.exists()
    assert list(state_dir.glob(f"images/*{image_id}*")) == []


# The guest's own view of its disks: each one's serial and size in 512-byte sectors, said again
# whenever it changes.
SIZE_REPORTER = """#!/bin/sh
(while :; do
  for d in /sys/block/vd*; do
    now="$(cat "$d/serial" 2>/dev/null) $(cat "$d/size")"
    case " $seen " in *" $now "*) ;; *) echo "andromede-size $now"; seen="$seen $now" ;; esac
  done
  sleep 1
done) &
"""
# What Terraform's aws_ebs_volume waits for after ModifyVolume, through botocore's own waiter.
VOLUME_MODIFIED = WaiterModel(
    {
        "version": 2,
        "waiters": {
            "VolumeModified": {
                "operation": "DescribeVolumesModifications",
                "delay": 1,
                "maxAttempts": 60,
                "acceptors": [
                    {"state": "success", "matcher": "pathAll", "expected": state,
                     "argument": "VolumesModifications[].ModificationState"}
                    for state in ("completed", "optimizing")
                ] + [
                    {"state": "failure", "matcher": "pathAny", "expected": "failed",
                     "argument": "VolumesModifications[].ModificationState"}
                ],
            }
        },
    }
)  # fmt: skip


def test_a_volume_grows_under_its_running_guest_through_boto3(
    qemu_server: tuple[ServerProcess, Path], guest_image: GuestImage
) -> None:
    """ModifyVolume on a volume attached to a running guest (decision 0088): the guest sees the
    bigger disk at once, without a reboot."""
    server, _state_dir = qemu_server
    image_id = import_image(server, guest_image.disk, "busybox")
    ec2 = ec2_client(server)
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1, UserData=SIZE_REPORTER
    )
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    volume_id = ec2.create_volume(Size=1, AvailabilityZone=f"{REGION}a")["VolumeId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    _wait_console(ec2, instance_id, boots=1)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    serial = volume_id.replace("-", "")[:20]
    _wait_for(ec2, instance_id, f"andromede-size {serial} {1024**3 // 512}")

    asked = ec2.modify_volume(VolumeId=volume_id, Size=2)["VolumeModification"]
    assert (asked["VolumeId"], asked["OriginalSize"], asked["TargetSize"]) == (volume_id, 1, 2)
    create_waiter_with_client("VolumeModified", VOLUME_MODIFIED, ec2).wait(VolumeIds=[volume_id])
    [modification] = ec2.describe_volumes_modifications(VolumeIds=[volume_id])[
        "VolumesModifications"
    ]
    assert (modification["ModificationState"], modification["Progress"]) == ("completed", 100)
    [volume] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    assert (volume["Size"], volume["State"]) == (2, "in-use")
    _wait_for(ec2, instance_id, f"andromede-size {serial} {2 * 1024**3 // 512}")
    with pytest.raises(ClientError) as raised:
        ec2.modify_volume(VolumeId=volume_id, Size=1)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValue"

    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=WAIT)
    ec2.delete_volume(VolumeId=volume_id)


def _wait_launch_failed(ec2: Any, instance_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The instance once its failed launch has terminated it. Not botocore's
    ``instance_terminated`` waiter: it fails on ``pending``, which a launch that fails on its
    host shows first, on EC2 too (RunInstances answers before the host tries)."""
    deadline = time.monotonic() + timeout
    while True:
        [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance: dict[str, Any] = reservation["Instances"][0]
        if instance["State"]["Name"] == "terminated":
            return instance
        assert instance["State"]["Name"] in ("pending", "shutting-down"), instance["State"]
        assert time.monotonic() < deadline, instance["State"]
        time.sleep(0.5)


def _wait_for(ec2: Any, instance_id: str, line: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while line not in (console := _console(ec2, instance_id)):
        assert time.monotonic() < deadline, f"no {line!r} on the console:\n{console}"
        time.sleep(0.5)


def test_a_real_guest_launched_from_a_launch_template(
    qemu_server: tuple[ServerProcess, Path], guest_image: GuestImage
) -> None:
    """Decision 0092: the image, user data and tags come from the template, the request's
    instance type and tag win, and the guest runs with the request's memory. Decision 0145:
    the template's termination protection and ``terminate`` shutdown behaviour hold — the API
    may not terminate it, the guest powering itself off does."""
    server, state_dir = qemu_server
    image_id = import_image(server, guest_image.disk, "busybox-lt")
    ec2 = ec2_client(server)
    # The guest powers itself off a while after its user data ran (time to read its console).
    script = (
        b"#!/bin/sh\necho launched-from-template\ngrep MemTotal /proc/meminfo\n"
        b"(sleep 20; poweroff -f) >/dev/null 2>&1 &\n"
    )
    template_id = ec2.create_launch_template(
        LaunchTemplateName=f"guest-{uuid.uuid4().hex[:8]}",
        LaunchTemplateData={
            "ImageId": image_id,
            "InstanceType": "t2.nano",  # 512 MiB
            "UserData": base64.b64encode(script).decode(),
            "DisableApiTermination": True,
            "InstanceInitiatedShutdownBehavior": "terminate",
            "TagSpecifications": [
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "team", "Value": "web"}, {"Key": "tier", "Value": "lt"}],
                }
            ],
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    run = ec2.run_instances(
        MinCount=1,
        MaxCount=1,
        InstanceType="t2.micro",  # 1 GiB
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "tier", "Value": "run"}]}],
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
    )
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    console = _wait_console(ec2, instance_id, boots=1)
    assert "launched-from-template" in console and f"{USER_DATA_EXIT_MARKER}0" in console
    memory = re.search(r"MemTotal:\s+(\d+) kB", console)
    assert memory is not None and 700_000 < int(memory.group(1)) <= 1024 * 1024, console
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservation["Instances"][0]
    assert (instance["ImageId"], instance["InstanceType"]) == (image_id, "t2.micro")
    assert {t["Key"]: t["Value"] for t in instance["Tags"]} == {
        "team": "web",
        "tier": "run",
        "aws:ec2launchtemplate:id": template_id,
        "aws:ec2launchtemplate:version": "1",
    }
    with pytest.raises(ClientError) as refused:
        ec2.terminate_instances(InstanceIds=[instance_id])
    assert refused.value.response["Error"]["Code"] == "OperationNotPermitted"
    # Its own power-off terminates it (noticed within instance_shutdown_check_interval).
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["StateReason"]["Code"] == (
        "Client.InstanceInitiatedShutdown"
    )
    deadline = time.monotonic() + 60
    while qemu_processes(state_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert qemu_processes(state_dir) == []
    ec2.delete_launch_template(LaunchTemplateId=template_id)
