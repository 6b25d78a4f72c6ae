"""The seccomp filter a Lambda sandbox's processes run under (decision 0286), as the classic
BPF program ``bwrap --seccomp`` loads (an array of ``struct sock_filter``), written here
without libseccomp: the handful of rules is small enough to read.

It is a deny list on x86-64, the calls Docker's and systemd's default profiles also refuse
to unprivileged code: kernel modules, kexec, mounts, swap, reboot, the keyring, BPF,
perf events, userfaultfd, ptrace and the other processes' memory, file handles, new
namespaces (``unshare``, ``setns``, and ``clone`` with a namespace flag; ``clone3``, whose
flags a filter cannot read, answers ENOSYS so that the C library falls back to ``clone``),
raw port I/O, the kernel's log, accounting and quotas. Refused calls fail with EPERM; a
call of another architecture's ABI (x32, i386) kills the process."""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["DENIED_SYSCALLS", "sandbox_filter"]

# linux/filter.h and linux/seccomp.h
_LD_W_ABS: Final = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K: Final = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K: Final = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K: Final = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K: Final = 0x06  # BPF_RET | BPF_K
_ALLOW: Final = 0x7FFF0000
_KILL_PROCESS: Final = 0x80000000
_ERRNO: Final = 0x00050000
_EPERM: Final = 1
_ENOSYS: Final = 38
_AUDIT_ARCH_X86_64: Final = 0xC000003E
_X32_BIT: Final = 0x40000000
# struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (its low 32 bits on little-endian)
_NR: Final = 0
_ARCH: Final = 4
_ARG0_LOW: Final = 16
_CLONE: Final = 56
_CLONE3: Final = 435
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_NAMESPACE_FLAGS: Final = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000
_NAMESPACE_FLAGS_ALL: Final = _NAMESPACE_FLAGS | 0x10000000 | 0x20000000 | 0x40000000

DENIED_SYSCALLS: Final[dict[str, int]] = {
    "ptrace": 101,
    "syslog": 103,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "pivot_root": 155,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "fsopen": 430,
    "fsmount": 432,
    "move_mount": 429,
    "open_tree": 428,
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def sandbox_filter() -> bytes:
    """The program, ready for ``bwrap --seccomp <fd>``."""
    program = [
        _op(_LD_W_ABS, _ARCH),
        _op(_JEQ_K, _AUDIT_ARCH_X86_64, jt=1),
        _op(_RET_K, _KILL_PROCESS),
        _op(_LD_W_ABS, _NR),
        _op(_JGE_K, _X32_BIT, jf=1),
        _op(_RET_K, _KILL_PROCESS),
        _op(_JEQ_K, _CLONE3, jf=1),
        _op(_RET_K, _ERRNO | _ENOSYS),
    ]
    for number in sorted(DENIED_SYSCALLS.values()):
        program += [_op(_JEQ_K, number, jf=1), _op(_RET_K, _ERRNO | _EPERM)]
    program += [
        _op(_JEQ_K, _CLONE, jf=3),
        _op(_LD_W_ABS, _ARG0_LOW),
        _op(_JSET_K, _NAMESPACE_FLAGS_ALL, jf=1),
        _op(_RET_K, _ERRNO | _EPERM),
        _op(_RET_K, _ALLOW),
    ]
    return b"".join(program)
