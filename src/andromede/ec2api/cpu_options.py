"""EC2's CPU options on the wire (decision 0214): ModifyInstanceCpuOptions, the ``cpuOptions``
structure DescribeInstances and RunInstances answer, and DescribeInstanceTypes' ``vCpuInfo``.

A change is recorded on the stopped instance; its guest is started with it at its next
StartInstances.
"""

from __future__ import annotations

from typing import Final

from andromede.compute.cpu_options import instance_cpu, type_cpu
from andromede.compute.model import Instance, InstanceType
from andromede.ec2api.protocol import Action, Call
from andromede.http.xml import XmlWriter

__all__ = ["CPU_OPTIONS_ACTIONS", "write_instance_cpu", "write_vcpu_info"]

_MODIFY_HANDLED: Final = frozenset({"InstanceId", "CoreCount", "ThreadsPerCore"})


def write_instance_cpu(xml: XmlWriter, instance: Instance) -> None:
    """DescribeInstances' ``cpuOptions``: the instance's topology, its type's default when
    none was chosen (what Terraform's ``aws_instance`` reads into ``cpu_options``)."""
    cpu = instance_cpu(instance)
    xml.open("cpuOptions")
    xml.element("coreCount", cpu.core_count)
    xml.element("threadsPerCore", cpu.threads_per_core)
    xml.close("cpuOptions")


def write_vcpu_info(xml: XmlWriter, itype: InstanceType) -> None:
    """DescribeInstanceTypes' ``vCpuInfo``: the counts RunInstances and
    ModifyInstanceCpuOptions take are those listed (none for a type without CPU options)."""
    cpu = type_cpu(itype.name, itype.vcpus)
    xml.open("vCpuInfo")
    xml.element("defaultVCpus", itype.vcpus)
    xml.element("defaultCores", cpu.default_cores)
    xml.element("defaultThreadsPerCore", cpu.default_threads_per_core)
    for tag, values in (
        ("validCores", cpu.valid_cores),
        ("validThreadsPerCore", cpu.valid_threads_per_core),
    ):
        if values:
            xml.open(tag)
            for value in values:
                xml.element("item", value)
            xml.close(tag)
    xml.close("vCpuInfo")


async def modify_instance_cpu_options(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("ModifyInstanceCpuOptions", _MODIFY_HANDLED)
    instance = await call.compute.set_cpu_options(
        call.tenant_id,
        p.required("InstanceId"),
        p.integer("CoreCount", minimum=1),
        p.integer("ThreadsPerCore", minimum=1),
    )
    cpu = instance_cpu(instance)
    call.result.element("instanceId", instance.instance_id)
    call.result.element("coreCount", cpu.core_count)
    call.result.element("threadsPerCore", cpu.threads_per_core)


def _instance_arn(call: Call) -> list[str]:
    return [call.arn("instance", call.params.get("InstanceId") or "*")]


CPU_OPTIONS_ACTIONS: dict[str, Action] = {
    "ModifyInstanceCpuOptions": Action(
        modify_instance_cpu_options, mutating=True, resources=_instance_arn
    ),
}
