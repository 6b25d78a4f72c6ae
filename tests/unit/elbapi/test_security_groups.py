"""Security groups on Network Load Balancers (decision 0191, session 49) in process, through
botocore's ``elbv2`` model: CreateLoadBalancer's ``SecurityGroups``, SetSecurityGroups with
``EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic``, DescribeLoadBalancers'
``SecurityGroups``; AWS's refusals (none given at creation: none later; never down to none);
and the groups' ingress the routers are handed."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.compute.driver_network import FirewallRule
from andromede.loadbalancing.core import LbLimits
from support.ec2app import ApiError
from support.elbapp import ElbWorld, elb_world, refused


async def _group(world: ElbWorld, name: str, cidr: str | None = None, vpc: str = "") -> str:
    made = await world.ec2.root.call(
        "CreateSecurityGroup", GroupName=name, Description=name, VpcId=vpc or world.vpc_id
    )
    group_id = str(made["GroupId"])
    if cidr is not None:
        await world.ec2.root.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=group_id,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 90,
                 "IpRanges": [{"CidrIp": cidr}]},
            ],
        )  # fmt: skip
    return group_id


async def _node_groups(world: ElbWorld) -> set[str]:
    found = await world.ec2.root.call("DescribeNetworkInterfaces")
    (node,) = [i for i in found["NetworkInterfaces"] if i["Description"].startswith("ELB net/")]
    return {g["GroupId"] for g in node["Groups"]}


async def test_groups_given_at_creation_are_shown_and_replaced(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        first = await _group(world, "nlb-a", "10.20.0.0/24")
        second = await _group(world, "nlb-b", "192.168.7.0/24")
        lb = await world.load_balancer(SecurityGroups=[first])
        assert lb["SecurityGroups"] == [first]
        assert lb["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "on"
        arn = lb["LoadBalancerArn"]
        answer = await world.client.call(
            "SetSecurityGroups",
            LoadBalancerArn=arn,
            SecurityGroups=[first, second],
            EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic="off",
        )
        assert answer["SecurityGroupIds"] == [first, second]
        assert answer["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
        found = (await world.client.call("DescribeLoadBalancers", LoadBalancerArns=[arn]))[
            "LoadBalancers"
        ][0]
        assert found["SecurityGroups"] == [first, second]
        assert found["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
        # The node's interface holds them: EC2 refuses to delete a group an NLB has, as AWS.
        assert await _node_groups(world) == {first, second}
        with pytest.raises(ApiError) as held:
            await world.ec2.root.call("DeleteSecurityGroup", GroupId=second)
        assert held.value.code == "DependencyViolation"
        await world.client.call("SetSecurityGroups", LoadBalancerArn=arn, SecurityGroups=[first])
        assert await _node_groups(world) == {first}
        await world.ec2.root.call("DeleteSecurityGroup", GroupId=second)  # no longer held
        third = await _group(world, "nlb-c", "192.168.7.0/24")
        await world.client.call(
            "SetSecurityGroups", LoadBalancerArn=arn, SecurityGroups=[first, third]
        )
        # Never down to none, as AWS's NLBs.
        error = await refused(
            world.client,
            "SetSecurityGroups",
            "InvalidConfigurationRequest",
            LoadBalancerArn=arn,
            SecurityGroups=[],
        )
        assert "created with security groups" in error.message
        await refused(
            world.client,
            "SetSecurityGroups",
            "ValidationError",
            LoadBalancerArn=arn,
            SecurityGroups=[first],
            EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic="maybe",
        )
        # The routers are handed the groups' ingress with each listener.
        group = await world.target_group()
        await world.client.call(
            "CreateListener",
            LoadBalancerArn=arn,
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )
        (view,) = await world.service.forwarding_views()
        assert view.allowed is not None
        assert {c for _, _, _, c in view.allowed} == {"10.20.0.0/24", "192.168.7.0/24"}
        assert view.lb_dimension == f"net/web/{arn.rsplit('/', 1)[1]}"


async def test_a_load_balancer_created_without_groups_gets_none_later(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        group = await _group(world, "late")
        lb = await world.load_balancer()
        assert "SecurityGroups" not in lb
        error = await refused(
            world.client,
            "SetSecurityGroups",
            "InvalidConfigurationRequest",
            LoadBalancerArn=lb["LoadBalancerArn"],
            SecurityGroups=[group],
        )
        assert "created without any security groups" in error.message
        group_tg = await world.target_group()
        await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group_tg["TargetGroupArn"]}],
        )
        (view,) = await world.service.forwarding_views()
        assert view.allowed is None  # no groups: every client reaches it


async def test_groups_must_be_the_accounts_in_the_vpc_and_few(tmp_path: Path) -> None:
    async with elb_world(tmp_path, limits=LbLimits(max_security_groups=2)) as world:
        other_vpc = (await world.ec2.root.call("CreateVpc", CidrBlock="10.30.0.0/16"))["Vpc"]
        elsewhere = await _group(world, "elsewhere", vpc=other_vpc["VpcId"])
        await refused(
            world.client,
            "CreateLoadBalancer",
            "InvalidSecurityGroup",
            Name="web",
            Type="network",
            Scheme="internal",
            Subnets=world.subnets[:1],
            SecurityGroups=[elsewhere],
        )
        groups = [await _group(world, f"g{i}") for i in range(3)]
        await refused(
            world.client,
            "CreateLoadBalancer",
            "ValidationError",
            Name="web",
            Type="network",
            Scheme="internal",
            Subnets=world.subnets[:1],
            SecurityGroups=groups,
        )
        lb = await world.load_balancer(SecurityGroups=groups[:1])
        await refused(
            world.client,
            "SetSecurityGroups",
            "InvalidSecurityGroup",
            LoadBalancerArn=lb["LoadBalancerArn"],
            SecurityGroups=["sg-0123456789abcdef0"],
        )


async def test_a_target_s_rule_naming_the_load_balancer_s_group_admits_its_nodes(
    tmp_path: Path,
) -> None:
    """Session 50: AWS's recommended pattern — a target's group admits the load balancer's
    group — becomes a rule on the node's address in the target's firewall, which the routers
    also match against what that node translated (``ct mark``, the client's address kept)."""
    async with elb_world(tmp_path) as world:
        nlb_group = await _group(world, "nlb", "10.0.0.0/16")
        targets = await _group(world, "targets")
        await world.ec2.root.call(
            "AuthorizeSecurityGroupIngress",
            GroupId=targets,
            IpPermissions=[
                {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                 "UserIdGroupPairs": [{"GroupId": nlb_group}]},
            ],
        )  # fmt: skip
        lb = await world.load_balancer(SecurityGroups=[nlb_group])
        (node,) = [
            a["PrivateIPv4Address"]
            for z in lb["AvailabilityZones"]
            for a in z["LoadBalancerAddresses"]
        ]
        target = await world.instance()
        await world.ec2.root.call("ModifyInstanceAttribute", InstanceId=target, Groups=[targets])
        await world.ec2.compute.settle()
        firewall = world.ec2.driver.instances[target].firewall
        assert FirewallRule("udp", 53, 53, f"{node}/32") in firewall.ingress
        # Without the load balancer, its group has no member: the rule admits nothing.
        await world.client.call("DeleteLoadBalancer", LoadBalancerArn=lb["LoadBalancerArn"])
        await world.ec2.compute.resync_hosts()
        assert all(r.protocol != "udp" for r in world.ec2.driver.instances[target].firewall.ingress)
