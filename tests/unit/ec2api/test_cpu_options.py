"""EC2's CPU options (decision 0214), through the EC2 API in process: DescribeInstanceTypes'
``VCpuInfo``, RunInstances' and launch templates' ``CpuOptions`` checked against it, what
DescribeInstances answers (what Terraform's ``aws_instance`` reads into ``cpu_options``), the
guest's topology given to its host, and ModifyInstanceCpuOptions on a stopped instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree

from andromede.autoscaling_adapters import run_request
from andromede.compute.cpu_options import CpuOptionsRequest
from andromede.compute.launch_templates import TemplateRef
from andromede.compute.model import CpuOptions, Instance
from support.ec2app import ApiError, World, ec2_world

# EC2's vCPU counts, with memory the in-memory host (8 vCPUs, 8 GiB) holds.
TYPES = {
    "t2.micro": (1, 512, 8),
    "t3.nano": (2, 512, 8),
    "m5.xlarge": (4, 1024, 8),
    "m5.2xlarge": (8, 1024, 8),
}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with ec2_world(tmp_path, instance_types=TYPES) as created:
        yield created


async def _run(world: World, instance_type: str = "m5.xlarge", **extra: Any) -> str:
    run = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        **extra,
    )
    await world.compute.settle()
    return str(run["Instances"][0]["InstanceId"])


async def _described(world: World, instance_id: str) -> dict[str, Any]:
    described = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    return dict(described["Reservations"][0]["Instances"][0])


async def _refused(world: World, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(ApiError) as raised:
        await world.root.call(operation, **params)
    assert raised.value.status == 400
    return raised.value.code, str(raised.value)


async def _stopped(world: World, instance_id: str) -> None:
    await world.root.call("StopInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    assert (await _described(world, instance_id))["State"]["Name"] == "stopped"


async def test_instance_types_describe_ec2s_topology(world: World) -> None:
    answer = await world.root.call(
        "DescribeInstanceTypes", InstanceTypes=["t2.micro", "t3.nano", "m5.xlarge", "m5.2xlarge"]
    )
    info = {t["InstanceType"]: t["VCpuInfo"] for t in answer["InstanceTypes"]}
    # T2 takes no CPU options: EC2 lists no valid counts for it.
    assert info["t2.micro"] == {"DefaultVCpus": 1, "DefaultCores": 1, "DefaultThreadsPerCore": 1}
    assert info["t3.nano"] == {
        "DefaultVCpus": 2, "DefaultCores": 1, "DefaultThreadsPerCore": 2,
        "ValidCores": [1], "ValidThreadsPerCore": [1, 2],
    }  # fmt: skip
    assert info["m5.2xlarge"] == {
        "DefaultVCpus": 8, "DefaultCores": 4, "DefaultThreadsPerCore": 2,
        "ValidCores": [1, 2, 3, 4], "ValidThreadsPerCore": [1, 2],
    }  # fmt: skip
    for vcpu in info.values():
        assert vcpu["DefaultCores"] * vcpu["DefaultThreadsPerCore"] == vcpu["DefaultVCpus"]


async def test_an_instance_without_options_has_its_types_default(world: World) -> None:
    instance_id = await _run(world)
    assert (await _described(world, instance_id))["CpuOptions"] == {
        "CoreCount": 2,
        "ThreadsPerCore": 2,
    }
    spec = world.driver.instances[instance_id].spec
    assert (spec.vcpus, spec.threads_per_core) == (4, 2)


async def test_run_instances_starts_the_guest_with_the_options_asked(world: World) -> None:
    instance_id = await _run(world, CpuOptions={"CoreCount": 1, "ThreadsPerCore": 1})
    described = await _described(world, instance_id)
    assert described["CpuOptions"] == {"CoreCount": 1, "ThreadsPerCore": 1}
    spec = world.driver.instances[instance_id].spec
    assert (spec.vcpus, spec.threads_per_core) == (1, 1)
    # A count left out is the type's default: one thread per core, the type's two cores.
    other = await _run(world, CpuOptions={"ThreadsPerCore": 1})
    assert (await _described(world, other))["CpuOptions"] == {"CoreCount": 2, "ThreadsPerCore": 1}
    # The quota and the host's room count the type's vCPUs, as EC2 bills the type: 4 + 4 of 8.
    assert sum(i.vcpus for i in await world.compute.store.list(Instance, world.tenant_id)) == 8


@pytest.mark.parametrize(
    ("instance_type", "options", "code", "words"),
    [
        ("t2.micro", {"CoreCount": 1, "ThreadsPerCore": 1}, "UnsupportedOperation",
         "The t2.micro instance type does not support specifying CpuOptions."),
        ("m5.xlarge", {"CoreCount": 3, "ThreadsPerCore": 2}, "InvalidParameterValue",
         "CoreCount 3 is not valid for the m5.xlarge instance type"),
        ("m5.xlarge", {"CoreCount": 2, "ThreadsPerCore": 3}, "InvalidParameterValue",
         "ThreadsPerCore 3 is not valid"),
        ("m5.xlarge", {"CoreCount": 0}, "InvalidParameterValue", "CpuOptions.CoreCount"),
        ("m5.xlarge", {"AmdSevSnp": "enabled"}, "UnsupportedOperation", "AMD SEV-SNP"),
        ("m5.xlarge", {"AmdSevSnp": "maybe"}, "InvalidParameterValue", "AmdSevSnp"),
    ],
)  # fmt: skip
async def test_run_instances_refuses_options_the_type_does_not_offer(
    world: World, instance_type: str, options: dict[str, Any], code: str, words: str
) -> None:
    request = {"ImageId": world.image.image_id, "InstanceType": instance_type, "MinCount": 1,
               "MaxCount": 1, "CpuOptions": options}  # fmt: skip
    refused = await _refused(world, "RunInstances", **request)
    assert refused[0] == code
    assert words in refused[1]
    assert (await world.root.call("DescribeInstances"))["Reservations"] == []


async def test_amd_sev_snp_disabled_is_what_every_instance_is(world: World) -> None:
    instance_id = await _run(world, CpuOptions={"AmdSevSnp": "disabled"})
    assert (await _described(world, instance_id))["CpuOptions"]["CoreCount"] == 2


async def test_a_launch_template_keeps_and_launches_its_cpu_options(world: World) -> None:
    data = {"ImageId": world.image.image_id, "InstanceType": "m5.2xlarge",
            "CpuOptions": {"CoreCount": 2, "ThreadsPerCore": 1}}  # fmt: skip
    made = await world.root.call(
        "CreateLaunchTemplate", LaunchTemplateName="lic", LaunchTemplateData=data
    )
    template_id = made["LaunchTemplate"]["LaunchTemplateId"]
    await world.root.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateId=template_id,
        SourceVersion="1",
        LaunchTemplateData={"CpuOptions": {"CoreCount": 4, "ThreadsPerCore": 2}},
    )
    versions = await world.root.call("DescribeLaunchTemplateVersions", LaunchTemplateId=template_id)
    by_number = {
        v["VersionNumber"]: v["LaunchTemplateData"]["CpuOptions"]
        for v in versions["LaunchTemplateVersions"]
    }
    assert by_number == {
        1: {"CoreCount": 2, "ThreadsPerCore": 1},
        2: {"CoreCount": 4, "ThreadsPerCore": 2},
    }
    run = await world.root.call(
        "RunInstances",
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "1"},
        MinCount=1,
        MaxCount=1,
    )
    instance_id = run["Instances"][0]["InstanceId"]
    await world.compute.settle()
    assert (await _described(world, instance_id))["CpuOptions"] == {
        "CoreCount": 2,
        "ThreadsPerCore": 1,
    }
    # GetLaunchTemplateData gives the topology chosen back.
    got = await world.root.call("GetLaunchTemplateData", InstanceId=instance_id)
    assert got["LaunchTemplateData"]["CpuOptions"] == {"CoreCount": 2, "ThreadsPerCore": 1}
    # A template's options are checked against the type at launch, as on EC2.
    await world.root.call("ModifyLaunchTemplate", LaunchTemplateId=template_id, DefaultVersion="2")
    refused = await _refused(
        world,
        "RunInstances",
        LaunchTemplate={"LaunchTemplateId": template_id},
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
    )
    assert refused[0] == "InvalidParameterValue"


async def test_a_template_refuses_members_cpu_options_do_not_have(world: World) -> None:
    data = {"ImageId": world.image.image_id, "CpuOptions": {"NestedVirtualization": "enabled"}}
    refused = await _refused(
        world, "CreateLaunchTemplate", LaunchTemplateName="x", LaunchTemplateData=data
    )
    assert refused[0] == "UnsupportedOperation"


async def test_modify_instance_cpu_options_on_a_stopped_instance(world: World) -> None:
    instance_id = await _run(world)
    code, message = await _refused(
        world, "ModifyInstanceCpuOptions", InstanceId=instance_id, CoreCount=1, ThreadsPerCore=1
    )
    assert code == "IncorrectInstanceState"
    assert f"The instance '{instance_id}' is not in the 'stopped' state." in message
    await _stopped(world, instance_id)
    code, message = await _refused(
        world, "ModifyInstanceCpuOptions", InstanceId=instance_id, CoreCount=1
    )
    assert code == "MissingParameter"
    assert "you must specify both CoreCount and ThreadsPerCore" in message
    code, _ = await _refused(
        world, "ModifyInstanceCpuOptions", InstanceId=instance_id, CoreCount=5, ThreadsPerCore=1
    )
    assert code == "InvalidParameterValue"
    answer = await world.root.call(
        "ModifyInstanceCpuOptions", InstanceId=instance_id, CoreCount=1, ThreadsPerCore=2
    )
    assert (answer["InstanceId"], answer["CoreCount"], answer["ThreadsPerCore"]) == (
        instance_id,
        1,
        2,
    )
    assert (await _described(world, instance_id))["CpuOptions"] == {
        "CoreCount": 1,
        "ThreadsPerCore": 2,
    }
    # The guest has it from its next start.
    await world.root.call("StartInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    spec = world.driver.instances[instance_id].spec
    assert (spec.vcpus, spec.threads_per_core) == (2, 2)


async def test_modify_instance_cpu_options_of_another_account_is_not_found(
    world: World,
) -> None:
    instance_id = await _run(world)
    await _stopped(world, instance_id)
    _, intruder = await world.tenant("intruder")
    with pytest.raises(ApiError) as raised:
        await intruder.call(
            "ModifyInstanceCpuOptions", InstanceId=instance_id, CoreCount=1, ThreadsPerCore=1
        )
    assert raised.value.code == "InvalidInstanceID.NotFound"
    assert (await _described(world, instance_id))["CpuOptions"]["CoreCount"] == 2


async def test_describe_instances_answers_the_shape_terraform_reads(world: World) -> None:
    # The AWS provider's aws_instance reads instancesSet/item/cpuOptions into cpu_options
    # (core_count, threads_per_core); its amd_sev_snp, absent, stays as configured.
    instance_id = await _run(world, CpuOptions={"CoreCount": 2, "ThreadsPerCore": 1})
    answer = await world.root.send("DescribeInstances", InstanceIds=[instance_id])
    item = ElementTree.fromstring(answer.body).find(".//{*}instancesSet/{*}item")
    assert item is not None
    cpu = item.find("{*}cpuOptions")
    assert cpu is not None
    assert [(child.tag.split("}")[-1], child.text) for child in cpu] == [
        ("coreCount", "2"),
        ("threadsPerCore", "1"),
    ]


async def test_an_auto_scaling_launch_reads_the_template_s_cpu_options(world: World) -> None:
    """Decision 0214's session-51 addendum: the template as CreateLaunchTemplate keeps it is
    what an Auto Scaling group's launch reads, its CPU options in the RunInstances request."""
    cpu = {"CoreCount": 3, "ThreadsPerCore": 1, "AmdSevSnp": "disabled"}
    data = {"ImageId": world.image.image_id, "InstanceType": "m5.2xlarge", "CpuOptions": cpu}
    made = await world.root.call(
        "CreateLaunchTemplate", LaunchTemplateName="fleet", LaunchTemplateData=data
    )
    template_id = made["LaunchTemplate"]["LaunchTemplateId"]
    template, version = await world.compute.launch_template_version(
        world.tenant_id, TemplateRef(template_id=template_id), "$Latest"
    )
    request = run_request(dict(version.parameters), template.template_id, version.number, None, ())
    assert request.cpu_options == CpuOptionsRequest(3, 1, "disabled")
    [launched] = await world.compute.run_instances(world.tenant_id, request)
    assert launched.cpu_options == CpuOptions(3, 1)
