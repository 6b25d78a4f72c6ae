"""A start writes the seed while QEMU starts: whichever fails, the other is waited for, and no
QEMU process or qemu-img is left behind (fake qemu-img binaries stand in for the seed writer)."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from andromede.compute.driver import (
    AttachedVolume,
    InstanceSpec,
    RuntimeState,
    SeedSpec,
    VolumeSpec,
)
from andromede.hypervisor import HypervisorError, QemuDriver, QemuDriverConfig

# qemu-img for the seed: "convert" (the write into the LUKS container) sleeps, leaves a trace
# that it ran to its end, then fails or succeeds as its mode file says.
FAKE_QEMU_IMG = r"""#!/bin/sh
if [ "$1" = convert ]; then
    sleep 1
    touch "$0.finished"
    if grep -q FAIL "$0.mode"; then echo "qemu-img: seed write failed" >&2; exit 1; fi
fi
exit 0
"""
FAILING_QEMU = "#!/bin/sh\necho 'qemu-system-x86_64: machine type not supported' >&2\nexit 1\n"


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # QMP socket paths must stay under 108 bytes: pytest's tmp_path can be too deep.
    directory = Path(tempfile.mkdtemp(prefix="andr-start-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def cryptsetup() -> str:
    found = shutil.which("cryptsetup") or shutil.which("cryptsetup", path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip("cryptsetup is not installed (scripts/install-system-deps.sh)")
    return found


def fake(path: Path, script: str, mode: str = "ok") -> Path:
    path.write_text(script)
    path.chmod(0o755)
    Path(f"{path}.mode").write_text(mode)
    return path


def spec(volume_id: str, key: bytes) -> InstanceSpec:
    return InstanceSpec(
        instance_id="i-0123456789abcdef0", vcpus=1, memory_mib=128,
        root=AttachedVolume(volume_id, "/dev/xvda", key),
        seed=SeedSpec("instance-id: i-0123456789abcdef0\n", b"", "version: 2\n"),
    )  # fmt: skip


async def test_a_failed_seed_kills_the_qemu_started_beside_it(
    state_dir: Path, cryptsetup: str
) -> None:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("QEMU is not installed (scripts/install-system-deps.sh)")
    qemu_img = fake(state_dir / "qemu-img", FAKE_QEMU_IMG, mode="FAIL")
    config = QemuDriverConfig(qemu_img_binary=str(qemu_img), cryptsetup_binary=cryptsetup)
    driver = QemuDriver(state_dir / "host", config=config)
    key = secrets.token_bytes(32)
    # The volume needs no qemu-img: its LUKS header is cryptsetup's.
    await driver.create_volume(VolumeSpec("vol-0123456789abcdef0", 1, key))

    with pytest.raises(HypervisorError, match="seed write failed"):
        await driver.start(spec("vol-0123456789abcdef0", key))
    assert await driver.state("i-0123456789abcdef0") is RuntimeState.SHUT_OFF
    assert Path(f"{qemu_img}.finished").exists()


async def test_a_qemu_that_cannot_start_waits_for_the_seed_writer(
    state_dir: Path, cryptsetup: str
) -> None:
    qemu_img = fake(state_dir / "qemu-img", FAKE_QEMU_IMG)
    qemu = fake(state_dir / "qemu-system-x86_64", FAILING_QEMU)
    config = QemuDriverConfig(
        qemu_binary=str(qemu), qemu_img_binary=str(qemu_img), cryptsetup_binary=cryptsetup,
        probe_timeout=1,
    )  # fmt: skip
    driver = QemuDriver(state_dir / "host", config=config)
    key = secrets.token_bytes(32)
    await driver.create_volume(VolumeSpec("vol-0123456789abcdef0", 1, key))

    with pytest.raises(HypervisorError, match="machine type not supported"):
        await driver.start(spec("vol-0123456789abcdef0", key))
    # The seed's qemu-img ran to its end before start() gave up: nothing left running.
    assert Path(f"{qemu_img}.finished").exists()
    assert await driver.state("i-0123456789abcdef0") is RuntimeState.SHUT_OFF
