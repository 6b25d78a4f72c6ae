"""Termination and stop protection, the guest's own power-off and the metadata options
(decision 0145), through the EC2 API in process: what RunInstances records, what
ModifyInstanceAttribute / ModifyInstanceMetadataOptions change, what Describe* answers, EC2's
refusals word for word, and a guest powering off on the memory host."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from andromede.compute.model import InstanceState, Volume
from andromede.settings import Settings
from andromede.wiring.upkeep import compute_upkeep
from support.ec2app import ApiError, World

TERMINATE_REFUSED = (
    "The instance '{}' may not be terminated. Modify its 'disableApiTermination' instance "
    "attribute and try again."
)
STOP_REFUSED = (
    "The instance '{}' may not be stopped. Modify its 'disableApiStop' instance attribute "
    "and try again."
)


async def _run(world: World, **extra: Any) -> str:
    run = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        **extra,
    )
    await world.compute.settle()
    return str(run["Instances"][0]["InstanceId"])


async def _refused(world: World, operation: str, **params: Any) -> tuple[str, str]:
    status, parsed = await world.root.raw(operation, **params)
    assert status == 400, parsed
    error = parsed["Error"]
    return str(error["Code"]), str(error["Message"])


async def _attribute(world: World, instance_id: str, name: str) -> object:
    answer = await world.root.call(
        "DescribeInstanceAttribute", InstanceId=instance_id, Attribute=name
    )
    key = name[0].upper() + name[1:]
    return answer[key]["Value"]


async def _state(world: World, instance_id: str) -> dict[str, Any]:
    described = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    [instance] = described["Reservations"][0]["Instances"]
    return dict(instance)


async def test_termination_protection_refuses_terminate_until_lifted(world: World) -> None:
    guarded = await _run(world, DisableApiTermination=True)
    free = await _run(world)
    assert await _attribute(world, guarded, "disableApiTermination") is True
    assert await _attribute(world, free, "disableApiTermination") is False
    # One protected instance in the call: nothing of the call is done, as on EC2.
    code, message = await _refused(world, "TerminateInstances", InstanceIds=[free, guarded])
    assert (code, message) == ("OperationNotPermitted", TERMINATE_REFUSED.format(guarded))
    for instance_id in (guarded, free):
        assert (await _state(world, instance_id))["State"]["Name"] == "running"
    # Stop protection is another attribute: a protected-from-termination instance stops.
    await world.root.call(
        "ModifyInstanceAttribute", InstanceId=guarded, DisableApiTermination={"Value": False}
    )
    assert await _attribute(world, guarded, "disableApiTermination") is False
    await world.root.call("TerminateInstances", InstanceIds=[free, guarded])
    await world.compute.settle()
    assert (await _state(world, guarded))["State"]["Name"] == "terminated"


async def test_stop_protection_refuses_stop_not_termination(world: World) -> None:
    guarded = await _run(world, DisableApiStop=True)
    assert await _attribute(world, guarded, "disableApiStop") is True
    code, message = await _refused(world, "StopInstances", InstanceIds=[guarded])
    assert (code, message) == ("OperationNotPermitted", STOP_REFUSED.format(guarded))
    code, _ = await _refused(world, "StopInstances", InstanceIds=[guarded], Force=True)
    assert code == "OperationNotPermitted"
    assert (await _state(world, guarded))["State"]["Name"] == "running"
    # The ``Attribute``/``Value`` form, as the aws CLI's --attribute sends it.
    await world.root.call(
        "ModifyInstanceAttribute", InstanceId=guarded, Attribute="disableApiStop", Value="true"
    )
    await world.root.call(
        "ModifyInstanceAttribute", InstanceId=guarded, Attribute="disableApiStop", Value="false"
    )
    await world.root.call("StopInstances", InstanceIds=[guarded])
    await world.compute.settle()
    assert (await _state(world, guarded))["State"]["Name"] == "stopped"
    # EC2: stop protection does not keep an instance from being terminated.
    await world.root.call(
        "ModifyInstanceAttribute", InstanceId=guarded, DisableApiStop={"Value": True}
    )
    await world.root.call("TerminateInstances", InstanceIds=[guarded])
    await world.compute.settle()
    assert (await _state(world, guarded))["State"]["Name"] == "terminated"


async def test_modify_instance_attribute_takes_one_option_with_ec2_s_values(
    world: World,
) -> None:
    instance_id = await _run(world)
    assert await _attribute(world, instance_id, "instanceInitiatedShutdownBehavior") == "stop"
    await world.root.call(
        "ModifyInstanceAttribute",
        InstanceId=instance_id,
        InstanceInitiatedShutdownBehavior={"Value": "terminate"},
    )
    assert await _attribute(world, instance_id, "instanceInitiatedShutdownBehavior") == (
        "terminate"
    )
    code, _ = await _refused(
        world,
        "ModifyInstanceAttribute",
        InstanceId=instance_id,
        InstanceInitiatedShutdownBehavior={"Value": "hibernate"},
    )
    assert code == "InvalidParameterValue"
    code, _ = await _refused(
        world,
        "ModifyInstanceAttribute",
        InstanceId=instance_id,
        DisableApiStop={"Value": True},
        DisableApiTermination={"Value": True},
    )
    assert code == "InvalidParameterCombination"
    code, _ = await _refused(
        world,
        "ModifyInstanceAttribute",
        InstanceId=instance_id,
        Attribute="disableApiStop",
        Value="maybe",
    )
    assert code == "InvalidParameterValue"
    assert await _attribute(world, instance_id, "disableApiStop") is False
    code, _ = await _refused(
        world,
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        InstanceInitiatedShutdownBehavior="hibernate",
    )
    assert code == "InvalidParameterValue"


async def test_a_guest_powering_off_stops_its_instance_even_under_stop_protection(
    world: World,
) -> None:
    instance_id = await _run(world, DisableApiStop=True)
    other = await _run(world)
    assert await world.compute.notice_guest_shutdowns() == 0  # both guests run
    world.driver.power_off(instance_id)
    assert await world.compute.notice_guest_shutdowns() == 1
    await world.compute.settle()
    described = await _state(world, instance_id)
    assert described["State"]["Name"] == "stopped"
    assert described["StateReason"] == {
        "Code": "Client.InstanceInitiatedShutdown",
        "Message": "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
    }
    assert (await _state(world, other))["State"]["Name"] == "running"
    # It starts again as any stopped instance, and is noticed no more.
    await world.root.call("StartInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    assert (await _state(world, instance_id))["State"]["Name"] == "running"
    assert await world.compute.notice_guest_shutdowns() == 0


async def test_a_guest_powering_off_terminates_its_instance_with_terminate(
    world: World,
) -> None:
    # Termination protection guards the API only (EC2's documentation says so too).
    instance_id = await _run(
        world, InstanceInitiatedShutdownBehavior="terminate", DisableApiTermination=True
    )
    [instance] = await world.compute.describe_instances(world.tenant_id, [instance_id])
    world.driver.power_off(instance_id)
    assert await world.compute.notice_guest_shutdowns() == 1
    await world.compute.settle()
    described = await _state(world, instance_id)
    assert described["State"]["Name"] == "terminated"
    assert described["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    # Its root volume went with it (DeleteOnTermination), and nothing is left on the host.
    assert await world.compute.store.get(Volume, instance.root_volume_id) is None
    assert instance_id not in world.driver.instances


async def test_a_crashed_guest_is_stopped_never_terminated_whatever_its_behaviour(
    world: World,
) -> None:
    """Its QEMU killed or crashed (the host says ``crashed``, not ``shut-off``): a fault of the
    host's, not the guest's own power-off; terminating would delete its root volume."""
    instance_id = await _run(world, InstanceInitiatedShutdownBehavior="terminate")
    [instance] = await world.compute.describe_instances(world.tenant_id, [instance_id])
    world.driver.crash(instance_id)
    assert await world.compute.notice_guest_shutdowns() == 1
    await world.compute.settle()
    described = await _state(world, instance_id)
    assert described["State"]["Name"] == "stopped"
    assert described["StateReason"]["Code"] == "Server.InternalError"
    assert await world.compute.store.get(Volume, instance.root_volume_id) is not None
    await world.root.call("StartInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    assert (await _state(world, instance_id))["State"]["Name"] == "running"


async def test_a_stop_in_progress_is_not_taken_for_a_guest_power_off(world: World) -> None:
    instance_id = await _run(world)
    # The tenant's stop is recorded (stopping) before its host powers the guest off: the
    # pass sees no running record with its QEMU gone, then or after.
    await world.root.call("StopInstances", InstanceIds=[instance_id])
    assert await world.compute.notice_guest_shutdowns() == 0
    await world.compute.settle()
    [instance] = await world.compute.describe_instances(world.tenant_id, [instance_id])
    assert instance.state is InstanceState.STOPPED
    assert instance.state_reason.startswith("User initiated")


# -- metadata options ----------------------------------------------------------------------------


async def test_metadata_options_default_to_imdsv2_and_are_described(world: World) -> None:
    plain = await _run(world)
    assert (await _state(world, plain))["MetadataOptions"] == {
        "State": "applied",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
        "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled",
    }
    asked = {
        "HttpTokens": "optional",
        "HttpPutResponseHopLimit": 2,
        "HttpEndpoint": "enabled",
        "InstanceMetadataTags": "enabled",
    }
    run = await world.root.call(
        "RunInstances",
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        MinCount=1,
        MaxCount=1,
        MetadataOptions=asked,
    )
    assert run["Instances"][0]["MetadataOptions"]["HttpTokens"] == "optional"
    instance_id = run["Instances"][0]["InstanceId"]
    await world.compute.settle()
    described = (await _state(world, instance_id))["MetadataOptions"]
    assert described == {
        "State": "applied",
        "HttpProtocolIpv6": "disabled",
        **asked,
    }


async def test_modify_instance_metadata_options_changes_what_is_given(world: World) -> None:
    instance_id = await _run(world)
    answer = await world.root.call(
        "ModifyInstanceMetadataOptions",
        InstanceId=instance_id,
        HttpEndpoint="disabled",
        HttpPutResponseHopLimit=3,
    )
    assert answer["InstanceId"] == instance_id
    assert answer["InstanceMetadataOptions"] == {
        "State": "applied",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 3,
        "HttpEndpoint": "disabled",
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled",
    }
    described = (await _state(world, instance_id))["MetadataOptions"]
    assert (described["HttpEndpoint"], described["HttpPutResponseHopLimit"]) == ("disabled", 3)
    for bad in (
        {"HttpPutResponseHopLimit": 65},
        {"HttpPutResponseHopLimit": 0},
        {"HttpTokens": "sometimes"},
        {"HttpEndpoint": "off"},
        {"InstanceMetadataTags": "yes"},
    ):
        code, _ = await _refused(
            world, "ModifyInstanceMetadataOptions", InstanceId=instance_id, **bad
        )
        assert code == "InvalidParameterValue", bad
    code, _ = await _refused(
        world, "ModifyInstanceMetadataOptions", InstanceId=instance_id, HttpProtocolIpv6="enabled"
    )
    assert code == "UnsupportedOperation"
    code, _ = await _refused(world, "ModifyInstanceMetadataOptions", InstanceId=instance_id)
    assert code == "MissingParameter"
    # Nothing refused was recorded.
    after = (await _state(world, instance_id))["MetadataOptions"]
    assert after == {**described}
    await world.root.call("TerminateInstances", InstanceIds=[instance_id])
    await world.compute.settle()
    code, _ = await _refused(
        world, "ModifyInstanceMetadataOptions", InstanceId=instance_id, HttpTokens="optional"
    )
    assert code == "IncorrectState"


async def test_a_launch_template_carries_protection_and_metadata_options(world: World) -> None:
    data = {
        "ImageId": world.image.image_id,
        "InstanceType": "t3.nano",
        "DisableApiTermination": True,
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": {"HttpTokens": "optional", "InstanceMetadataTags": "enabled"},
    }
    created = await world.root.call(
        "CreateLaunchTemplate", LaunchTemplateName="guarded", LaunchTemplateData=data
    )
    template_id = created["LaunchTemplate"]["LaunchTemplateId"]
    run = await world.root.call(
        "RunInstances",
        MinCount=1,
        MaxCount=1,
        LaunchTemplate={"LaunchTemplateId": template_id},
    )
    instance_id = run["Instances"][0]["InstanceId"]
    await world.compute.settle()
    assert await _attribute(world, instance_id, "disableApiTermination") is True
    assert await _attribute(world, instance_id, "instanceInitiatedShutdownBehavior") == (
        "terminate"
    )
    options = (await _state(world, instance_id))["MetadataOptions"]
    assert (options["HttpTokens"], options["InstanceMetadataTags"]) == ("optional", "enabled")
    again = (await world.root.call("GetLaunchTemplateData", InstanceId=instance_id))[
        "LaunchTemplateData"
    ]
    assert again["DisableApiTermination"] is True
    assert again["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert again["MetadataOptions"]["HttpTokens"] == "optional"
    assert again["MetadataOptions"]["InstanceMetadataTags"] == "enabled"
    with pytest.raises(ApiError) as raised:
        await world.root.call("TerminateInstances", InstanceIds=[instance_id])
    assert raised.value.code == "OperationNotPermitted"


# -- the account's defaults ------------------------------------------------------------------------


async def test_the_account_s_metadata_defaults_fill_what_a_launch_leaves_out(
    world: World,
) -> None:
    assert (await world.root.call("GetInstanceMetadataDefaults"))["AccountLevel"] == {
        "ManagedBy": "account"
    }
    answer = await world.root.call(
        "ModifyInstanceMetadataDefaults",
        HttpTokens="optional",
        HttpPutResponseHopLimit=3,
        InstanceMetadataTags="enabled",
    )
    assert answer["Return"] is True
    assert (await world.root.call("GetInstanceMetadataDefaults"))["AccountLevel"] == {
        "HttpTokens": "optional",
        "HttpPutResponseHopLimit": 3,
        "InstanceMetadataTags": "enabled",
        "ManagedBy": "account",
    }
    plain = await _run(world)
    options = (await _state(world, plain))["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("optional", 3)
    assert (options["InstanceMetadataTags"], options["HttpEndpoint"]) == ("enabled", "enabled")
    # What the launch names wins over the account's default.
    strict = await _run(world, MetadataOptions={"HttpTokens": "required"})
    options = (await _state(world, strict))["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 3)
    # Another account's launches are not concerned.
    _, other = await world.tenant("other")
    assert (await other.call("GetInstanceMetadataDefaults"))["AccountLevel"] == {
        "ManagedBy": "account"
    }
    # no-preference (-1 for the hop limit) clears a default.
    await world.root.call(
        "ModifyInstanceMetadataDefaults", HttpTokens="no-preference", HttpPutResponseHopLimit=-1
    )
    assert (await world.root.call("GetInstanceMetadataDefaults"))["AccountLevel"] == {
        "InstanceMetadataTags": "enabled",
        "ManagedBy": "account",
    }
    later = await _run(world)
    options = (await _state(world, later))["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 1)


async def test_the_account_s_metadata_defaults_refuse_what_ec2_refuses(world: World) -> None:
    for bad, expected in (
        ({"HttpTokens": "sometimes"}, "InvalidParameterValue"),
        ({"HttpPutResponseHopLimit": 65}, "InvalidParameterValue"),
        ({"HttpPutResponseHopLimit": 0}, "InvalidParameterValue"),
        ({"HttpTokensEnforced": "enabled"}, "UnsupportedOperation"),
        ({}, "MissingParameter"),
    ):
        code, _ = await _refused(world, "ModifyInstanceMetadataDefaults", **bad)
        assert code == expected, bad
    assert (await world.root.call("GetInstanceMetadataDefaults"))["AccountLevel"] == {
        "ManagedBy": "account"
    }


async def test_the_server_s_upkeep_notices_a_power_off_every_interval(world: World) -> None:
    """What ``andromede serve`` runs (the compute upkeep loop): the check at its own
    interval, well before the resync's or the sweeper's."""
    instance_id = await _run(world)
    settings = Settings(instance_shutdown_check_interval=0.05)
    upkeep = asyncio.create_task(compute_upkeep(settings, world.compute))
    try:
        world.driver.power_off(instance_id)
        for _ in range(200):
            await asyncio.sleep(0.02)
            await world.compute.settle()
            [instance] = await world.compute.describe_instances(world.tenant_id, [instance_id])
            if instance.state is InstanceState.STOPPED:
                break
        assert instance.state is InstanceState.STOPPED
    finally:
        upkeep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upkeep
