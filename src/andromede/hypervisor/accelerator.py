"""Which accelerator really runs a guest here: KVM, or TCG (software emulation) as the fallback.

``/dev/kvm`` existing is not enough: on nested hosts it opens, then QEMU aborts on the first MSR
write, or the guest hits KVM internal errors. So the probe boots a guest: a 512-byte boot sector
that writes one byte to the serial port, under ``-accel kvm -cpu host``. If the byte comes out
within the timeout KVM works; anything else (abort, hang, no device) means TCG, and the reason is
logged once, as a warning: guests then run several times slower, which the operator must know.
The result is cached per QEMU binary for the life of the process.

The probe is a floor, not a proof: on this project's nested AMD machines ``-cpu host`` aborts on
the IA32_ARCH_CAPABILITIES MSR (0x10a), and without that feature (``host,-arch-capabilities``)
the sector does run, but a real guest's boot loader then stops on "KVM internal error ...
emulation failure" at its first ``iret``. So no weaker CPU model is tried: such a host stays on
TCG (decision 0117).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass

from andromede.compute.driver import Accelerator

__all__ = ["AcceleratorProbe", "probe_accelerator", "probe_command"]

logger = logging.getLogger(__name__)

PROBE_BYTE = b"K"
# mov dx, 0x3f8; mov al, 'K'; out dx, al; cli; hlt; jmp $ — then the boot signature.
_BOOT_CODE = bytes([0xBA, 0xF8, 0x03, 0xB0, PROBE_BYTE[0], 0xEE, 0xFA, 0xF4, 0xEB, 0xFE])
BOOT_SECTOR = _BOOT_CODE + bytes(510 - len(_BOOT_CODE)) + b"\x55\xaa"


@dataclass(frozen=True, slots=True)
class AcceleratorProbe:
    accelerator: Accelerator
    reason: str  # why this one, for the log and the operator


# Two callers racing on the first probe both probe; the first result stays. No lock: an
# asyncio lock at module level would be bound to the first event loop that waits on it.
_cache: dict[str, AcceleratorProbe] = {}


async def probe_accelerator(
    qemu_binary: str, *, timeout: float = 5.0, kvm_device: str = "/dev/kvm"
) -> AcceleratorProbe:
    """KVM when a guest really runs under it, else TCG; probed once per binary and process."""
    cached = _cache.get(qemu_binary)
    if cached is not None:
        return cached
    probe = await _probe(qemu_binary, timeout, kvm_device)
    cached = _cache.setdefault(qemu_binary, probe)
    if cached is probe:
        if probe.accelerator is Accelerator.KVM:
            logger.info("accelerator: KVM (%s)", probe.reason)
        else:
            logger.warning(
                "accelerator: TCG, software emulation, guests run slower: %s", probe.reason
            )
    return cached


def probe_command(qemu_binary: str, disk: int, accel: str) -> list[str]:
    """QEMU's command line booting the probe sector from the inherited descriptor ``disk``
    under ``accel`` (``kvm``; the tests run it under ``tcg``, which every machine has)."""
    cpu = "host" if accel == "kvm" else "max"
    return [
        qemu_binary, "-accel", accel, "-cpu", cpu, "-machine", "pc", "-m", "16",
        "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
        # Writable: QEMU refuses a read-only IDE disk ("Block node is read-only"), which made
        # every probe fail, KVM or not; what the guest might write lands in the memory file.
        "-drive", f"file=/dev/fd/{disk},format=raw,if=ide",
    ]  # fmt: skip


async def _probe(qemu_binary: str, timeout: float, kvm_device: str) -> AcceleratorProbe:
    if not os.access(kvm_device, os.R_OK | os.W_OK):
        return AcceleratorProbe(Accelerator.TCG, f"{kvm_device} is missing or not accessible")
    # The boot sector lives in an anonymous memory file: nothing to clean up.
    disk = os.memfd_create("andromede-kvm-probe")
    try:
        os.write(disk, BOOT_SECTOR)
        argv = probe_command(qemu_binary, disk, "kvm")
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(disk,),
                start_new_session=True,  # its own group: killed whole, helpers included
            )
        except OSError as exc:
            return AcceleratorProbe(Accelerator.TCG, f"cannot run {qemu_binary}: {exc}")
        stdout = process.stdout
        try:
            output = await asyncio.wait_for(stdout.read(1), timeout) if stdout else b""
        except TimeoutError:
            output = b""
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            _, stderr = await process.communicate()
    finally:
        os.close(disk)
    if output == PROBE_BYTE:
        return AcceleratorProbe(Accelerator.KVM, "a probe guest ran under -accel kvm -cpu host")
    detail = stderr.decode(errors="replace").strip().splitlines()
    why = detail[0] if detail else f"no output within {timeout:g} s"
    return AcceleratorProbe(Accelerator.TCG, f"KVM cannot run a guest here ({why})")
