"""Auto Scaling traffic sources and attachment states (decision 0201) in process, through
botocore's ``autoscaling`` and ``elbv2`` models: AttachTrafficSources and
AttachLoadBalancerTargetGroups make one attachment, shown by DescribeTrafficSources,
DescribeLoadBalancerTargetGroups and DescribeAutoScalingGroups alike; the load balancers'
upkeep step (``sync_auto_scaling_groups``, with the wiring's :class:`TargetGroupHealth` port)
advances it Adding → Added → InService as its instances are registered and pass the target
group's health check, and a detached one stays Removing while they drain, then goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

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
from support.elbapp import REGION, ElbWorld, elb_world, refused


@dataclass
class Scene:
    world: ElbWorld
    scaling: AutoScalingService
    asg: Client
    template_id: str
    served: str  # a target group a listener of a load balancer forwards to
    idle: str  # one no load balancer uses
    registered: Registered

    async def upkeep(self) -> None:
        """The reconciler's round, then the load balancers' upkeep step."""
        await Reconciler(self.scaling, "gw-1", lease=timedelta(seconds=60)).run_once()
        await self.world.ec2.compute.settle()
        await sync_auto_scaling_groups(self.scaling, self.world.service, self.registered)

    async def states(self) -> tuple[dict[str, str], dict[str, str]]:
        """The attachments as DescribeTrafficSources and DescribeLoadBalancerTargetGroups
        show them (they must agree)."""
        sources = await self.asg.call("DescribeTrafficSources", AutoScalingGroupName="web")
        groups = await self.asg.call("DescribeLoadBalancerTargetGroups", AutoScalingGroupName="web")
        for source in sources["TrafficSources"]:
            assert source["Type"] == "elbv2"
            assert source["TrafficSource"] == source["Identifier"]
        one = {s["Identifier"]: s["State"] for s in sources["TrafficSources"]}
        other = {g["LoadBalancerTargetGroupARN"]: g["State"] for g in groups[
            "LoadBalancerTargetGroups"]}  # fmt: skip
        return one, other

    async def shown(self) -> tuple[list[str], list[dict[str, str]]]:
        group = (await self.asg.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
        return list(group["TargetGroupARNs"]), list(group["TrafficSources"])


@asynccontextmanager
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
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
        served = (await world.target_group())["TargetGroupArn"]
        idle = (await world.target_group("idle"))["TargetGroupArn"]
        lb = await world.load_balancer()
        await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": served}],
        )
        yield Scene(world, scaling, asg, template.template_id, served, idle, {})


async def test_the_states_advance_with_registration_and_health(tmp_path: Path) -> None:
    async with scene(tmp_path) as s:
        await s.asg.call(
            "CreateAutoScalingGroup",
            AutoScalingGroupName="web",
            LaunchTemplate={"LaunchTemplateId": s.template_id, "Version": "$Latest"},
            MinSize=2,
            MaxSize=2,
            VPCZoneIdentifier=s.world.subnets[0],
        )
        await s.upkeep()
        # Attached as a traffic source (no Type: a target group's ARN says elbv2).
        await s.asg.call(
            "AttachTrafficSources",
            AutoScalingGroupName="web",
            TrafficSources=[{"Identifier": s.served}],
        )
        assert await s.states() == ({s.served: "Adding"}, {s.served: "Adding"})
        assert await s.shown() == ([s.served], [{"Identifier": s.served, "Type": "elbv2"}])
        # The adapter's view before the upkeep registered anything: no target yet.
        port = TargetGroupHealth(s.world.service)
        assert await port.targets(s.world.tenant_id, s.served) == {}
        await sync_auto_scaling_groups(s.scaling, s.world.service, s.registered)
        members = await s.scaling.fleet.members(s.world.tenant_id, "web")
        assert await port.targets(s.world.tenant_id, s.served) == {
            m.instance_id: "initial" for m in members
        }
        # Every instance registered, none passed its check yet: Added.
        assert await s.states() == ({s.served: "Added"}, {s.served: "Added"})
        first = members[0].instance_id
        for probe in await s.world.service.probes():
            if probe.target_id == first:
                for _ in range(5):  # the healthy threshold
                    await s.world.service.record_probe(probe, True, timed_out=False)
        await s.upkeep()
        assert await s.states() == ({s.served: "InService"}, {s.served: "InService"})
        # The other API's attachment is the same one; the idle target group (no load
        # balancer: its targets ``unused``) goes no further than Added.
        await s.asg.call(
            "AttachLoadBalancerTargetGroups", AutoScalingGroupName="web", TargetGroupARNs=[s.idle]
        )
        await s.upkeep()
        assert await s.states() == ({s.served: "InService", s.idle: "Added"},) * 2
        # Detached: Removing while its instances drain (300 s by default), then gone.
        await s.asg.call(
            "DetachTrafficSources",
            AutoScalingGroupName="web",
            TrafficSources=[{"Identifier": s.served, "Type": "elbv2"}],
        )
        assert await s.shown() == ([s.idle], [{"Identifier": s.idle, "Type": "elbv2"}])
        await s.upkeep()
        assert await s.states() == ({s.served: "Removing", s.idle: "Added"},) * 2
        health = await s.world.client.call("DescribeTargetHealth", TargetGroupArn=s.served)
        assert {d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]} == {
            "draining"
        }
        # Attached again while Removing: Adding once more (its instances are registered anew).
        await s.asg.call(
            "AttachLoadBalancerTargetGroups",
            AutoScalingGroupName="web",
            TargetGroupARNs=[s.served],
        )
        assert (await s.states())[0][s.served] == "Adding"
        await s.asg.call(
            "DetachLoadBalancerTargetGroups",
            AutoScalingGroupName="web",
            TargetGroupARNs=[s.served],
        )
        s.world.clock.advance(301)
        await s.upkeep()
        assert await s.states() == ({s.idle: "Added"},) * 2
        # A target group deleted under a Removing attachment ends it too.
        await s.asg.call(
            "DetachTrafficSources",
            AutoScalingGroupName="web",
            TrafficSources=[{"Identifier": s.idle}],
        )
        await s.world.client.call("DeleteTargetGroup", TargetGroupArn=s.idle)
        assert await port.targets(s.world.tenant_id, s.idle) is None
        await s.upkeep()
        assert await s.states() == ({}, {})


async def test_creation_attaches_in_service_and_the_refusals(tmp_path: Path) -> None:
    async with scene(tmp_path) as s:
        await s.asg.call(
            "CreateAutoScalingGroup",
            AutoScalingGroupName="web",
            LaunchTemplate={"LaunchTemplateId": s.template_id, "Version": "$Latest"},
            MinSize=0,
            MaxSize=2,
            VPCZoneIdentifier=s.world.subnets[0],
            TargetGroupARNs=[s.served],
            TrafficSources=[{"Identifier": s.idle, "Type": "elbv2"}],
        )
        # AWS's reference: attached by CreateAutoScalingGroup, InService at once.
        assert await s.states() == ({s.served: "InService", s.idle: "InService"},) * 2
        page = await s.asg.call("DescribeTrafficSources", AutoScalingGroupName="web", MaxRecords=1)
        rest = await s.asg.call(
            "DescribeTrafficSources", AutoScalingGroupName="web", NextToken=page["NextToken"]
        )
        listed = [t["Identifier"] for t in (*page["TrafficSources"], *rest["TrafficSources"])]
        assert sorted(listed) == sorted([s.served, s.idle]) and "NextToken" not in rest
        for kind, count in (("elbv2", 2), ("elb", 0), ("vpc-lattice", 0)):
            answer = await s.asg.call(
                "DescribeTrafficSources", AutoScalingGroupName="web", TrafficSourceType=kind
            )
            assert len(answer["TrafficSources"]) == count
        await refused(
            s.asg, "DescribeTrafficSources", "ValidationError",
            AutoScalingGroupName="web", TrafficSourceType="alb",
        )  # fmt: skip
        await refused(
            s.asg, "DescribeTrafficSources", "ValidationError",
            AutoScalingGroupName="web", MaxRecords=51,
        )  # fmt: skip
        await refused(
            s.asg, "DescribeTrafficSources", "ValidationError", AutoScalingGroupName="nope"
        )
        other_account = s.served.replace(f":{s.world.tenant_id}:", ":111122223333:")
        for source in (
            {"Identifier": "my-classic-load-balancer"},  # a Classic Load Balancer's name
            {"Identifier": "my-classic-load-balancer", "Type": "elb"},
            {"Identifier": s.served, "Type": "vpc-lattice"},
            {"Identifier": s.served, "Type": "alb"},
            {"Identifier": other_account, "Type": "elbv2"},
            {"Identifier": "arn:aws:s3:::bucket"},
        ):
            await refused(
                s.asg, "AttachTrafficSources", "ValidationError",
                AutoScalingGroupName="web", TrafficSources=[source],
            )  # fmt: skip
        await refused(
            s.asg, "AttachTrafficSources", "ValidationError",
            AutoScalingGroupName="web", TrafficSources=[{"Identifier": s.served}] * 11,
        )  # fmt: skip
        await refused(
            s.asg, "AttachTrafficSources", "ValidationError",
            AutoScalingGroupName="nope", TrafficSources=[{"Identifier": s.served}],
        )  # fmt: skip
        # Nothing of the refused calls was attached.
        assert await s.states() == ({s.served: "InService", s.idle: "InService"},) * 2
