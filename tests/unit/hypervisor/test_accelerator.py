"""The KVM probe decides from what a guest does, with fake QEMU binaries standing in; and its
command line boots the probe sector in the real QEMU (under TCG, which every machine has)."""

from __future__ import annotations

import logging
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from andromede.compute.driver import Accelerator
from andromede.hypervisor import accelerator
from andromede.hypervisor.accelerator import BOOT_SECTOR, probe_accelerator, probe_command


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    accelerator._cache.clear()


def fake_qemu(tmp_path: Path, body: str) -> str:
    script = tmp_path / "qemu-system-x86_64"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def readable_device(tmp_path: Path) -> str:
    device = tmp_path / "kvm"
    device.write_bytes(b"")
    return str(device)


def test_the_boot_sector_is_a_boot_sector() -> None:
    assert len(BOOT_SECTOR) == 512 and BOOT_SECTOR.endswith(b"\x55\xaa")


async def test_kvm_when_the_probe_guest_writes_its_byte(tmp_path: Path) -> None:
    binary = fake_qemu(tmp_path, "printf K; sleep 5")
    probe = await probe_accelerator(binary, timeout=5, kvm_device=readable_device(tmp_path))
    assert probe.accelerator is Accelerator.KVM


async def test_tcg_when_qemu_aborts_and_the_reason_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    binary = fake_qemu(tmp_path, "echo 'error: failed to set MSR 0x10a to 0x69' >&2; exit 134")
    with caplog.at_level(logging.WARNING, logger="andromede.hypervisor.accelerator"):
        probe = await probe_accelerator(binary, timeout=5, kvm_device=readable_device(tmp_path))
    assert probe.accelerator is Accelerator.TCG
    assert "MSR 0x10a" in probe.reason
    assert "TCG" in caplog.text and "MSR 0x10a" in caplog.text


async def test_tcg_at_once_when_kvm_pauses_the_guest_on_an_internal_error(tmp_path: Path) -> None:
    # A nested KVM without "unrestricted guest" cannot emulate the sector's protected-mode
    # iret: QEMU says so and pauses, it does not end (decision 0117's addendum).
    binary = fake_qemu(
        tmp_path, "echo 'KVM internal error. Suberror: 1' >&2; echo 'extra data' >&2; sleep 30"
    )
    started = time.monotonic()
    probe = await probe_accelerator(binary, timeout=20, kvm_device=readable_device(tmp_path))
    assert probe.accelerator is Accelerator.TCG
    assert "KVM internal error" in probe.reason
    assert time.monotonic() - started < 10


async def test_tcg_when_the_guest_hangs(tmp_path: Path) -> None:
    binary = fake_qemu(tmp_path, "sleep 30")
    probe = await probe_accelerator(binary, timeout=0.3, kvm_device=readable_device(tmp_path))
    assert probe.accelerator is Accelerator.TCG
    assert "no output" in probe.reason


async def test_tcg_without_a_kvm_device_and_qemu_is_not_even_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    binary = fake_qemu(tmp_path, f"touch {marker}; printf K")
    probe = await probe_accelerator(binary, kvm_device=str(tmp_path / "no-kvm"))
    assert probe.accelerator is Accelerator.TCG
    assert not marker.exists()


async def test_the_result_is_cached_per_binary(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    binary = fake_qemu(tmp_path, f"echo run >> {counter}; printf K")
    device = readable_device(tmp_path)
    first = await probe_accelerator(binary, kvm_device=device)
    second = await probe_accelerator(binary, kvm_device=device)
    assert first is second
    assert counter.read_text().count("run") == 1


async def test_the_probe_disk_reaches_qemu_as_an_inherited_descriptor(tmp_path: Path) -> None:
    # The fake reads the -drive file it is given and answers K only if it is the boot sector.
    copy = tmp_path / "disk"
    binary = fake_qemu(
        tmp_path,
        'for a in "$@"; do case "$a" in file=*) f=${a#file=}; cp "${f%%,*}" '
        f"{copy};; esac; done; printf K",
    )
    probe = await probe_accelerator(binary, kvm_device=readable_device(tmp_path))
    assert probe.accelerator is Accelerator.KVM
    assert copy.read_bytes() == BOOT_SECTOR
    assert os.path.exists(copy)


@pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="QEMU is not installed (make test does)"
)
def test_the_probe_command_boots_the_sector_in_the_real_qemu() -> None:
    # The probe's own command line, under TCG instead of KVM: the byte must come out. A drive
    # QEMU refuses (a read-only IDE disk once did) fails every probe, whatever the host.
    binary = shutil.which("qemu-system-x86_64")
    assert binary is not None
    disk = os.memfd_create("probe-test")
    try:
        os.write(disk, BOOT_SECTOR)
        process = subprocess.Popen(
            probe_command(binary, disk, "tcg"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(disk,),
        )
        try:
            assert process.stdout is not None
            # Bounded: a guest that never writes fails here, not at the suite's timeout.
            ready, _, _ = select.select([process.stdout], [], [], 60)
            first = process.stdout.read(1) if ready else b""
        finally:
            process.kill()
            _, stderr = process.communicate(timeout=30)
    finally:
        os.close(disk)
    assert first == b"K", stderr.decode(errors="replace")
