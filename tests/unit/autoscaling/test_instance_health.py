"""SetInstanceHealth (decision 0198's session-49 addendum) over the Query API, with botocore's
``autoscaling`` model, and the reconciler on the memory hypervisor under a fake clock: the
mark and its replacement with AWS's user health-check cause, the grace period respected or
not, the mark cleared, a replacement under way kept, ReplaceUnhealthy suspended, refusals,
the audit record and the authorisation on the instance's group's ARN."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from botocore.credentials import Credentials

from andromede.audit.model import Outcome
from andromede.autoscaling.model import Group
from andromede.compute.model import InstanceState
from support.autoscalingapp import Clock, World, autoscaling_client, refused

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


async def running(world: World) -> list[str]:
    return sorted(
        i.instance_id
        for i in await world.compute.describe_instances(world.tenant_id, [])
        if i.autoscaling_group == "web" and i.state is InstanceState.RUNNING
    )


async def health(world: World) -> dict[str, tuple[str, str]]:
    found = (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
    return {i["InstanceId"]: (i["LifecycleState"], i["HealthStatus"]) for i in found}


async def causes(world: World) -> list[str]:
    found = (await world.root.call("DescribeScalingActivities"))["Activities"]
    return [str(a["Cause"]) for a in found]


async def started(world: World, desired: int = 2, grace: int = 0) -> tuple[Clock, list[str]]:
    """A group of ``desired`` running instances; the clock both services read."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    world.service.clock = world.compute.clock = clock
    await world.create_group(DesiredCapacity=desired, HealthCheckGracePeriod=grace)
    await world.converge()
    await world.converge()
    return clock, await running(world)


async def set_health(world: World, instance_id: str, status: str, **more: object) -> None:
    await world.root.call("SetInstanceHealth", InstanceId=instance_id, HealthStatus=status, **more)


async def test_an_instance_marked_unhealthy_is_replaced(world: World) -> None:
    clock, (first, second) = await started(world)
    await set_health(world, first, "Unhealthy")
    assert (await health(world))[first] == ("InService", "UNHEALTHY")
    assert (await health(world))[second] == ("InService", "HEALTHY")
    await world.converge()
    await world.converge()
    now = await running(world)
    assert first not in now and second in now and len(now) == 2
    moment = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        f"At {moment} an instance was taken out of service in response to a user health-check."
        in await causes(world)
    )
    # The mark went with the instance; a document keeps and reads the marks.
    group = await world.service.group(world.tenant_id, "web")
    assert (group.unhealthy, group.marked_by_user) == ((), ())
    marked = replace(group, unhealthy=(first,), marked_by_user=(first,))
    again = Group.from_document(marked.document(), marked.revision)
    assert (again.unhealthy, again.marked_by_user) == ((first,), (first,))
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=99)]
    [event] = [e for e in events if e.action == "autoscaling:SetInstanceHealth"]
    assert event.outcome is Outcome.SUCCESS
    assert event.resource.startswith(f"arn:aws:autoscaling:eu-fr-1:{world.tenant_id}:")
    assert event.resource.endswith(":autoScalingGroupName/web")


async def test_the_grace_period_is_respected_unless_asked_not_to(world: World) -> None:
    clock, (first, second) = await started(world, grace=300)
    # Within the grace period: the call is ignored, as AWS documents.
    await set_health(world, first, "Unhealthy")
    await set_health(world, first, "Unhealthy", ShouldRespectGracePeriod=True)
    assert (await health(world))[first] == ("InService", "HEALTHY")
    # Not respected: marked at once, and replaced.
    await set_health(world, second, "Unhealthy", ShouldRespectGracePeriod=False)
    assert (await health(world))[second] == ("InService", "UNHEALTHY")
    # Past it, the default call marks.
    clock.now += timedelta(seconds=301)
    await set_health(world, first, "Unhealthy")
    assert (await health(world))[first] == ("InService", "UNHEALTHY")
    await world.converge()
    await world.converge()
    now = await running(world)
    assert first not in now and second not in now and len(now) == 2


async def test_healthy_clears_a_mark_but_not_a_replacement_under_way(world: World) -> None:
    _, (first, second) = await started(world)
    await set_health(world, first, "Unhealthy")
    await set_health(world, first, "Healthy")
    await set_health(world, second, "Healthy")  # not marked: nothing to do
    assert (await health(world))[first] == ("InService", "HEALTHY")
    await world.converge()
    assert await running(world) == [first, second]
    # With a termination hook the replacement holds the instance in Terminating:Wait:
    # Healthy no longer calls it back, as on AWS.
    await world.root.call(
        "PutLifecycleHook", AutoScalingGroupName="web", LifecycleHookName="drain",
        LifecycleTransition=TERMINATING, HeartbeatTimeout=300,
    )  # fmt: skip
    await set_health(world, first, "Unhealthy")
    await world.converge()
    assert (await health(world))[first] == ("Terminating:Wait", "UNHEALTHY")
    await set_health(world, first, "Healthy")
    assert (await health(world))[first] == ("Terminating:Wait", "UNHEALTHY")
    group = await world.service.group(world.tenant_id, "web")
    assert first in group.unhealthy


async def test_replace_unhealthy_suspended_keeps_the_marked_instance(world: World) -> None:
    _, (first, second) = await started(world)
    await world.root.call(
        "SuspendProcesses", AutoScalingGroupName="web", ScalingProcesses=["ReplaceUnhealthy"]
    )
    await set_health(world, first, "Unhealthy")
    await world.converge()
    # Neither replaced nor counted out: no launch either, as AWS.
    assert await running(world) == [first, second]
    assert (await health(world))[first] == ("InService", "UNHEALTHY")
    await world.root.call(
        "ResumeProcesses", AutoScalingGroupName="web", ScalingProcesses=["ReplaceUnhealthy"]
    )
    await world.converge()
    await world.converge()
    now = await running(world)
    assert first not in now and second in now and len(now) == 2


async def test_refusals(world: World) -> None:
    _, [first] = await started(world, desired=1)
    unknown = "i-0123456789abcdef0"
    error = await refused(
        world.root, "SetInstanceHealth", "ValidationError", InstanceId=unknown,
        HealthStatus="Unhealthy",
    )  # fmt: skip
    assert error.message == (
        f"Instance Id not found - No managed instance found for instance ID: {unknown}"
    )
    error = await refused(
        world.root, "SetInstanceHealth", "ValidationError", InstanceId=first,
        HealthStatus="Sick",
    )  # fmt: skip
    assert "Healthy or Unhealthy" in error.message
    # Another account's instance is not found there.
    _, other = await world.tenant("globex")
    error = await refused(
        other, "SetInstanceHealth", "ValidationError", InstanceId=first, HealthStatus="Unhealthy"
    )
    assert "No managed instance found" in error.message
    assert (await health(world))[first] == ("InService", "HEALTHY")


async def test_authorised_on_the_instances_group(world: World) -> None:
    _, [first] = await started(world, desired=1)
    await world.identity.create_user(world.tenant_id, "ops")
    prefix = f"arn:aws:autoscaling:eu-fr-1:{world.tenant_id}:autoScalingGroup:*"
    await world.identity.put_user_policy(
        world.tenant_id,
        "ops",
        "health",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"autoscaling:SetInstanceHealth",'
        f'"Resource":"{prefix}:autoScalingGroupName/other"}}]}}',
    )
    key = await world.identity.create_access_key(world.tenant_id, "ops")
    ops = autoscaling_client(world.app, Credentials(key.key.access_key_id, key.secret_access_key))
    await refused(
        ops, "SetInstanceHealth", "AccessDenied", InstanceId=first, HealthStatus="Unhealthy"
    )
    await world.identity.put_user_policy(
        world.tenant_id,
        "ops",
        "health",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"autoscaling:SetInstanceHealth",'
        f'"Resource":"{prefix}:autoScalingGroupName/web"}}]}}',
    )
    await ops.call("SetInstanceHealth", InstanceId=first, HealthStatus="Unhealthy")
    assert (await health(world))[first] == ("InService", "UNHEALTHY")
