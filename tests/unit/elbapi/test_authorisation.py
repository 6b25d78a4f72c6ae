"""ELBv2 calls authorised and kept to their account (decision 0191): a policy naming
``elasticloadbalancing:Describe*`` lets a user read and nothing more, one naming a load
balancer's ARN lets its deletion and no other's; another account's ARNs are not found."""

from __future__ import annotations

import json
from pathlib import Path

from botocore.credentials import Credentials

from support.elbapp import ElbClient, ElbWorld, elb_world, refused


async def _user(world: ElbWorld, name: str, statement: dict[str, object]) -> ElbClient:
    await world.ec2.identity.create_user(world.tenant_id, name)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}
    await world.ec2.identity.put_user_policy(world.tenant_id, name, "p", json.dumps(policy))
    key = await world.ec2.identity.create_access_key(world.tenant_id, name)
    return ElbClient(world.app, Credentials(key.key.access_key_id, key.secret_access_key))


async def test_policies_decide_on_the_resources_arn(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        web = (await world.load_balancer("web"))["LoadBalancerArn"]
        api = (await world.load_balancer("api", Subnets=[world.subnets[1]]))["LoadBalancerArn"]
        reader = await _user(
            world, "reader", {"Action": "elasticloadbalancing:Describe*", "Resource": "*"}
        )
        assert len((await reader.call("DescribeLoadBalancers"))["LoadBalancers"]) == 2
        await refused(reader, "DeleteLoadBalancer", "AccessDenied", LoadBalancerArn=web)
        await refused(reader, "CreateTargetGroup", "AccessDenied", Name="x", Protocol="TCP",
                      Port=80, VpcId=world.vpc_id)  # fmt: skip
        deleter = await _user(
            world, "deleter", {"Action": "elasticloadbalancing:DeleteLoadBalancer", "Resource": web}
        )
        await refused(deleter, "DeleteLoadBalancer", "AccessDenied", LoadBalancerArn=api)
        await deleter.call("DeleteLoadBalancer", LoadBalancerArn=web)


async def test_another_accounts_arns_are_not_found(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb = (await world.load_balancer())["LoadBalancerArn"]
        group = (await world.target_group())["TargetGroupArn"]
        created = await world.ec2.identity.create_tenant("other")
        other = ElbClient(world.app, Credentials(created.access_key_id, created.secret_access_key))
        await refused(other, "DescribeLoadBalancers", "LoadBalancerNotFound", LoadBalancerArns=[lb])
        await refused(other, "DeleteLoadBalancer", "LoadBalancerNotFound", LoadBalancerArn=lb)
        await refused(other, "RegisterTargets", "TargetGroupNotFound", TargetGroupArn=group,
                      Targets=[{"Id": "10.20.0.9"}])  # fmt: skip
        await refused(other, "DescribeTags", "LoadBalancerNotFound", ResourceArns=[lb])
        assert (await other.call("DescribeLoadBalancers"))["LoadBalancers"] == []
        assert (await world.client.call("DescribeLoadBalancers", LoadBalancerArns=[lb]))[
            "LoadBalancers"
        ]
