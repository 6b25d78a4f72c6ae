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
# Loaded at 0x7c00 by the BIOS. It goes into 32-bit protected mode without paging and returns
# from an interrupt frame (``iret``) before writing the byte: what a real boot loader does
# (syslinux's first ``iret``), and what a nested KVM lacking "unrestricted guest" can only
# emulate — its emulator takes ``iret`` in real mode only, and stops the guest with "KVM
# internal error ... emulation failure" (decision 0117's addendum).
_BOOT_CODE = bytes.fromhex(
    "fa"  # 7c00 cli
    "31c0 8ed8 8ed0 bc007c"  # xor ax,ax; mov ds,ax; mov ss,ax; mov sp,0x7c00
    "660f0116607c"  # lgdt [0x7c60]
    "0f20c0 0c01 0f22c0"  # mov eax,cr0; or al,1; mov cr0,eax: protected mode
    "66ea207c00000800"  # jmp dword 0x08:0x7c20, into the 32-bit code segment
    "66b81000 8ed8 8ec0 8ed0 bc007c0000"  # 7c20 ds = es = ss = 0x10; mov esp,0x7c00
    "9c 6a08 68387c0000 cf"  # pushfd; push 0x08; push 0x7c38; iretd
    "66baf803 b04b ee f4 ebfe"  # 7c38 mov dx,0x3f8; mov al,'K'; out dx,al; hlt; jmp $
)
_GDT = bytes.fromhex(
    "0000000000000000"  # 7c48 the null descriptor
    "ffff0000009acf00"  # 0x08: code, base 0, limit 4 GiB, 32-bit
    "ffff00000092cf00"  # 0x10: data, the same span
    "1700487c0000"  # 7c60 its descriptor: limit 23, base 0x7c48
)
BOOT_SECTOR = _BOOT_CODE.ljust(0x48, b"\0") + _GDT + bytes(510 - 0x48 - len(_GDT)) + b"\x55\xaa"


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
        try:
            output, said = await _first_word(process, timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            _, stderr = await process.communicate()
    finally:
        os.close(disk)
    if output == PROBE_BYTE:
        return AcceleratorProbe(Accelerator.KVM, "a probe guest ran under -accel kvm -cpu host")
    detail = (said + stderr).decode(errors="replace").strip().splitlines()
    why = detail[0] if detail else f"no output within {timeout:g} s"
    return AcceleratorProbe(Accelerator.TCG, f"KVM cannot run a guest here ({why})")


async def _first_word(process: asyncio.subprocess.Process, timeout: float) -> tuple[bytes, bytes]:
    """The guest's first byte (empty if none came), and what QEMU said on its standard error
    meanwhile. KVM's internal errors pause the guest rather than end QEMU: waiting for the
    byte alone would take the whole timeout on such a host."""
    if process.stdout is None or process.stderr is None:  # both piped by the caller
        return b"", b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    said = b""
    byte = asyncio.ensure_future(process.stdout.read(1))
    complaint = asyncio.ensure_future(process.stderr.readline())
    try:
        while True:
            done, _ = await asyncio.wait(
                {byte, complaint}, timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )  # fmt: skip
            if byte in done and byte.result():
                return byte.result(), said
            if byte in done:
                # Its output closed without a byte: QEMU ended; the rest of what it said is
                # read after, but not the line already being read here.
                with contextlib.suppress(TimeoutError):
                    said += await asyncio.wait_for(complaint, max(0.0, deadline - loop.time()))
                return b"", said
            if not done:
                return b"", said
            line = complaint.result()
            said += line
            if b"KVM internal error" in line:
                return b"", said
            if not line:
                # Its standard error closed: QEMU ended, and its output ends with it.
                left = max(0.0, deadline - loop.time())
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(byte, left), said
                return b"", said
            complaint = asyncio.ensure_future(process.stderr.readline())
    finally:
        for task in (byte, complaint):
            task.cancel()
