"""Auto Scaling's ``ELB`` health checks (decision 0198) in process: a group of two instances
in front of a target group a listener uses, the load balancers' upkeep registering them, the
target group's probes recorded through the service; the reconciler (with the wiring's
:class:`TargetGroupHealth` port) replaces the instance its target group reports unhealthy —
not one ``initial``, nor one within the grace period — and, with ReplaceUnhealthy
suspended, shows it InService and Unhealthy, as AWS's DescribeAutoScalingGroups and
DescribeAutoScalingInstances do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from andromede.autoscaling.reconciler import Reconciler
from andromede.autoscaling.service import AutoScalingService, ScalingLimits
from andromede.autoscaling.store import MemoryGroupStore
from andromede.autoscaling_adapters import ComputeFleet, TargetGroupHealth
from andromede.iamapi.app import QueryApp
from andromede.iamapi.autoscaling import autoscaling_spec
from andromede.settings import Settings
from andromede.wiring.loadbalancing import Registered, sync_auto_scaling_groups
from support.autoscalingapp import autoscaling_client
from support.ec2app import Client
from support.elbapp import REGION, ElbWorld, elb_world


@dataclass
class Scene:
    world: ElbWorld
    scaling: AutoScalingService
    asg: Client
    arn: str
    registered: Registered

    async def converge(self) -> None:
        await Reconciler(self.scaling, "gw-1", lease=timedelta(seconds=60)).run_once()
        await self.world.ec2.compute.settle()
        await sync_auto_scaling_groups(self.scaling, self.world.service, self.registered)

    async def fail(self, instance_id: str) -> None:
        """The target group's probes of ``instance_id`` fail past the unhealthy threshold."""
        for probe in await self.world.service.probes():
            if probe.target_id == instance_id:
                for _ in range(2):
                    await self.world.service.record_probe(probe, False, timed_out=False)

    async def instances(self) -> dict[str, dict[str, Any]]:
        shown = (await self.asg.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
        return {i["InstanceId"]: i for i in shown["Instances"]}

    async def activities(self) -> list[str]:
        answer = await self.asg.call("DescribeScalingActivities", AutoScalingGroupName="web")
        return [str(a["Cause"]) for a in answer["Activities"]]


@asynccontextmanager
async def scene(tmp_path: Path, **group: Any) -> AsyncIterator[Scene]:
    async with elb_world(tmp_path) as world:
        compute = world.ec2.compute
        scaling = AutoScalingService(
            MemoryGroupStore(), ComputeFleet(compute), ScalingLimits(max_groups_per_tenant=5)
        )
        scaling.target_health = TargetGroupHealth(world.service)
        settings = Settings(data_dir=tmp_path / "asg", region=REGION)
        app = QueryApp(autoscaling_spec(scaling, REGION), world.ec2.identity, world.audit, settings)
        asg = autoscaling_client(app, world.client.credentials)
        template, _ = await compute.create_launch_template(
            world.tenant_id,
            name="web",
            parameters=(("ImageId", world.ec2.image.image_id), ("InstanceType", "t3.nano")),
            created_by="test",
        )
        arn = (await world.target_group())["TargetGroupArn"]
        lb = await world.load_balancer()
        await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
        )
        await asg.call(
            "CreateAutoScalingGroup",
            AutoScalingGroupName="web",
            LaunchTemplate={"LaunchTemplateId": template.template_id, "Version": "$Latest"},
            MinSize=2,
            MaxSize=2,
            VPCZoneIdentifier=world.subnets[0],
            TargetGroupARNs=[arn],
            **{"HealthCheckType": "ELB", **group},
        )
        made = Scene(world, scaling, asg, arn, {})
        await made.converge()
        yield made


async def test_an_instance_its_target_group_finds_unhealthy_is_replaced(tmp_path: Path) -> None:
    async with scene(tmp_path) as s:
        group = (await s.asg.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
        assert group["HealthCheckType"] == "ELB"
        first, second = sorted(await s.instances())
        # Registered and still ``initial``: no verdict, nothing replaced.
        health = await s.world.client.call("DescribeTargetHealth", TargetGroupArn=s.arn)
        assert {d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]} == {
            "initial"
        }
        await s.converge()
        assert sorted(await s.instances()) == [first, second]
        await s.fail(first)
        await s.converge()
        now = await s.instances()
        assert first not in now or now[first]["LifecycleState"] == "Terminating"
        assert second in now and now[second]["HealthStatus"] == "Healthy"
        assert len([i for i in now.values() if i["LifecycleState"] != "Terminating"]) == 2
        assert any("ELB system health check failure" in c for c in await s.activities())
        # The replacement is registered, the unhealthy one leaves the target group.
        await s.converge()
        health = await s.world.client.call("DescribeTargetHealth", TargetGroupArn=s.arn)
        ids = {
            d["Target"]["Id"]
            for d in health["TargetHealthDescriptions"]
            if d["TargetHealth"]["State"] != "draining"
        }
        assert first not in ids and second in ids and len(ids) == 2


async def test_the_grace_period_and_the_ec2_type_keep_it(tmp_path: Path) -> None:
    async with scene(tmp_path, HealthCheckGracePeriod=3600) as s:
        first, _ = sorted(await s.instances())
        await s.fail(first)
        await s.converge()
        assert (await s.instances())[first]["HealthStatus"] == "Healthy"  # within its grace
        await s.asg.call(
            "UpdateAutoScalingGroup",
            AutoScalingGroupName="web",
            HealthCheckType="EC2",
            HealthCheckGracePeriod=0,
        )
        await s.converge()
        assert (await s.instances())[first]["HealthStatus"] == "Healthy"  # EC2's check only


async def test_replace_unhealthy_suspended_shows_it_unhealthy_in_service(tmp_path: Path) -> None:
    async with scene(tmp_path, HealthCheckType="EC2") as s:
        await s.asg.call(
            "UpdateAutoScalingGroup", AutoScalingGroupName="web", HealthCheckType="ELB"
        )
        await s.asg.call(
            "SuspendProcesses", AutoScalingGroupName="web", ScalingProcesses=["ReplaceUnhealthy"]
        )
        first, second = sorted(await s.instances())
        await s.fail(first)
        await s.converge()
        now = await s.instances()
        assert now[first]["LifecycleState"] == "InService"
        assert now[first]["HealthStatus"] == "Unhealthy"
        assert sorted(now) == [first, second]
        listed = (await s.asg.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
        assert {i["InstanceId"]: i["HealthStatus"] for i in listed}[first] == "UNHEALTHY"
        # Resumed: replaced at the next round.
        await s.asg.call(
            "ResumeProcesses", AutoScalingGroupName="web", ScalingProcesses=["ReplaceUnhealthy"]
        )
        await s.converge()
        now = await s.instances()
        assert first not in now or now[first]["LifecycleState"] == "Terminating"


async def test_the_port_reports_unhealthy_targets_only(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        port = TargetGroupHealth(world.service)
        arn = (await world.target_group())["TargetGroupArn"]
        lb = await world.load_balancer()
        await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
        )
        sick, fresh = await world.instance(), await world.instance()
        await world.client.call(
            "RegisterTargets", TargetGroupArn=arn, Targets=[{"Id": sick}, {"Id": fresh}]
        )
        for probe in await world.service.probes():
            if probe.target_id == sick:
                for _ in range(2):
                    await world.service.record_probe(probe, False, timed_out=True)
        gone = arn.replace(arn.rsplit("/", 1)[1], "0123456789abcdef")
        assert await port.unhealthy(world.tenant_id, [gone, arn], [sick, fresh]) == {sick}
        assert await port.unhealthy(world.tenant_id, [arn], [fresh]) == set()
        # Deregistered, it drains: no verdict any more.
        await world.client.call("DeregisterTargets", TargetGroupArn=arn, Targets=[{"Id": sick}])
        assert await port.unhealthy(world.tenant_id, [arn], [sick, fresh]) == set()
