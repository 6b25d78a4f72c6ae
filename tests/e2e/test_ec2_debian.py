"""A stock Debian bookworm with cloud-init on ``andromede serve`` (hypervisor qemu), boto3 only.

Where tests/e2e/test_ec2_qemu.py proves the driver with a busybox guest that reads the seed by
hand, this proves what a tenant sees with a real distribution: cloud-init finds the NoCloud seed,
runs the user data once, installs the key pair for the default user and, when the host gives the
instance an interface, brings it up by DHCP; the user logs in with the real ``ssh`` client and that
key, having checked the host keys the console shows, as an AWS user does (another key is refused,
and so is a host key other than the console's); the root file system, host keys included,
survives a stop and start; terminate leaves nothing behind. The image is built by debootstrap
once per machine (tests/support/debian_image.py: minutes the first time, cached after). One test
function: each boot of the guest takes a minute or more under TCG.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from support.debian_image import (
    DEFAULT_USER,
    DebianImage,
    DebianImageUnavailable,
    build_debian_image,
    missing_requirements,
)
from support.qemu_host import (
    clear_qemu_host,
    ec2_client,
    import_image,
    new_qemu_host,
    qemu_processes,
)
from support.server import ServerProcess, free_port

# Two boots of a real distribution under TCG, and on a machine's first run the image build (the
# session fixture's set-up counts): past the suite's default 300 s when the machine is loaded.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

WAIT = {"Delay": 2, "MaxAttempts": 300}
# Test-side patience only: a boot is about a minute on an idle 2-core machine under TCG, several
# when every core is taken by other test workers.
BOOT_TIMEOUT = 600.0
MARK = "andromede-debian"

# Runs once per instance (cloud-init's scripts-user), as root, on the first boot. It writes a
# canary into the root file system and a per-boot script that prints it at every later boot.
#
# Each line is written to the serial console by opening it anew: the serial getty starting beside
# cloud-init's final stage hangs the line up (vhangup), after which a descriptor held from before
# writes nothing more (EIO). A CI run lost every line after the first two that way, the script
# failing at its end ("Failed to run module scripts-user").
USER_DATA = f"""#!/bin/sh
say() {{
  while IFS= read -r line; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      printf '%s\\n' "$line" > /dev/ttyS0 2>/dev/null && break
      sleep 0.5
    done
  done
}}
main() {{
echo "{MARK}-user-data-ran instance=$(cat /var/lib/cloud/data/instance-id)"
sed 's/^/{MARK}-authorized-key: /' /home/{DEFAULT_USER}/.ssh/authorized_keys
nics=$(ls /sys/class/net | grep -v '^lo$' | tr '\\n' ' ')
address=""
if [ -n "$nics" ]; then
  for _ in $(seq 60); do
    address=$(ip -4 -o addr show scope global | awk '{{print $4}}' | head -n 1)
    [ -n "$address" ] && break
    sleep 1
  done
fi
echo "{MARK}-network nics=[$nics] ipv4=$address"
canary=$(cat /proc/sys/kernel/random/uuid)
echo "$canary" > /var/lib/andromede-canary
mkdir -p /var/lib/cloud/scripts/per-boot
cat > /var/lib/cloud/scripts/per-boot/andromede-canary <<'EOF'
#!/bin/sh
for _ in 1 2 3 4 5 6 7 8 9 10; do
  echo "{MARK}-canary-read=$(cat /var/lib/andromede-canary)" > /dev/ttyS0 2>/dev/null && break
  sleep 0.5
done
EOF
chmod +x /var/lib/cloud/scripts/per-boot/andromede-canary
sync
echo "{MARK}-canary-written=$canary"
}}
main 2>&1 | say
"""


@pytest.fixture(scope="session")
def debian_image() -> DebianImage:
    """Session-scoped: built once per test run (and per machine: the cache outlives the run);
    parallel workers wait on the builder's file lock instead of building it twice."""
    tools = ("qemu-system-x86_64", "qemu-img", "ssh")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    missing += missing_requirements()
    if missing:
        pytest.skip(f"cannot build the Debian guest: missing {', '.join(missing)}")
    try:
        return build_debian_image()
    except DebianImageUnavailable as exc:
        pytest.skip(f"cannot build the Debian guest: {exc}")


@pytest.fixture(scope="module")
def qemu_server(
    tmp_path_factory: pytest.TempPathFactory, debian_image: DebianImage
) -> Iterator[tuple[ServerProcess, Path]]:
    state_dir, host_env = new_qemu_host("deb")
    env = {**host_env, "ANDROMEDE_WORKERS": "2"}
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("ec2deb") / "data", port=free_port(), extra_env=env
    )
    try:
        # Generous: the agent's KVM probe alone can take seconds on a loaded machine.
        server.start(timeout=120)
        try:
            yield server, state_dir
        finally:
            server.stop()
    finally:
        clear_qemu_host(state_dir, host_env)


def _wait_console(ec2: Any, instance_id: str, pattern: str) -> tuple[re.Match[str], float]:
    """The first match of ``pattern`` in the console output, and when it was seen."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        # botocore decodes GetConsoleOutput's base64 itself.
        console = str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")
        found = re.search(pattern, console)
        if found is not None:
            return found, time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {pattern!r} on the console of {instance_id} after {BOOT_TIMEOUT:g}s:\n"
                f"{console[-6000:]}"
            )
        time.sleep(2)


HOST_KEYS = r"-----BEGIN SSH HOST KEY KEYS-----\r?\n([\s\S]*?)-----END SSH HOST KEY KEYS-----"
# The real client, told nothing by the machine's own configuration or known hosts; a host key it
# has not been given is refused (StrictHostKeyChecking=yes), never learnt on first use.
SSH_OPTIONS = (
    "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
    "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR",
)  # fmt: skip


def _ssh_endpoint(ec2: Any, instance_id: str) -> tuple[str, int]:
    """Where the instance's SSH port is, as DescribeInstances says (decision 0021): the public
    address in bridge mode; in user mode, the host port of the ``aws:andromede:forward:22`` tag."""
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    [described] = reservation["Instances"]
    tags = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
    forward = tags.get("aws:andromede:forward:22")
    if forward is not None:
        address, port = forward.rsplit(":", 1)
        return address, int(port)
    return described["PublicIpAddress"], 22


def _known_hosts(path: Path, endpoint: tuple[str, int], host_keys: list[str]) -> Path:
    address, port = endpoint
    name = address if port == 22 else f"[{address}]:{port}"
    path.write_text("".join(f"{name} {_public_key_blob(key)}\n" for key in host_keys))
    return path


def _private_key_file(path: Path, openssh_pem: bytes) -> Path:
    path.write_bytes(openssh_pem)
    path.chmod(0o600)  # ssh ignores a private key that others can read
    return path


def _ssh(
    endpoint: tuple[str, int], user: str, identity: Path, known_hosts: Path, command: str
) -> subprocess.CompletedProcess[str]:
    address, port = endpoint
    return subprocess.run(
        ["ssh", *SSH_OPTIONS, "-o", f"UserKnownHostsFile={known_hosts}", "-i", str(identity),
         "-p", str(port), f"{user}@{address}", command],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _ssh_when_up(
    endpoint: tuple[str, int], user: str, identity: Path, known_hosts: Path, command: str
) -> subprocess.CompletedProcess[str]:
    """``_ssh`` once sshd answers: cloud-init prints the host keys late in its last stage, but
    sshd may still be starting on a loaded machine (connection refused or reset)."""
    deadline = time.monotonic() + 180
    while True:
        done = _ssh(endpoint, user, identity, known_hosts, command)
        if done.returncode == 0 or time.monotonic() > deadline:
            return done
        if not re.search(r"Connection (refused|reset|closed)|timed out|banner", done.stderr):
            return done  # an answer from sshd (a refusal): not worth waiting for
        time.sleep(3)


def _public_key_blob(openssh_line: str) -> str:
    kind, blob = openssh_line.split()[:2]
    return f"{kind} {blob}"


def test_debian_cloud_init_runs_user_data_lets_the_key_in_over_ssh_and_keeps_its_disk(
    qemu_server: tuple[ServerProcess, Path], debian_image: DebianImage, tmp_path: Path
) -> None:
    server, state_dir = qemu_server
    image_id = import_image(server, debian_image.disk, "debian-12")
    ec2 = ec2_client(server)
    key_name = f"k-{uuid.uuid4().hex[:8]}"
    key_pair = ec2.create_key_pair(KeyName=key_name, KeyType="ed25519")
    private_key = serialization.load_ssh_private_key(key_pair["KeyMaterial"].encode(), None)
    public_line = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )

    identity = _private_key_file(tmp_path / "id_key", key_pair["KeyMaterial"].encode())
    # SSH in, as on EC2: the default group lets nothing in until a rule allows TCP 22 (in user
    # mode the host forward is opened only then, decision 0015).
    [default_group] = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    ec2.authorize_security_group_ingress(
        GroupId=default_group["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )  # fmt: skip

    started = time.monotonic()
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1,
        KeyName=key_name, UserData=USER_DATA,
    )  # fmt: skip
    (instance_id,) = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)

    # cloud-init found the seed: the user data ran with this instance's id ...
    _, ran_at = _wait_console(ec2, instance_id, rf"{MARK}-user-data-ran instance=(\S+)")
    written, _ = _wait_console(ec2, instance_id, rf"{MARK}-canary-written=([0-9a-f-]{{36}})")
    canary = written.group(1)
    console = str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")
    assert f"{MARK}-user-data-ran instance={instance_id}" in console
    # ... the key pair is the default user's one authorized key ...
    authorized = re.findall(rf"{MARK}-authorized-key: (.+)", console)
    assert [_public_key_blob(line) for line in authorized] == [_public_key_blob(public_line)]
    # ... and an instance's interface, when the host gives it one, came up by DHCP: the seed
    # has no network-config, cloud-init's fallback configures it (andromede.compute.seed).
    network = re.search(rf"{MARK}-network nics=\[([^]]*)\] ipv4=(\S*)", console)
    assert network is not None
    if network.group(1).strip():
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+/\d+", network.group(2)), network.group(0)
    print(f"first boot: user data ran {ran_at - started:.1f}s after RunInstances; {network[0]}")
    assert len(qemu_processes(state_dir)) == 1

    # The host keys the instance made at its first boot, as its console shows them: the
    # known_hosts file that lets the real ssh client check it is talking to this instance.
    shown, keys_at = _wait_console(ec2, instance_id, HOST_KEYS)
    # (Lines of systemd's status may land inside the block: only the key lines count.)
    host_keys = re.findall(r"^((?:ssh|ecdsa)-\S+ [A-Za-z0-9+/=]+)", shown.group(1), re.MULTILINE)
    assert sorted(key.split()[0] for key in host_keys) == ["ecdsa-sha2-nistp256", "ssh-ed25519"]
    endpoint = _ssh_endpoint(ec2, instance_id)
    known_hosts = _known_hosts(tmp_path / "known_hosts", endpoint, host_keys)
    proof = "cat /var/lib/andromede-canary /var/lib/cloud/data/instance-id; sudo -n id -u"
    logged_in = _ssh_when_up(endpoint, DEFAULT_USER, identity, known_hosts, proof)
    assert logged_in.returncode == 0, logged_in.stderr
    # What the user data wrote, on the instance it ran for; the default user may sudo.
    assert logged_in.stdout.split() == [canary, instance_id, "0"]
    print(
        f"ssh {DEFAULT_USER}@{endpoint[0]}:{endpoint[1]}: in "
        f"{time.monotonic() - keys_at:.1f}s after the host keys showed"
    )
    # Another key is refused ...
    stranger = _private_key_file(
        tmp_path / "other_key",
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
    )
    refused = _ssh(endpoint, DEFAULT_USER, stranger, known_hosts, "true")
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr
    # ... and so is a host that is not the one whose keys the console showed.
    impostor_key = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    impostor = _known_hosts(tmp_path / "impostor_hosts", endpoint, [impostor_key])
    unverified = _ssh(endpoint, DEFAULT_USER, identity, impostor, "true")
    assert unverified.returncode == 255
    assert "Host key verification failed" in unverified.stderr

    # Stop (ACPI power button: systemd shuts the guest down), start: the root file system
    # kept the first boot's canary, and the user data did not run twice.
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    assert qemu_processes(state_dir) == []
    restarted = time.monotonic()
    ec2.start_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    read, read_at = _wait_console(ec2, instance_id, rf"{MARK}-canary-read=(\S+)")
    assert read.group(1) == canary
    # The per-boot scripts run just before the user's in cloud-init's last stage: once that
    # stage has finished, a user data run again would be on the console after the canary.
    finished, _ = _wait_console(
        ec2, instance_id, rf"{MARK}-canary-read=[\s\S]*Cloud-init v\. \S+ finished at"
    )
    assert f"{MARK}-user-data-ran" not in finished.group(0)
    print(f"second boot: canary read {read_at - restarted:.1f}s after StartInstances")
    # The host keys are on the disk too: the first console's keys still check the instance,
    # wherever the host now publishes its SSH port.
    endpoint = _ssh_endpoint(ec2, instance_id)
    known_hosts = _known_hosts(tmp_path / "known_hosts", endpoint, host_keys)
    again = _ssh_when_up(
        endpoint, DEFAULT_USER, identity, known_hosts, "cat /var/lib/andromede-canary"
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == canary

    # Terminate frees everything: no QEMU process, no volume, no seed, no instance folder.
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    deadline = time.monotonic() + 60
    while (qemu_processes(state_dir) or list(state_dir.glob("volumes/*"))) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert qemu_processes(state_dir) == []
    assert list(state_dir.glob("volumes/*")) == []
    assert list(state_dir.glob("instances/*/seed*")) == []
    assert not (state_dir / "instances" / instance_id).exists()
