"""Auto Scaling groups in front of target groups (decision 0191): ``TargetGroupARNs`` on
CreateAutoScalingGroup, AttachLoadBalancerTargetGroups, DetachLoadBalancerTargetGroups and
DescribeLoadBalancerTargetGroups through botocore's ``autoscaling`` model; the load
balancers' upkeep registers the group's running instances in each target group and
deregisters them when the group lets go of it."""

from __future__ import annotations

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
from support.elbapp import REGION, elb_world, refused


async def test_a_groups_instances_follow_its_target_groups(tmp_path: Path) -> None:
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
        other = (await world.target_group("other"))["TargetGroupArn"]
        await asg.call(
            "CreateAutoScalingGroup",
            AutoScalingGroupName="web",
            LaunchTemplate={"LaunchTemplateId": template.template_id, "Version": "$Latest"},
            MinSize=2,
            MaxSize=2,
            VPCZoneIdentifier=world.subnets[0],
            TargetGroupARNs=[arn],
        )
        group = (await asg.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
        assert group["TargetGroupARNs"] == [arn]
        await Reconciler(scaling, "gw-1", lease=timedelta(seconds=60)).run_once()
        await compute.settle()
        registered: Registered = {}
        await sync_auto_scaling_groups(scaling, world.service, registered)
        members = {i["InstanceId"] for i in (await asg.call("DescribeAutoScalingInstances"))[
            "AutoScalingInstances"]}  # fmt: skip
        assert len(members) == 2
        health = await world.client.call("DescribeTargetHealth", TargetGroupArn=arn)
        assert {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]} == members
        await asg.call(
            "AttachLoadBalancerTargetGroups", AutoScalingGroupName="web", TargetGroupARNs=[other]
        )
        await asg.call(
            "DetachLoadBalancerTargetGroups", AutoScalingGroupName="web", TargetGroupARNs=[arn]
        )
        # Decision 0201: the detached one Removing until its instances are deregistered.
        shown = await asg.call("DescribeLoadBalancerTargetGroups", AutoScalingGroupName="web")
        assert {
            g["LoadBalancerTargetGroupARN"]: g["State"] for g in shown["LoadBalancerTargetGroups"]
        } == {other: "Adding", arn: "Removing"}
        assert (await asg.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0][
            "TargetGroupARNs"] == [other]  # fmt: skip
        await sync_auto_scaling_groups(scaling, world.service, registered)
        # No load balancer uses them: deregistered at once, registered ``unused`` (Added).
        shown = await asg.call("DescribeLoadBalancerTargetGroups", AutoScalingGroupName="web")
        assert [(g["LoadBalancerTargetGroupARN"], g["State"]) for g in shown[
            "LoadBalancerTargetGroups"]] == [(other, "Added")]  # fmt: skip
        health = await world.client.call("DescribeTargetHealth", TargetGroupArn=arn)
        assert health["TargetHealthDescriptions"] == []
        health = await world.client.call("DescribeTargetHealth", TargetGroupArn=other)
        assert {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]} == members
        await refused(
            asg, "AttachLoadBalancerTargetGroups", "ValidationError",
            AutoScalingGroupName="web", TargetGroupARNs=["arn:aws:s3:::bucket"],
        )  # fmt: skip
