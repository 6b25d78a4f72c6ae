"""An instance type's topology (decision 0214): EC2's defaults derived from a vCPU count and a
type's name, and what a launch may ask of it."""

from __future__ import annotations

import pytest

from andromede.compute.cpu_options import CpuOptionsRequest, check_cpu_options, type_cpu
from andromede.compute.errors import InvalidParameterValue, Unsupported
from andromede.compute.model import CpuOptions


@pytest.mark.parametrize(
    ("name", "vcpus", "cores", "threads", "valid_cores", "valid_threads"),
    [
        ("m5.large", 2, 1, 2, (1,), (1, 2)),
        ("m5.2xlarge", 8, 4, 2, (1, 2, 3, 4), (1, 2)),
        ("t2.medium", 2, 2, 1, (), ()),  # T2: no hyperthreads, no CPU options (as on EC2)
        ("t2.micro", 1, 1, 1, (), ()),
        ("m6g.large", 2, 2, 1, (1, 2), (1,)),  # Graviton: one thread per core
        ("c7gn.xlarge", 4, 4, 1, (1, 2, 3, 4), (1,)),
        ("a1.medium", 1, 1, 1, (), ()),
        ("x.odd", 3, 3, 1, (1, 2, 3), (1,)),  # an operator's odd count: one thread per core
    ],
)
def test_type_topology(
    name: str,
    vcpus: int,
    cores: int,
    threads: int,
    valid_cores: tuple[int, ...],
    valid_threads: tuple[int, ...],
) -> None:
    cpu = type_cpu(name, vcpus)
    assert (cpu.default_cores, cpu.default_threads_per_core) == (cores, threads)
    assert (cpu.valid_cores, cpu.valid_threads_per_core) == (valid_cores, valid_threads)
    assert cpu.default.vcpus == vcpus


def test_a_launch_asks_within_the_type() -> None:
    assert check_cpu_options("m5.2xlarge", 8, CpuOptionsRequest()) is None
    assert check_cpu_options("m5.2xlarge", 8, CpuOptionsRequest(amd_sev_snp="disabled")) is None
    assert check_cpu_options("m5.2xlarge", 8, CpuOptionsRequest(3, 1)) == CpuOptions(3, 1)
    assert check_cpu_options("m5.2xlarge", 8, CpuOptionsRequest(core_count=2)) == CpuOptions(2, 2)
    with pytest.raises(InvalidParameterValue, match="valid core counts: 1, 2, 3, 4"):
        check_cpu_options("m5.2xlarge", 8, CpuOptionsRequest(5, 2))
    with pytest.raises(InvalidParameterValue, match="valid threads per core: 1"):
        check_cpu_options("m6g.large", 2, CpuOptionsRequest(2, 2))
    with pytest.raises(Unsupported, match="does not support specifying CpuOptions"):
        check_cpu_options("t2.medium", 2, CpuOptionsRequest(1, 1))
