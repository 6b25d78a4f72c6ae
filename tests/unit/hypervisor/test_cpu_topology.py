"""The guest's CPU topology on QEMU's command line (decision 0214): ``-smp`` gives the active
vCPUs first, then one socket of cores of threads, and the metrics' reading of the command line
(``smp_of``) still finds the vCPU count in it."""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path

import pytest

from andromede.compute.driver import AttachedVolume, InstanceSpec, SeedSpec
from andromede.hypervisor import QemuDriver, QemuDriverConfig
from andromede.hypervisor.instance_readings import smp_of
from andromede.hypervisor.qemu_core import smp_option
from andromede.hypervisor.wire import decode, encode

INSTANCE = "i-0123456789abcdef0"


def _spec(vcpus: int, threads_per_core: int) -> InstanceSpec:
    return InstanceSpec(
        instance_id=INSTANCE, vcpus=vcpus, threads_per_core=threads_per_core, memory_mib=128,
        root=AttachedVolume("vol-0123456789abcdef0", "/dev/xvda", secrets.token_bytes(32)),
        seed=SeedSpec(f"instance-id: {INSTANCE}\n", b"", "version: 2\n"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("vcpus", "threads", "option"),
    [
        (1, 1, "1,sockets=1,cores=1,threads=1"),
        (2, 2, "2,sockets=1,cores=1,threads=2"),  # t3.nano by default: 1 core, 2 threads
        (8, 2, "8,sockets=1,cores=4,threads=2"),
        (3, 1, "3,sockets=1,cores=3,threads=1"),  # threads off: as many cores
    ],
)
def test_smp_gives_cores_and_threads(vcpus: int, threads: int, option: str) -> None:
    assert smp_option(_spec(vcpus, threads)) == option


def test_the_command_line_carries_the_topology_and_reads_back(
    tmp_path: Path, short_dir: Path
) -> None:
    driver = QemuDriver(short_dir / "host", config=QemuDriverConfig())
    spec = _spec(4, 2)
    argv = driver._command(spec, driver._process(INSTANCE), "tcg")
    smp = [value for option, value in itertools.pairwise(argv) if option == "-smp"]
    assert smp == ["4,sockets=1,cores=2,threads=2"]
    proc = tmp_path / "proc"
    (proc / "7").mkdir(parents=True)
    (proc / "7" / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")
    assert smp_of(7, proc) == 4


def test_threads_per_core_stays_off_the_wire_at_one() -> None:
    # An agent older than decision 0214 still reads a one-thread spec; a newer one reads both.
    assert "threads_per_core" not in encode(_spec(2, 1))
    assert encode(_spec(2, 2))["threads_per_core"] == 2
    assert decode(InstanceSpec, encode(_spec(2, 2))).threads_per_core == 2
    assert decode(InstanceSpec, encode(_spec(2, 1))).threads_per_core == 1
