"""Instances' CPU options (decision 0214): an instance type's cores and threads per core, the
counts a launch (RunInstances' or a launch template's ``CpuOptions``) or
ModifyInstanceCpuOptions (``instance_options``) may choose instead.

The catalogue gives a type its vCPUs only (the ``instance_types`` setting). Its topology is
EC2's: a type with an even number of vCPUs is that many hyperthreads, two per core, as EC2's
Intel and AMD types are; a Graviton type (a ``g`` after the generation: ``t4g``, ``m6g``,
``c7gn``…, and ``a1``) and a type with an odd count have one thread per core. EC2's T2 types
take no CPU options, as on EC2, and neither does a one-vCPU type (there is nothing to
choose). A type that takes them offers every core count up to its default and one or two
threads per core where it has two.

The active vCPUs (cores x threads) are what the guest is started with; the instance still
holds its type's room on its host and in the tenant's vCPU quota, and is billed as its type,
as on EC2, so that a stopped instance can be given its full topology back without needing
room it did not hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from andromede.compute.errors import InvalidParameterValue, Unsupported
from andromede.compute.model import CpuOptions, Instance

__all__ = [
    "AMD_SEV_SNP_VALUES",
    "CpuOptionsRequest",
    "TypeCpu",
    "check_cpu_options",
    "instance_cpu",
    "type_cpu",
]

# One thread per core: EC2's Graviton families (a "g" right after the generation) and A1.
_SINGLE_THREADED: Final = re.compile(r"^(?:[a-z]+\d+g[a-z0-9-]*|a1)\.")
_NO_CPU_OPTIONS: Final = ("t2.",)  # EC2's T2 types refuse CpuOptions
AMD_SEV_SNP_VALUES: Final = ("enabled", "disabled")


@dataclass(frozen=True, slots=True)
class TypeCpu:
    """What DescribeInstanceTypes' ``VCpuInfo`` answers of a type, and what a launch may ask."""

    default_cores: int
    default_threads_per_core: int
    # Empty: the type takes no CPU options (EC2 then leaves them out of VCpuInfo too).
    valid_cores: tuple[int, ...]
    valid_threads_per_core: tuple[int, ...]

    @property
    def default(self) -> CpuOptions:
        return CpuOptions(self.default_cores, self.default_threads_per_core)


@dataclass(frozen=True, slots=True)
class CpuOptionsRequest:
    """A launch's ``CpuOptions`` as asked (None: left out, the type's default)."""

    core_count: int | None = None
    threads_per_core: int | None = None
    amd_sev_snp: str | None = None


def type_cpu(name: str, vcpus: int) -> TypeCpu:
    """The topology of the type ``name`` of ``vcpus`` vCPUs (see the module's docstring)."""
    threads = 1 if vcpus % 2 or _SINGLE_THREADED.match(name) or name.startswith("t2.") else 2
    cores = vcpus // threads
    if vcpus < 2 or name.startswith(_NO_CPU_OPTIONS):
        return TypeCpu(cores, threads, (), ())
    return TypeCpu(cores, threads, tuple(range(1, cores + 1)), tuple(range(1, threads + 1)))


def instance_cpu(instance: Instance) -> CpuOptions:
    """The instance's topology: the one chosen for it, else its type's default."""
    if instance.cpu_options is not None:
        return instance.cpu_options
    return type_cpu(instance.instance_type, instance.vcpus).default


def check_cpu_options(name: str, vcpus: int, asked: CpuOptionsRequest) -> CpuOptions | None:
    """The topology ``asked`` of the type ``name`` (None: nothing asked, the default); a
    count left out is the type's default. Refused as EC2 refuses: a type without CPU
    options (UnsupportedOperation), a count the type does not offer (InvalidParameterValue),
    AMD SEV-SNP, which no type here has."""
    if asked.amd_sev_snp is not None and asked.amd_sev_snp not in AMD_SEV_SNP_VALUES:
        raise InvalidParameterValue(
            f"Invalid value '{asked.amd_sev_snp[:32]}' for AmdSevSnp; valid values are "
            "enabled and disabled"
        )
    if asked.amd_sev_snp == "enabled":
        raise Unsupported(f"The {name} instance type does not support AMD SEV-SNP.")
    if asked.core_count is None and asked.threads_per_core is None:
        return None
    cpu = type_cpu(name, vcpus)
    if not cpu.valid_cores:
        raise Unsupported(f"The {name} instance type does not support specifying CpuOptions.")
    cores = cpu.default_cores if asked.core_count is None else asked.core_count
    threads = (
        cpu.default_threads_per_core if asked.threads_per_core is None else (asked.threads_per_core)
    )
    if cores not in cpu.valid_cores:
        raise InvalidParameterValue(
            f"CoreCount {cores} is not valid for the {name} instance type; valid core counts: "
            + ", ".join(map(str, cpu.valid_cores))
        )
    if threads not in cpu.valid_threads_per_core:
        raise InvalidParameterValue(
            f"ThreadsPerCore {threads} is not valid for the {name} instance type; valid "
            "threads per core: " + ", ".join(map(str, cpu.valid_threads_per_core))
        )
    return CpuOptions(cores, threads)
