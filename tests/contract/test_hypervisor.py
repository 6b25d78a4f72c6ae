"""The hypervisor port's contract (andromede.compute.driver), against real QEMU guests.

``host`` is parametrised by driver: every test on it holds for any implementation (the in-memory
twin joins the list with its own factory). Tests on ``qemu_host`` need a real guest: the small
kernel + busybox image of tests/support/guest_images.py, whose init prints markers on the
serial console, runs shell user data with ``ROOT_DISK`` set, and powers off on ACPI power-down.

``qemu-rbd`` is the QEMU driver with its volumes in Ceph RBD (a namespace of the tests' cluster
per test, support/rbd.py) instead of files: the same contract, plus a disk that outlives its host.

Without QEMU or the image's build tools the fixtures skip, which ANDROMEDE_TEST_REQUIRE_ALL=1
(CI) turns into failures. Guests run under TCG on machines whose KVM cannot run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from andromede.compute.driver import (
    Accelerator,
    AttachedVolume,
    HypervisorDriver,
    ImageBacking,
    InstanceSpec,
    InterfaceSpec,
    NetworkMode,
    PortForward,
    RuntimeState,
    SeedSpec,
    SnapshotBacking,
    VolumeSpec,
)
from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancedTls,
    BalancerReport,
    ServedCertificate,
    TargetProbe,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    NatRoute,
    NatSource,
    NetworkPeer,
    NetworkSpec,
    NicSpec,
    PeeringLink,
    SubnetAcl,
    VpcDns,
)
from andromede.compute.errors import HypervisorFailed
from andromede.hypervisor import HypervisorError, QemuDriver, QemuDriverConfig
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.errors import InstanceNotRunning
from andromede.hypervisor.images import QemuImg
from andromede.hypervisor.monitor import Monitor
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.rbd_volumes import CEPHX_SECRET, RbdVolumes
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.tenant_network import NetworkLayout
from support.guest_images import (
    INIT_MARKER,
    USER_DATA_EXIT_MARKER,
    GuestImage,
    GuestImageUnavailable,
    build_guest_image,
)
from support.host_images import file_chunks, file_sha256, put_file_image
from support.rbd import RbdNamespace
from support.tenant_networks import random_ranges
from support.tls_certificates import TestCa

pytestmark = pytest.mark.slow

BOOT_TIMEOUT = 90.0  # TCG on a loaded 2-core machine; an idle one boots in about 2.5 s
# The guest's user data keeps a canary in this sector of its root disk (256 MiB in).
CANARY_SECTOR = 524288
CANARY_PREFIX = "andromede-canary-"


@dataclass
class Host:
    """A driver under test and a base image it can put volumes over."""

    driver: HypervisorDriver
    image: Path
    image_format: str
    state_dir: Path
    # What the driver raises when the host refuses an operation.
    error: type[Exception] = HypervisorError
    # The RBD namespace of the volumes, when they are not files under state_dir.
    rbd: RbdNamespace | None = None

    def stored(self, kind: str, resource_id: str) -> bytes | None:
        """A volume's (kind "volumes") or snapshot's bytes as stored, None when absent."""
        if self.rbd is not None:
            return self.rbd.read(resource_id) if resource_id in self.rbd.images() else None
        path = self.state_dir / kind / f"{resource_id}.qcow2"
        return path.read_bytes() if path.exists() else None

    def assert_no_volume_left(self) -> None:
        if self.rbd is not None:
            assert self.rbd.images() == [] and self.rbd.data_objects() == []
        assert list(self.state_dir.glob("volumes/*")) == []


@pytest.fixture(scope="session")
def guest_image() -> GuestImage:
    missing = [tool for tool in ("qemu-system-x86_64", "qemu-img") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"QEMU is not installed ({', '.join(missing)}; scripts/install-system-deps.sh)")
    try:
        return build_guest_image()
    except GuestImageUnavailable as exc:
        pytest.skip(f"cannot build the test guest image: {exc}")


def _short_state_dir() -> Path:
    # QMP socket paths must fit in 107 bytes: pytest's tmp_path can be longer.
    return Path(tempfile.mkdtemp(prefix="andromede-hv-", dir="/tmp"))


def _bridged_config(link_letter: str) -> tuple[QemuDriverConfig, Path]:
    """A QEMU driver's bridge-mode configuration on a random transit and public block of its
    own (links named from ``link_letter``), and a short state folder; skipped where tenant
    networks cannot be built."""
    if os.geteuid() != 0 or shutil.which("dnsmasq") is None:
        pytest.skip("tenant networks need root and dnsmasq")
    transit, public = random_ranges()
    layout = NetworkLayout(
        transit_cidr=transit,
        public_cidr=public,
        imds_port=20000 + secrets.randbelow(20000),
        link_prefix=link_letter + secrets.token_hex(2),
    )
    return QemuDriverConfig(networking="bridge", network_layout=layout), _short_state_dir()


USER_MODE = QemuDriverConfig(networking="user")


def rbd_driver(
    state_dir: Path, namespace: RbdNamespace, config: QemuDriverConfig = USER_MODE
) -> QemuDriver:
    def volumes(root: Path, img: QemuImg) -> RbdVolumes:
        return RbdVolumes(namespace.config, img)

    return QemuDriver(state_dir, host="test-host", config=config, volumes=volumes)


async def _qemu_host(
    image: GuestImage, config: QemuDriverConfig = USER_MODE, rbd: RbdNamespace | None = None
) -> AsyncIterator[Host]:
    state_dir = _short_state_dir()
    if rbd is None:
        driver = QemuDriver(state_dir, host="test-host", config=config)
    else:
        driver = rbd_driver(state_dir, rbd, config)
    try:
        yield Host(driver, image.disk, "raw", state_dir, rbd=rbd)
    finally:
        for instance_id in await driver.running():
            await driver.kill(instance_id)
        await driver.close()
        shutil.rmtree(state_dir, ignore_errors=True)


async def _remote_qemu_host(image: GuestImage) -> AsyncIterator[Host]:
    """The QEMU driver behind its agent's socket, as gateway workers reach it."""
    async for local in _qemu_host(image):
        driver = local.driver
        assert isinstance(driver, QemuDriver)
        socket_path = local.state_dir / "agent" / "agent.sock"
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_agent(driver, socket_path, stop))
        assert await asyncio.to_thread(agent_ready, socket_path, 30.0)
        remote = RemoteDriver(socket_path, host=driver.host)
        try:
            yield Host(remote, local.image, local.image_format, local.state_dir)
        finally:
            await remote.close()
            stop.set()
            await serving


@pytest.fixture(params=["qemu", "qemu-behind-agent", "qemu-rbd"])
async def host(request: pytest.FixtureRequest, guest_image: GuestImage) -> AsyncIterator[Host]:
    if request.param == "qemu-rbd":
        hosts = _qemu_host(guest_image, rbd=request.getfixturevalue("rbd_namespace"))
    elif request.param == "qemu":
        hosts = _qemu_host(guest_image)
    else:
        hosts = _remote_qemu_host(guest_image)
    async for value in hosts:
        yield value


@pytest.fixture(params=["memory", "qemu", "qemu-behind-agent", "qemu-rbd"])
async def image_host(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Host]:
    """Every driver, the in-memory twin too, with a small raw image of its own (the image
    cases create no guest)."""
    image = tmp_path / "image.raw"
    image.write_bytes(b"andromede-test-image\n" + os.urandom(3 * 1024 * 1024))
    if request.param == "memory":
        yield Host(MemoryDriver("memory-host"), image, "raw", tmp_path, error=HypervisorFailed)
        return
    guest_image = request.getfixturevalue("guest_image")
    if request.param == "qemu-rbd":
        hosts = _qemu_host(guest_image, rbd=request.getfixturevalue("rbd_namespace"))
    elif request.param == "qemu":
        hosts = _qemu_host(guest_image)
    else:
        hosts = _remote_qemu_host(guest_image)
    async for value in hosts:
        yield replace(value, image=image, image_format="raw")


@pytest.fixture(params=["qemu", "qemu-rbd"])
async def volume_host(
    request: pytest.FixtureRequest, guest_image: GuestImage
) -> AsyncIterator[Host]:
    """The QEMU driver over each volume backend."""
    rbd = request.getfixturevalue("rbd_namespace") if request.param == "qemu-rbd" else None
    async for value in _qemu_host(guest_image, rbd=rbd):
        yield value


@pytest.fixture
async def qemu_host(guest_image: GuestImage) -> AsyncIterator[Host]:
    async for value in _qemu_host(guest_image):
        yield value


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def canary_user_data(token: str, *, extra: str = "") -> bytes:
    """Shell user data: prints the canary when a previous boot left it, else writes it.
    ``fsync`` makes the guest send the disk a flush, as any program that needs its data to
    survive a crash does: ``sync`` writes a raw device's pages without one, and a disk's write
    cache (librbd's, in QEMU's memory) may hold them until a flush or a clean exit."""
    return f"""#!/bin/sh
found=$(dd if="$ROOT_DISK" bs=512 skip={CANARY_SECTOR} count=1 2>/dev/null |
  head -c 40 | tr -d '\\000')
case "$found" in
  {CANARY_PREFIX}*) echo "persisted: $found" ;;
  *) printf '{CANARY_PREFIX}%s' {token} |
       dd of="$ROOT_DISK" bs=512 seek={CANARY_SECTOR} conv=notrunc,fsync 2>/dev/null
     sync
     echo "wrote canary" ;;
esac
{extra}
""".encode()


async def make_root(host: Host) -> AttachedVolume:
    volume_id, key = new_id("vol"), secrets.token_bytes(32)
    backing = await put_file_image(host.driver, host.image, host.image_format)
    await host.driver.create_volume(VolumeSpec(volume_id, 1, key, backing=backing))
    return AttachedVolume(volume_id, "/dev/xvda", key)


def instance_spec(
    instance_id: str,
    root: AttachedVolume,
    user_data: bytes,
    *,
    forwards: tuple[PortForward, ...] = (PortForward("127.0.0.1", 0, 22),),
    nic: NicSpec | None = None,
) -> InstanceSpec:
    seed = SeedSpec(
        # As the compute service writes it: JSON, which is YAML.
        meta_data=json.dumps({"instance-id": instance_id, "local-hostname": instance_id}, indent=1),
        user_data=user_data,
        network_config='{"version": 2}\n',
    )
    # SSH open to all: the user-mode driver opens forwards only for ports the rules allow.
    ssh = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    return InstanceSpec(instance_id, 1, 128, root, seed, forwards=forwards, nic=nic, firewall=ssh)


async def wait_console(
    driver: HypervisorDriver,
    instance_id: str,
    done: Callable[[str], bool],
    timeout: float = BOOT_TIMEOUT,
) -> str:
    deadline = time.monotonic() + timeout
    while True:
        console = (await driver.console_output(instance_id)).decode(errors="replace")
        if done(console):
            return console
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {timeout:g}s:\n{console}")
        await asyncio.sleep(0.1)


def booted(instance_id: str, times: int = 1) -> Callable[[str], bool]:
    marker = f"{INIT_MARKER} instance-id={instance_id}"
    return lambda console: console.count(USER_DATA_EXIT_MARKER) >= times and marker in console


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline:
                found.append(int(entry.name))
    return found


# -- any driver ---------------------------------------------------------------------------


async def test_capacity_is_probed_once_and_names_the_accelerator(host: Host) -> None:
    first = await host.driver.capacity()
    assert first.host == host.driver.host
    assert first.vcpus >= 1 and first.memory_mib >= 128
    assert first.accelerator in (Accelerator.KVM, Accelerator.TCG)
    assert first.networking is NetworkMode.USER  # as configured: no probe
    started = time.monotonic()
    assert await host.driver.capacity() == first
    assert time.monotonic() - started < 0.5  # cached, not probed again


async def test_deletes_and_stops_of_what_is_absent_are_no_ops(host: Host) -> None:
    driver = host.driver
    await driver.delete_volume(new_id("vol"))
    await driver.delete_snapshot(new_id("snap"))
    instance_id = new_id("i")
    await driver.kill(instance_id)
    await driver.stop(instance_id, timeout=1)
    await driver.release(instance_id)
    assert await driver.state(instance_id) is RuntimeState.ABSENT
    assert await driver.console_output(instance_id) == b""
    assert await driver.network(instance_id) is None


async def test_start_refuses_a_missing_volume_or_a_wrong_key_and_leaves_nothing_running(
    host: Host,
) -> None:
    root = await make_root(host)
    wrong = AttachedVolume(root.volume_id, root.device, secrets.token_bytes(32))
    instance_id = new_id("i")
    with pytest.raises(host.error):
        await host.driver.start(instance_spec(instance_id, wrong, b""))
    assert await host.driver.state(instance_id) is not RuntimeState.RUNNING
    missing = AttachedVolume(new_id("vol"), "/dev/xvda", root.key)
    with pytest.raises(host.error):
        await host.driver.start(instance_spec(instance_id, missing, b""))
    await host.driver.release(instance_id)
    assert await host.driver.state(instance_id) is RuntimeState.ABSENT
    assert processes_mentioning(str(host.state_dir)) == []


# -- images: sent by the control plane, verified and kept by the host ------------------------


def host_copies(host: Host) -> list[Path]:
    """The image copies a QEMU host keeps (and any partial write); none for the memory twin."""
    directory = host.state_dir / "images"
    return sorted(directory.iterdir()) if directory.is_dir() else []


async def unread(what: str) -> AsyncIterator[bytes]:
    raise AssertionError(f"the bytes of {what} were read")
    yield b""  # pragma: no cover


async def test_an_image_is_kept_verified_and_read_only(image_host: Host) -> None:
    driver, image = image_host.driver, image_host.image
    backing = await put_file_image(driver, image, "raw", new_id("ami"))
    assert await driver.has_image(backing.image_id, backing.sha256)
    assert not await driver.has_image(backing.image_id, "0" * 64)
    assert not await driver.has_image(new_id("ami"), backing.sha256)
    # Put again: the host has it, the bytes are not read.
    await driver.put_image(backing.image_id, backing.sha256, "raw", unread("a held image"))
    if not isinstance(driver, MemoryDriver):
        (copy,) = host_copies(image_host)
        assert copy.name == f"{backing.image_id}.{backing.sha256}"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o400
        assert copy.read_bytes() == image.read_bytes()
    await driver.forget_image(backing.image_id)
    await driver.forget_image(backing.image_id)  # absent: nothing to do
    assert not await driver.has_image(backing.image_id, backing.sha256)
    assert host_copies(image_host) == []


async def test_bytes_that_do_not_match_the_checksum_leave_nothing(image_host: Host) -> None:
    driver, image = image_host.driver, image_host.image
    image_id, sha256 = new_id("ami"), file_sha256(image)
    altered = image_host.state_dir / "altered.raw"
    original = image.read_bytes()
    # The last byte flipped: a fixed replacement equals the random original one time in 256.
    altered.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    with pytest.raises(image_host.error, match="SHA-256"):
        await driver.put_image(image_id, sha256, "raw", file_chunks(altered, 64 * 1024))
    assert not await driver.has_image(image_id, sha256)
    assert host_copies(image_host) == []
    # Nor can a volume be made over what the host does not hold.
    backing = ImageBacking(image_id, "raw", sha256)
    with pytest.raises(image_host.error):
        await driver.create_volume(VolumeSpec(new_id("vol"), 1, secrets.token_bytes(32), backing))


async def test_two_puts_of_one_image_at_once_keep_one_copy(image_host: Host) -> None:
    driver, image = image_host.driver, image_host.image
    image_id, sha256 = new_id("ami"), file_sha256(image)
    await asyncio.gather(
        *(driver.put_image(image_id, sha256, "raw", file_chunks(image, 64 * 1024)) for _ in "ab")
    )
    assert await driver.has_image(image_id, sha256)
    if not isinstance(driver, MemoryDriver):
        assert [p.name for p in host_copies(image_host)] == [f"{image_id}.{sha256}"]
    await driver.forget_image(image_id)


async def test_an_image_a_volume_reads_is_not_forgotten(image_host: Host) -> None:
    driver = image_host.driver
    backing = await put_file_image(driver, image_host.image, "raw", new_id("ami"))
    volume_id = new_id("vol")
    await driver.create_volume(VolumeSpec(volume_id, 1, secrets.token_bytes(32), backing))
    if image_host.rbd is None:
        # File overlays name the host's copy as their backing file: it must stay.
        with pytest.raises(image_host.error, match="still reads"):
            await driver.forget_image(backing.image_id)
        assert await driver.has_image(backing.image_id, backing.sha256)
    else:
        # RBD volumes read the image's base in the pool: the host's copy can go.
        await driver.forget_image(backing.image_id)
        assert host_copies(image_host) == []
    await driver.delete_volume(volume_id)
    await driver.forget_image(backing.image_id)
    assert not await driver.has_image(backing.image_id, backing.sha256)
    assert host_copies(image_host) == []
    image_host.assert_no_volume_left()


GIB = 1024**3


async def virtual_size(host: Host, volume_id: str, key: bytes) -> int:
    """The size of the disk a guest would see, read as the host opens it: with its key (a
    wrong key raises), from the volume's qcow2 header (a file or the RBD image)."""
    driver = host.driver
    if isinstance(driver, MemoryDriver):
        volume = driver.volumes[volume_id]
        assert volume.key == key
        return volume.size_gib * GIB
    img = QemuImg("qemu-img", iter_time_ms=10, timeout=60)
    if host.rbd is not None:
        volumes = RbdVolumes(host.rbd.config, img)
        try:
            return await volumes.virtual_size(volume_id, key)
        finally:
            await volumes.close()
    size = (await img.info(host.state_dir / "volumes" / f"{volume_id}.qcow2", key))["virtual-size"]
    assert isinstance(size, int)
    return size


async def test_a_volume_grows_offline_and_still_opens_with_its_key(image_host: Host) -> None:
    driver = image_host.driver
    blank_id, blank_key = new_id("vol"), secrets.token_bytes(32)
    await driver.create_volume(VolumeSpec(blank_id, 1, blank_key))
    await driver.grow_volume(blank_id, blank_key, 2)
    assert await virtual_size(image_host, blank_id, blank_key) == 2 * GIB
    await driver.grow_volume(blank_id, blank_key, 2)  # a retry: nothing to do
    await driver.grow_volume(blank_id, blank_key, 1)  # never shrinks
    assert await virtual_size(image_host, blank_id, blank_key) == 2 * GIB
    with pytest.raises(image_host.error):
        await driver.grow_volume(blank_id, secrets.token_bytes(32), 3)
    assert await virtual_size(image_host, blank_id, blank_key) == 2 * GIB
    with pytest.raises(image_host.error):
        await driver.grow_volume(new_id("vol"), blank_key, 3)

    # An overlay over an image (a root volume) grows too, its image untouched.
    backing = await put_file_image(driver, image_host.image, "raw", new_id("ami"))
    overlay_id, overlay_key = new_id("vol"), secrets.token_bytes(32)
    await driver.create_volume(VolumeSpec(overlay_id, 1, overlay_key, backing))
    await driver.grow_volume(overlay_id, overlay_key, 3)
    assert await virtual_size(image_host, overlay_id, overlay_key) == 3 * GIB
    for volume_id in (blank_id, overlay_id):
        await driver.delete_volume(volume_id)
    await driver.forget_image(backing.image_id)
    image_host.assert_no_volume_left()


async def plain_prefix(host: Host, kind: str, resource_id: str, key: bytes, length: int) -> bytes:
    """The first ``length`` bytes of a volume's or snapshot's disk as a guest would read them,
    decrypted with ``key`` the way the host opens it (a wrong key raises)."""
    img = QemuImg("qemu-img", iter_time_ms=10, timeout=60)
    with tempfile.TemporaryDirectory(prefix="andromede-plain-") as scratch:
        out = Path(scratch) / "plain.raw"
        if host.rbd is not None:
            volumes = RbdVolumes(host.rbd.config, img)
            try:
                options = volumes._qcow2(resource_id, "source", None)
                options.pop("backing", None)
                await img.run(
                    ["convert", "-q", "-O", "raw", volumes._json(options), str(out)],
                    {"source": key},
                    raw_secrets={CEPHX_SECRET: volumes._cephx_key.encode()},
                )
            finally:
                await volumes.close()
        else:
            path = host.state_dir / kind / f"{resource_id}.qcow2"
            opts = f"driver=qcow2,file.filename={path},encrypt.key-secret=source"
            await img.run(
                ["convert", "-q", "-U", "--image-opts", opts, "-O", "raw", str(out)],
                {"source": key},
            )
        with out.open("rb") as plain:
            return plain.read(length)


async def test_a_snapshot_copies_under_a_new_key_and_outlives_its_source(
    image_host: Host,
) -> None:
    """CopySnapshot's part on the host: the copy holds the source's bytes under its own key,
    opens with that key only, and needs nothing of the source once made."""
    driver, memory = image_host.driver, isinstance(image_host.driver, MemoryDriver)
    content = image_host.image.read_bytes()
    backing = await put_file_image(driver, image_host.image, "raw", new_id("ami"))
    volume_id, volume_key = new_id("vol"), secrets.token_bytes(32)
    await driver.create_volume(VolumeSpec(volume_id, 1, volume_key, backing))
    source_id, source_key = new_id("snap"), secrets.token_bytes(32)
    await driver.snapshot_volume(volume_id, volume_key, source_id, source_key)
    await driver.delete_volume(volume_id)

    def snapshot_exists(snapshot_id: str) -> bool:
        if isinstance(driver, MemoryDriver):
            return snapshot_id in driver.snapshots
        return image_host.stored("snapshots", snapshot_id) is not None

    copy_id, copy_key = new_id("snap"), secrets.token_bytes(32)
    with pytest.raises(image_host.error):  # the source's key is needed to read it
        await driver.copy_snapshot(source_id, secrets.token_bytes(32), copy_id, copy_key)
    with pytest.raises(image_host.error):
        await driver.copy_snapshot(new_id("snap"), source_key, copy_id, copy_key)
    assert not snapshot_exists(copy_id)  # a refused copy leaves nothing
    await driver.copy_snapshot(source_id, source_key, copy_id, copy_key)
    with pytest.raises(image_host.error):  # an id is never overwritten
        await driver.copy_snapshot(source_id, source_key, copy_id, source_key)
    if not memory:
        stored = image_host.stored("snapshots", copy_id)
        assert stored is not None and int.from_bytes(stored[32:36], "big") == 2  # LUKS
        assert b"andromede-test-image" not in stored
        assert await plain_prefix(image_host, "snapshots", copy_id, copy_key, 64) == content[:64]
        with pytest.raises(HypervisorError):  # re-encrypted: the source's key does not open it
            await plain_prefix(image_host, "snapshots", copy_id, source_key, 64)

    # The source goes; a volume made from the copy reads the image's bytes.
    await driver.delete_snapshot(source_id)
    restored_id, restored_key = new_id("vol"), secrets.token_bytes(32)
    with pytest.raises(image_host.error):
        await driver.create_volume(
            VolumeSpec(restored_id, 1, restored_key, SnapshotBacking(copy_id, source_key))
        )
    await driver.create_volume(
        VolumeSpec(restored_id, 1, restored_key, SnapshotBacking(copy_id, copy_key))
    )
    if not memory:
        read = await plain_prefix(image_host, "volumes", restored_id, restored_key, len(content))
        assert read == content
    await driver.delete_volume(restored_id)
    await driver.delete_snapshot(copy_id)
    assert not snapshot_exists(copy_id)
    await driver.forget_image(backing.image_id)
    image_host.assert_no_volume_left()


# -- real guests ----------------------------------------------------------------------------


async def test_lifecycle_of_an_encrypted_guest(host: Host) -> None:
    driver, token = host.driver, secrets.token_hex(8)
    root = await make_root(host)
    instance_id = new_id("i")
    started = await driver.start(instance_spec(instance_id, root, canary_user_data(token)))
    assert await driver.state(instance_id) is RuntimeState.RUNNING
    (forward,) = started.forwards
    assert forward.guest_port == 22 and forward.host_port > 0
    assert await driver.network(instance_id) == started

    console = await wait_console(driver, instance_id, booted(instance_id))
    assert "wrote canary" in console
    assert f"{USER_DATA_EXIT_MARKER}0" in console
    # The root disk carries its volume id as serial, as EC2's NVMe disks do.
    assert f"vda serial={root.volume_id.replace('-', '')} sectors={1024**3 // 512}" in console

    # Decision 0178: what it used since the previous call (a host's first call may only read
    # a base), its root volume among its disks.
    await driver.collect_metrics()
    await asyncio.sleep(0.2)
    (measured,) = [s for s in await driver.collect_metrics() if s.instance_id == instance_id]
    assert measured.seconds > 0 and measured.vcpus >= 1 and measured.cpu_seconds >= 0
    assert root.volume_id in {v.volume_id for v in measured.volumes}
    # Two gateways asking at once (each of a serve's workers gathers every interval): each
    # answer reads the disks, none skips them for the other's monitor call.
    for answer in await asyncio.gather(driver.collect_metrics(), driver.collect_metrics()):
        (measured,) = [s for s in answer if s.instance_id == instance_id]
        assert root.volume_id in {v.volume_id for v in measured.volumes}

    # Keys are in no command line and no file; the canary and the user data in no file.
    pid = next(iter(processes_mentioning(str(host.state_dir))))
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    for secret in (root.key, root.key.hex().encode()):
        assert secret not in cmdline
    started = time.monotonic()
    await driver.stop(instance_id, timeout=30)
    assert time.monotonic() - started < 20  # the guest's ACPI handler powered it off
    assert await driver.state(instance_id) is RuntimeState.SHUT_OFF
    assert [s for s in await driver.collect_metrics() if s.instance_id == instance_id] == []
    stored = host.stored("volumes", root.volume_id)
    assert stored is not None
    assert stored[:4] == b"QFI\xfb"
    assert int.from_bytes(stored[32:36], "big") == 2  # crypt_method 2: LUKS
    assert token.encode() not in stored  # the guest's writes are encrypted where they are kept
    for path in host.state_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert token.encode() not in content, path
            assert root.key not in content and root.key.hex().encode() not in content, path

    # A second boot sees what the first wrote.
    await driver.start(instance_spec(instance_id, root, canary_user_data(token)))
    console = await wait_console(driver, instance_id, booted(instance_id, times=2))
    assert f"persisted: {CANARY_PREFIX}{token}" in console
    assert "wrote canary" in console  # the previous boot's console is still shown

    await driver.reboot(instance_id)
    console = await wait_console(driver, instance_id, booted(instance_id, times=3))
    assert console.count(f"persisted: {CANARY_PREFIX}{token}") == 2

    # Killed from outside (the OOM killer's SIGKILL, a crash), QEMU never runs its exit path
    # and leaves its pidfile: ``crashed``, never taken for the guest's own power-off (decision
    # 0145's addendum: such an instance is stopped, not terminated).
    (qemu,) = [
        pid
        for pid in processes_mentioning(str(host.state_dir))
        if b"qemu-system" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    os.kill(qemu, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while await driver.state(instance_id) is RuntimeState.RUNNING:
        assert time.monotonic() < deadline, "QEMU outlived SIGKILL"
        await asyncio.sleep(0.1)
    assert await driver.state(instance_id) is RuntimeState.CRASHED
    await driver.kill(instance_id)  # what the service's forced stop then calls
    assert await driver.state(instance_id) is RuntimeState.SHUT_OFF
    await driver.release(instance_id)
    assert await driver.state(instance_id) is RuntimeState.ABSENT
    assert not (host.state_dir / "instances" / instance_id).exists()
    assert processes_mentioning(str(host.state_dir)) == []
    assert await driver.running() == {}
    await driver.delete_volume(root.volume_id)
    assert host.stored("volumes", root.volume_id) is None
    host.assert_no_volume_left()


async def test_a_guest_without_acpi_handler_is_stopped_after_the_timeout(qemu_host: Host) -> None:
    driver = qemu_host.driver
    root = await make_root(qemu_host)
    instance_id = new_id("i")
    no_acpi = b"#!/bin/sh\nkillall acpid\necho acpid-gone\n"
    # Started with no ingress rule: its SSH forward is not opened (user mode)…
    closed = replace(instance_spec(instance_id, root, no_acpi), firewall=InstanceFirewall())
    assert (await driver.start(closed)).forwards == ()
    # …until a rule allows it, on the running guest.
    await driver.set_firewall(
        instance_id, InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    )
    opened = await driver.network(instance_id)
    assert opened is not None
    (forward,) = opened.forwards
    _, writer = await asyncio.open_connection(forward.host_address, forward.host_port)
    writer.close()
    await wait_console(driver, instance_id, lambda console: "acpid-gone" in console)
    started = time.monotonic()
    await driver.stop(instance_id, timeout=2)
    assert 2 <= time.monotonic() - started < 15
    assert await driver.state(instance_id) is RuntimeState.SHUT_OFF
    assert processes_mentioning(str(qemu_host.state_dir)) == []


# Takes the private address by DHCP, then answers every connection to its port 22.
NETWORK_USER_DATA = b"""#!/bin/sh
printf '#!/bin/sh\\n[ "$1" = bound ] || exit 0\\nip addr add "$ip/$mask" dev "$interface"\\n' \\
  > /run/dhcp-event
printf 'echo "andromede-dhcp ip=$ip mac=$(cat /sys/class/net/$interface/address)"\\n' \\
  >> /run/dhcp-event
chmod +x /run/dhcp-event
ip link set eth0 up
udhcpc -i eth0 -n -q -t 20 -s /run/dhcp-event
(while true; do echo hello-from-the-guest | nc -l -p 22; done) > /dev/null 2>&1 &
echo first
"""


async def read_through_forward(forward: PortForward, timeout: float = BOOT_TIMEOUT) -> bytes:
    """What the guest sends on a connection to the host port. QEMU accepts on the host side
    before the guest listens, so an empty read is retried until the guest answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(forward.host_address, forward.host_port)
            try:
                data = await asyncio.wait_for(reader.read(100), 2)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            if data:
                return data
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.2)
    return b""


async def test_a_new_driver_on_the_same_directory_reattaches_to_running_guests(
    qemu_host: Host,
) -> None:
    root = await make_root(qemu_host)
    instance_id = new_id("i")
    network = NetworkSpec("net-1", "tenant-1", "10.11.0.0/24")
    nic = NicSpec(network, "52:54:00:0a:0b:0c", "10.11.0.5")
    started = await qemu_host.driver.start(
        instance_spec(instance_id, root, NETWORK_USER_DATA, nic=nic)
    )
    await qemu_host.driver.close()
    forwards = started.forwards

    restarted = QemuDriver(qemu_host.state_dir, host="test-host", config=USER_MODE)
    assert await restarted.running() == {instance_id: RuntimeState.RUNNING}
    console = await wait_console(restarted, instance_id, booted(instance_id))
    assert "first" in console
    # User-mode networking on the tenant's CIDR, with the spec's private address and MAC.
    assert "andromede-dhcp ip=10.11.0.5 mac=52:54:00:0a:0b:0c" in console
    reattached = await restarted.network(instance_id)
    assert reattached is not None and reattached.forwards == forwards
    (forward,) = forwards
    assert await read_through_forward(forward) == b"hello-from-the-guest\n"

    # User mode honours the rules live as far as it can: no ingress rule, no forward…
    await restarted.set_firewall(instance_id, InstanceFirewall())
    closed = await restarted.network(instance_id)
    assert closed is not None and closed.forwards == ()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(forward.host_address, forward.host_port)
    # …and SSH allowed again opens a forward again.
    await restarted.set_firewall(
        instance_id, InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    )
    reopened = await restarted.network(instance_id)
    assert reopened is not None
    (forward,) = reopened.forwards
    assert forward.guest_port == 22
    assert await read_through_forward(forward) == b"hello-from-the-guest\n"
    await restarted.reboot(instance_id)
    await wait_console(restarted, instance_id, booted(instance_id, times=2))
    await restarted.stop(instance_id, timeout=30)
    assert await restarted.running() == {instance_id: RuntimeState.SHUT_OFF}
    await restarted.release(instance_id)
    assert await restarted.running() == {}


async def test_a_nic_without_a_public_address_gets_no_forward(host: Host) -> None:
    """User mode (these hosts' networking): the SSH forward the compute service might ask is
    not opened for a NIC that asks for no public address, not even when the rules allow it
    (decision 0106). The guest need not boot: the forwards are QEMU's, made at its start."""
    root = await make_root(host)
    instance_id = new_id("i")
    network = NetworkSpec("subnet-1", "tenant-1", "10.11.1.0/24", vpc_id="vpc-1")
    nic = NicSpec(network, "52:54:00:0a:0b:0d", "10.11.1.5", public_address=False)
    ssh = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    spec = replace(instance_spec(instance_id, root, b"#!/bin/sh\ntrue\n", nic=nic), firewall=ssh)
    started = await host.driver.start(spec)
    try:
        assert spec.forwards  # asked for, and not opened
        assert started.forwards == () and started.public_ip is None
        await host.driver.set_firewall(instance_id, ssh)
        wired = await host.driver.network(instance_id)
        assert wired is not None and wired.forwards == () and wired.public_ip is None
    finally:
        await host.driver.kill(instance_id)
        await host.driver.release(instance_id)


async def test_an_elastic_ip_for_an_instance_not_running_here_is_refused(
    image_host: Host,
) -> None:
    """Every driver, the memory twin too, refuses to route an Elastic IP to an instance it
    does not run, or to take one from it, as it refuses to reboot it."""
    instance_id = new_id("i")
    for address in ("198.18.0.5", None):
        with pytest.raises(image_host.error):
            await image_host.driver.set_elastic_ip(instance_id, address)
    with pytest.raises(image_host.error):
        await image_host.driver.reboot(instance_id)


async def test_a_user_mode_nic_starts_with_its_elastic_ip_which_is_not_routed(host: Host) -> None:
    """User mode (these hosts' networking) has no address to route: a start with an Elastic IP
    (EC2 keeps a stopped instance's) starts; giving one is refused, taking one away is a no-op.
    The guest need not boot."""
    root = await make_root(host)
    instance_id = new_id("i")
    network = NetworkSpec("subnet-1", "tenant-1", "10.11.1.0/24", vpc_id="vpc-1")
    nic = NicSpec(network, "52:54:00:0a:0b:0e", "10.11.1.6", elastic_ip="198.18.0.6")
    started = await host.driver.start(instance_spec(instance_id, root, b"", nic=nic))
    try:
        assert started.mode is NetworkMode.USER
        with pytest.raises(host.error, match="user-mode"):
            await host.driver.set_elastic_ip(instance_id, "198.18.0.7")
        await host.driver.set_elastic_ip(instance_id, None)
        assert await host.driver.network(instance_id) == started
    finally:
        await host.driver.kill(instance_id)
        await host.driver.release(instance_id)
    with pytest.raises(host.error):
        await host.driver.set_elastic_ip(instance_id, None)


def _host_route(address: str) -> str:
    return subprocess.run(
        ["ip", "route", "show", f"{address}/32"], capture_output=True, text=True, check=True
    ).stdout.strip()


async def test_a_bridged_guest_loses_its_elastic_ip_when_it_stops_and_gets_it_at_start(
    guest_image: GuestImage,
) -> None:
    """Bridge mode, in process (the routing itself: tests/contract/test_tenant_networks.py):
    the host routes the address given at start and by set_elastic_ip while the guest runs,
    and takes it off when it stops or is killed — EC2 may give it to another instance, on
    another host, meanwhile. The guest need not boot."""
    config, state_dir = _bridged_config("e")
    driver = QemuDriver(state_dir, host="test-host", config=config)
    host = Host(driver, guest_image.disk, "raw", state_dir)
    first, second = (f"198.18.{secrets.randbelow(256)}.{n}" for n in (5, 6))
    try:
        root = await make_root(host)
        instance_id = new_id("i")
        network = NetworkSpec("subnet-" + secrets.token_hex(4), "tenant-1", "10.11.1.0/24")
        nic = NicSpec(network, "52:54:00:0a:0b:0f", "10.11.1.7", elastic_ip=first)
        spec = instance_spec(instance_id, root, b"", nic=nic)
        started = await driver.start(spec)
        assert started.mode is NetworkMode.BRIDGE
        assert f"dev {config.network_layout.link_prefix}t" in _host_route(first)
        await driver.set_elastic_ip(instance_id, second)
        await driver.set_elastic_ip(instance_id, second)  # what it has
        assert _host_route(first) == "" and _host_route(second) != ""
        assert await driver.network(instance_id) == started
        await driver.stop(instance_id, timeout=1)
        assert _host_route(second) == ""
        with pytest.raises(InstanceNotRunning):
            await driver.set_elastic_ip(instance_id, second)
        await driver.start(replace(spec, nic=replace(nic, elastic_ip=second)))
        assert _host_route(second) != ""
        await driver.kill(instance_id)
        assert _host_route(second) == ""
        await driver.release(instance_id)
        assert driver._networks.plugged(instance_id) is None
    finally:
        for instance_id in await driver.running():
            await driver.kill(instance_id)
            await driver.release(instance_id)
        for network_id in list(driver._networks._state.networks):
            await driver._networks.remove(network_id)
        await driver.close()
        shutil.rmtree(state_dir, ignore_errors=True)


DENY_SSH = SubnetAcl(ingress=(AclEntry(90, False, "tcp", "0.0.0.0/0", 22, 22),))


async def test_a_network_acl_for_a_network_not_here_is_accepted(image_host: Host) -> None:
    """Every driver takes a subnet's network ACL before the subnet is on the host (the control
    plane tells every host of the VPC); the memory twin keeps it, as a bridged host does
    (below). These QEMU hosts have user-mode networking, which routes nothing between subnets:
    it keeps nothing either."""
    network_id = "subnet-" + secrets.token_hex(4)
    await image_host.driver.set_network_acl(network_id, DENY_SSH)
    await image_host.driver.set_network_acl(network_id, DENY_SSH)  # what it holds
    if isinstance(image_host.driver, MemoryDriver):
        assert image_host.driver.acls == {network_id: DENY_SSH}
    else:
        assert not (image_host.state_dir / "networks" / "networks.json").exists()


async def test_nat_routes_for_a_vpc_not_here_are_accepted(image_host: Host) -> None:
    """Every driver takes a VPC's NAT gateways (decision 0129) for a VPC it holds nothing of,
    twice alike, and a push of none takes them back; the memory twin keeps them for the
    service tests, user-mode QEMU hosts (no router to translate in) keep nothing. The
    translating itself: tests/contract/test_nat_gateways_host.py."""
    vpc_id = "vpc-" + secrets.token_hex(4)
    route = NatRoute(
        "nat-" + secrets.token_hex(8),
        "198.18.7.9",
        (NatSource("subnet-" + secrets.token_hex(4), "10.12.1.0/24"),),
        ("0.0.0.0/0",),
        via_address="192.0.2.7",
        via_port=4789,
    )
    await image_host.driver.set_nat_routes(vpc_id, (route,))
    await image_host.driver.set_nat_routes(vpc_id, (route,))  # what it holds
    if isinstance(image_host.driver, MemoryDriver):
        assert image_host.driver.nat_routes == {vpc_id: (route,)}
    else:
        assert not (image_host.state_dir / "networks" / "networks.json").exists()
    await image_host.driver.set_nat_routes(vpc_id, ())
    if isinstance(image_host.driver, MemoryDriver):
        assert image_host.driver.nat_routes == {}


async def test_peering_links_for_vpcs_not_here_are_accepted(image_host: Host) -> None:
    """Every driver — behind the agent's wire too — takes the VPC peering connections it is
    told (decision 0139) for VPCs it holds nothing of, twice alike, and a push of none takes
    them back; the memory twin keeps them for the service tests, user-mode QEMU hosts (no
    router to join) keep nothing. The joining itself: tests/contract/test_vpc_peering_host.py."""
    link = PeeringLink(
        "pcx-" + secrets.token_hex(8) + "0",
        "vpc-" + secrets.token_hex(4),
        "10.31.0.0/16",
        "vpc-" + secrets.token_hex(4),
        "10.32.0.0/16",
    )
    # Across hosts (the 0139 addendum): the other hosts of each side and the segment's id.
    across = replace(
        link,
        peering_id="pcx-" + secrets.token_hex(8) + "1",
        vni=4242,
        accepter_peers=(NetworkPeer("192.0.2.9", 4789, ("10.32.1.5",)),),
    )
    await image_host.driver.set_peering_links((link, across))
    await image_host.driver.set_peering_links((link, across))  # what it holds
    if isinstance(image_host.driver, MemoryDriver):
        assert image_host.driver.peering_links == (link, across)
    else:
        assert not (image_host.state_dir / "networks" / "networks.json").exists()
    await image_host.driver.set_peering_links(())
    if isinstance(image_host.driver, MemoryDriver):
        assert image_host.driver.peering_links == ()


async def test_load_balancers_and_probes_of_a_vpc_not_here(image_host: Host) -> None:
    """Session 51: every driver — behind the agent's wire too — takes the region's listeners
    (a TCP_UDP one behind a security group) for a VPC it has no router of, twice alike,
    applies none and reports no router nor count; a probe of that VPC is not run, so not
    answered. These QEMU hosts have user-mode networking (no router at all); the memory
    twin keeps the listeners. A bridged host's routers: test_load_balancer_router.py. A TLS
    listener (decision 0210) goes with its certificate and key, its policies and bounds, or
    with its keys withheld: the memory twin keeps it whole, a QEMU host behind its agent
    takes it over the wire; a bridged host's terminators:
    test_tls_listener_router.py."""
    vpc_id = "vpc-" + secrets.token_hex(4)
    listener = BalancedListener(
        "listener-" + secrets.token_hex(4),
        vpc_id,
        ("10.33.1.200",),
        53,
        (("10.33.1.11", 53),),
        (("udp", 53, 53, "10.33.0.0/16"),),
        ("tcp", "udp"),
    )
    issued = TestCa().issue("www.example.test")
    served = ServedCertificate(
        "arn:aws:iam::111111111111:server-certificate/www", issued.body, "", issued.key.encode()
    )
    secure = BalancedListener(
        "listener-" + secrets.token_hex(4), vpc_id, ("10.33.1.200",), 443,
        (("10.33.1.11", 8443),),
        tls=BalancedTls((served,), "ELBSecurityPolicy-TLS13-1-2-2021-06", "HTTP2Optional",
                        target_tls=True, max_connections=100, buffer_bytes=4096),
    )  # fmt: skip
    # Session 51 later: a host not holding the router is told a TLS listener without keys.
    assert secure.tls is not None
    keyless = replace(secure, listener_id="listener-" + secrets.token_hex(4), port=8443,
                      tls=secure.tls.without_keys())  # fmt: skip
    for _ in range(2):
        assert (
            await image_host.driver.set_load_balancers((listener, secure, keyless))
            == BalancerReport()
        )
    if isinstance(image_host.driver, MemoryDriver):
        assert image_host.driver.balanced == (listener, secure, keyless)
    probe = TargetProbe("111111111111", "tg-1", vpc_id, "10.33.1.11", 53, "10.33.1.11", 53, 2, 5)
    assert await image_host.driver.probe_targets((probe,)) == ()
    assert await image_host.driver.set_load_balancers(()) == BalancerReport()


async def test_a_bridged_host_keeps_a_network_acl_and_enforces_it_when_the_subnet_comes(
    guest_image: GuestImage,
) -> None:
    """Bridge mode, in process (the filtering itself: tests/contract/test_network_acls.py): an
    ACL told before the subnet is on the host is kept, across a restart of the agent, and in
    the subnet's router once an instance of it starts there. The guest need not boot."""
    config, state_dir = _bridged_config("n")
    driver = QemuDriver(state_dir, host="test-host", config=config)
    network = NetworkSpec("subnet-" + secrets.token_hex(4), "tenant-1", "10.11.1.0/24")
    try:
        await driver.set_network_acl(network.network_id, DENY_SSH)
        await driver.close()
        driver = QemuDriver(state_dir, host="test-host", config=config)
        root = await make_root(Host(driver, guest_image.disk, "raw", state_dir))
        instance_id = new_id("i")
        nic = NicSpec(network, "52:54:00:0a:0b:10", "10.11.1.8")
        await driver.start(instance_spec(instance_id, root, b"", nic=nic))
        ruleset = subprocess.run(
            ["ip", "netns", "exec", driver._networks.netns(network.network_id), "nft", "list",
             "chain", "inet", "andromede_filter", "acl_ingress_0"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "tcp dport 22 drop" in ruleset
    finally:
        for instance_id in await driver.running():
            await driver.kill(instance_id)
            await driver.release(instance_id)
        for network_id in list(driver._networks._state.networks):
            await driver._networks.remove(network_id)
        await driver.close()
        shutil.rmtree(state_dir, ignore_errors=True)


async def test_volumes_hot_plug_and_unplug(qemu_host: Host) -> None:
    driver = qemu_host.driver
    root = await make_root(qemu_host)
    data_id, data_key = new_id("vol"), secrets.token_bytes(32)
    await driver.create_volume(VolumeSpec(data_id, 1, data_key))
    instance_id = new_id("i")
    await driver.start(instance_spec(instance_id, root, b"#!/bin/sh\ntrue\n"))
    await wait_console(driver, instance_id, booted(instance_id))

    data = AttachedVolume(data_id, "/dev/sdf", data_key)
    await driver.attach_volume(instance_id, data)
    await driver.attach_volume(instance_id, data)  # already there: nothing to do
    serial = data_id.replace("-", "")
    console = await wait_console(
        driver, instance_id, lambda console: f"serial={serial}" in console, timeout=30
    )
    added = next(line for line in console.splitlines() if f"serial={serial}" in line)
    assert added.startswith("andromede-disk-added vd")
    disk = added.split()[1]
    with pytest.raises(HypervisorError):  # attached to a running guest
        await driver.delete_volume(data_id)

    await driver.detach_volume(instance_id, data_id)
    await wait_console(
        driver, instance_id, lambda console: f"andromede-disk-removed {disk}" in console
    )
    await driver.detach_volume(instance_id, data_id)  # already gone: nothing to do
    await driver.delete_volume(data_id)
    await driver.delete_volume(data_id)
    await driver.kill(instance_id)


async def test_snapshots_copy_a_running_volume_into_a_new_bootable_volume(
    volume_host: Host,
) -> None:
    driver, token = volume_host.driver, secrets.token_hex(8)
    root = await make_root(volume_host)
    first = new_id("i")
    await driver.start(instance_spec(first, root, canary_user_data(token)))
    await wait_console(driver, first, booted(first))

    snapshot_id, snapshot_key = new_id("snap"), secrets.token_bytes(32)
    await driver.snapshot_volume(root.volume_id, root.key, snapshot_id, snapshot_key)
    await driver.kill(first)
    await driver.delete_volume(root.volume_id)  # a snapshot needs nothing of its volume
    stored = volume_host.stored("snapshots", snapshot_id)
    assert stored is not None and token.encode() not in stored
    assert int.from_bytes(stored[32:36], "big") == 2  # LUKS
    # The new volume may be bigger than the snapshot, as EC2 allows.
    copy_id, copy_key = new_id("vol"), secrets.token_bytes(32)
    await driver.create_volume(
        VolumeSpec(copy_id, 2, copy_key, backing=SnapshotBacking(snapshot_id, snapshot_key))
    )
    # A stopped volume snapshots too (offline copy).
    offline_id = new_id("snap")
    await driver.snapshot_volume(copy_id, copy_key, offline_id, secrets.token_bytes(32))
    assert volume_host.stored("snapshots", offline_id) is not None

    second = new_id("i")
    copy = AttachedVolume(copy_id, "/dev/xvda", copy_key)
    await driver.start(instance_spec(second, copy, canary_user_data(token)))
    console = await wait_console(driver, second, booted(second))
    assert f"persisted: {CANARY_PREFIX}{token}" in console
    assert f"vda serial={copy_id.replace('-', '')} sectors={2 * 1024**3 // 512}" in console
    await driver.kill(second)

    for snapshot_name in (snapshot_id, offline_id):
        await driver.delete_snapshot(snapshot_name)
        await driver.delete_snapshot(snapshot_name)
        assert volume_host.stored("snapshots", snapshot_name) is None
    await driver.delete_volume(copy_id)
    await driver.release(first)
    await driver.release(second)
    volume_host.assert_no_volume_left()


async def test_an_rbd_disk_outlives_its_host(
    guest_image: GuestImage, rbd_namespace: RbdNamespace
) -> None:
    """A guest writes to its root disk; its host dies (QEMU killed, the host's state directory
    lost); another host starts the instance from the same RBD volume and reads the data back."""
    token = secrets.token_hex(8)
    first_dir = _short_state_dir()
    first = rbd_driver(first_dir, rbd_namespace)
    second_dir = _short_state_dir()
    second = rbd_driver(second_dir, rbd_namespace)
    try:
        first_host = Host(first, guest_image.disk, "raw", first_dir, rbd=rbd_namespace)
        root = await make_root(first_host)
        instance_id = new_id("i")
        await first.start(instance_spec(instance_id, root, canary_user_data(token)))
        console = await wait_console(first, instance_id, booted(instance_id))
        assert "wrote canary" in console

        # The host dies: no power-down, no QMP quit, nothing of its disk left behind.
        (pid,) = processes_mentioning(str(first_dir))
        os.kill(pid, 9)
        await first.close()
        shutil.rmtree(first_dir)
        assert not first_dir.exists()

        assert await second.running() == {}
        await second.start(instance_spec(instance_id, root, canary_user_data(token)))
        console = await wait_console(second, instance_id, booted(instance_id))
        assert f"persisted: {CANARY_PREFIX}{token}" in console
        assert "wrote canary" not in console  # a new console: this host never saw the first boot

        await second.kill(instance_id)
        await second.release(instance_id)
        await second.delete_volume(root.volume_id)
        assert rbd_namespace.images() == []
        assert rbd_namespace.data_objects() == []
    finally:
        for driver, state_dir in ((first, first_dir), (second, second_dir)):
            for pid in processes_mentioning(str(state_dir)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            await driver.close()
            shutil.rmtree(state_dir, ignore_errors=True)


SIZE_REPORTER = b"""#!/bin/sh
# Each disk's size in 512-byte sectors, said again whenever it changes (the guest's own view).
(while :; do
  for d in /sys/block/vd*; do
    now="$(cat "$d/serial" 2>/dev/null) $(cat "$d/size")"
    case " $seen " in *" $now "*) ;; *) echo "andromede-size $now"; seen="$seen $now" ;; esac
  done
  sleep 1
done) &
"""


async def test_a_volume_grows_under_its_running_guest(volume_host: Host) -> None:
    """QMP block_resize: QEMU's node and the guest's disk both see the new size, no reboot."""
    driver = volume_host.driver
    root = await make_root(volume_host)
    data_id, data_key = new_id("vol"), secrets.token_bytes(32)
    await driver.create_volume(VolumeSpec(data_id, 1, data_key))
    instance_id = new_id("i")
    await driver.start(
        replace(
            instance_spec(instance_id, root, SIZE_REPORTER),
            volumes=(AttachedVolume(data_id, "/dev/sdf", data_key),),
        )
    )
    await wait_console(driver, instance_id, booted(instance_id))

    await driver.grow_volume(data_id, data_key, 2)
    await driver.grow_volume(root.volume_id, root.key, 3)
    await driver.grow_volume(data_id, data_key, 1)  # never shrinks under a guest either
    for volume_id, gib in ((data_id, 2), (root.volume_id, 3)):
        sectors = gib * GIB // 512
        line = f"andromede-size {volume_id.replace('-', '')} {sectors}"
        await wait_console(driver, instance_id, lambda console, line=line: line in console, 30)
    monitor = Monitor(QemuProcess(volume_host.state_dir / "instances" / instance_id).socket, 10)
    async with monitor as qmp:
        devices = await qmp.execute("query-block")
    sizes = {
        d["inserted"]["node-name"]: d["inserted"]["image"]["virtual-size"]
        for d in devices
        if "inserted" in d
    }
    # The driver names each volume's node after its id.
    assert sizes[data_id] == 2 * GIB and sizes[root.volume_id] == 3 * GIB

    await driver.kill(instance_id)
    # Written in the volume itself: the next boot, or another host, opens it at its new size.
    assert await virtual_size(volume_host, data_id, data_key) == 2 * GIB
    assert await virtual_size(volume_host, root.volume_id, root.key) == 3 * GIB
    await driver.release(instance_id)
    for volume_id in (data_id, root.volume_id):
        await driver.delete_volume(volume_id)
    volume_host.assert_no_volume_left()


async def test_a_vpcs_dns_for_a_vpc_not_here_is_accepted(image_host: Host) -> None:
    """Every driver — behind the agent's wire too — takes what a VPC's router serves of DNS
    and DHCP options (decision 0143) for a VPC it holds nothing of, twice alike; the memory
    twin keeps it for the service tests, user-mode QEMU hosts (no router) keep nothing. The
    resolver itself: tests/contract/test_vpc_dns.py."""
    vpc_id = "vpc-" + secrets.token_hex(4)
    dns = VpcDns(
        hostnames=True, domain="eu-fr-1.compute.internal", domain_name="corp.example",
        name_servers=("192.0.2.53", "AmazonProvidedDNS"), ntp_servers=("192.0.2.123",),
        netbios_node_type=2,
    )  # fmt: skip
    await image_host.driver.set_vpc_dns(vpc_id, dns)
    await image_host.driver.set_vpc_dns(vpc_id, dns)  # what it holds
    if isinstance(image_host.driver, MemoryDriver):
        assert image_host.driver.vpc_dns == {vpc_id: dns}
    else:
        assert not (image_host.state_dir / "networks" / "networks.json").exists()


# -- interfaces beyond the primary (decision 0161) ------------------------------------------


def _further_interface(network: NetworkSpec, mac: str, address: str) -> InterfaceSpec:
    """An interface of the instance's subnet at device index 1, reached on port 8080 only."""
    allowed = InstanceFirewall(ingress=(FirewallRule("tcp", 8080, 8080, "0.0.0.0/0"),))
    nic = NicSpec(network, mac, address, public_address=False)
    return InterfaceSpec("eni-" + secrets.token_hex(9)[:17], 1, nic, allowed)


async def test_an_interface_for_an_instance_not_running_here_is_refused(
    image_host: Host,
) -> None:
    """Every driver, the memory twin too: no interface is plugged into a guest it does not
    run; taking one it does not hold away is a no-op (a retry)."""
    network = NetworkSpec("subnet-1", "tenant-1", "10.11.1.0/24", vpc_id="vpc-1")
    interface = _further_interface(network, "52:54:00:0a:0c:01", "10.11.1.9")
    instance_id = new_id("i")
    with pytest.raises(image_host.error):
        await image_host.driver.attach_interface(instance_id, interface)
    await image_host.driver.detach_interface(instance_id, interface.interface_id)


async def test_a_user_mode_guest_gets_no_further_interface(host: Host) -> None:
    """User mode (these hosts' networking) has no tenant network to plug a second NIC into:
    attaching one to a running guest, or starting with one, is refused rather than reported
    done and reaching nothing. The guest need not boot."""
    root = await make_root(host)
    instance_id = new_id("i")
    network = NetworkSpec("subnet-1", "tenant-1", "10.11.1.0/24", vpc_id="vpc-1")
    nic = NicSpec(network, "52:54:00:0a:0c:02", "10.11.1.10")
    interface = _further_interface(network, "52:54:00:0a:0c:03", "10.11.1.11")
    spec = instance_spec(instance_id, root, b"", nic=nic)
    with pytest.raises(host.error, match="user-mode"):
        await host.driver.start(replace(spec, interfaces=(interface,)))
    await host.driver.start(spec)
    try:
        with pytest.raises(host.error, match="user-mode"):
            await host.driver.attach_interface(instance_id, interface)
    finally:
        await host.driver.kill(instance_id)
        await host.driver.release(instance_id)


NETS_MARKER = "andromede-nets:"
# Prints the guest's interfaces and their MACs whenever they change, for two minutes.
WATCH_NETS = f"""#!/bin/sh
last=""
i=0
while [ $i -lt 240 ]; do
  now=""
  for dev in /sys/class/net/eth*; do
    [ -e "$dev" ] && now="$now ${{dev##*/}}=$(cat "$dev/address")"
  done
  if [ "$now" != "$last" ]; then echo "{NETS_MARKER}$now"; last="$now"; fi
  sleep 1
  i=$((i+1))
done
""".encode()


async def test_a_bridged_guest_gets_an_interface_hot_plugged_and_unplugged(
    guest_image: GuestImage,
) -> None:
    """The one real-QEMU scenario of decision 0161: a running guest on a tenant network sees
    a second virtio NIC with the interface's MAC appear when it is attached — its own tap on
    the subnet's bridge, recorded for a driver that restarts — and go when it is detached;
    the host keeps nothing of it after."""
    config, state_dir = _bridged_config("n")
    driver = QemuDriver(state_dir, host="test-host", config=config)
    host = Host(driver, guest_image.disk, "raw", state_dir)
    try:
        root = await make_root(host)
        instance_id = new_id("i")
        network = NetworkSpec("subnet-" + secrets.token_hex(4), "tenant-1", "10.11.2.0/24")
        nic = NicSpec(network, "52:54:00:0a:0c:04", "10.11.2.4", public_address=False)
        mac = "52:54:00:0a:0c:05"
        interface = _further_interface(network, mac, "10.11.2.5")
        await driver.start(instance_spec(instance_id, root, WATCH_NETS, nic=nic))
        await wait_console(driver, instance_id, lambda c: NETS_MARKER in c)
        await driver.attach_interface(instance_id, interface)
        await driver.attach_interface(instance_id, interface)  # again: its rules, not a NIC
        console = await wait_console(driver, instance_id, lambda c: f"eth1={mac}" in c)
        assert f"eth0={nic.mac} eth1={mac}" in console
        plugged = driver._networks.plugged(interface.interface_id)
        assert plugged is not None and plugged.private_ip == "10.11.2.5"
        # A driver restarted on the same directory knows the guest holds it.
        again = QemuDriver(state_dir, host="test-host", config=config)
        await again.detach_interface(instance_id, interface.interface_id)
        await wait_console(
            driver, instance_id, lambda c: c.rstrip().splitlines()[-1].count("=") == 1
        )
        assert again._networks.plugged(interface.interface_id) is None
        await again.close()
    finally:
        for running in await driver.running():
            await driver.kill(running)
            await driver.release(running)
        for network_id in list(driver._networks._state.networks):
            await driver._networks.remove(network_id)
        await driver.close()
        shutil.rmtree(state_dir, ignore_errors=True)
