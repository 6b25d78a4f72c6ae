"""An Application Load Balancer made without SecurityGroups is in its VPC's ``default``
group, as AWS's is (decision 0274: Terraform's ``aws_lb`` without ``security_groups`` was
refused): described with it, its nodes' interfaces in it."""

from __future__ import annotations

from pathlib import Path

from support.elbapp import elb_world


async def test_an_alb_without_groups_is_in_the_vpcs_default_group(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        groups = await world.ec2.root.call(
            "DescribeSecurityGroups",
            Filters=[
                {"Name": "vpc-id", "Values": [world.vpc_id]},
                {"Name": "group-name", "Values": ["default"]},
            ],
        )
        (default,) = [g["GroupId"] for g in groups["SecurityGroups"]]
        lb = await world.load_balancer("bare", Type="application", Subnets=world.subnets[:1])
        assert lb["SecurityGroups"] == [default]
        shown = await world.client.call(
            "DescribeLoadBalancers", LoadBalancerArns=[lb["LoadBalancerArn"]]
        )
        assert shown["LoadBalancers"][0]["SecurityGroups"] == [default]
        interfaces = await world.ec2.root.call(
            "DescribeNetworkInterfaces",
            Filters=[{"Name": "description", "Values": ["ELB app/bare/*"]}],
        )
        assert [[g["GroupId"] for g in i["Groups"]] for i in interfaces["NetworkInterfaces"]] == [
            [default]
        ]
