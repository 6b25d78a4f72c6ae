"""ELBv2's load balancer, listener, tag and attribute calls in process (decision 0191),
through botocore's ``elbv2`` model: what boto3 sends is understood and what is answered
parses, with AWS's codes for each refusal."""

from __future__ import annotations

from pathlib import Path

from andromede.loadbalancing.core import LbLimits
from support.elbapp import elb_world, refused


async def test_create_describe_delete_an_internal_network_load_balancer(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb = await world.load_balancer(Tags=[{"Key": "team", "Value": "web"}])
        arn = lb["LoadBalancerArn"]
        assert arn.startswith(
            f"arn:aws:elasticloadbalancing:eu-fr-1:{world.tenant_id}:loadbalancer/net/web/"
        )
        assert lb["Type"] == "network" and lb["Scheme"] == "internal"
        assert lb["VpcId"] == world.vpc_id
        assert lb["State"]["Code"] == "provisioning"
        assert lb["DNSName"].startswith("web-") and lb["DNSName"].endswith(
            ".elb.eu-fr-1.example.test"
        )
        zones = {z["SubnetId"]: z for z in lb["AvailabilityZones"]}
        assert set(zones) == {world.subnets[0]}
        assert zones[world.subnets[0]]["ZoneName"] == "eu-fr-1a"
        address = zones[world.subnets[0]]["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
        assert address.startswith("10.20.0.")
        # The node's address is held by a requester-managed interface of the subnet.
        interfaces = await world.ec2.root.call("DescribeNetworkInterfaces")
        held = {i["PrivateIpAddress"]: i for i in interfaces["NetworkInterfaces"]}
        assert held[address]["Description"].startswith("ELB net/web/")
        world.clock.advance(10)
        found = await world.client.call("DescribeLoadBalancers", Names=["web"])
        assert found["LoadBalancers"][0]["State"]["Code"] == "active"
        # The same call again answers the same load balancer (ELBv2's idempotent create).
        again = await world.load_balancer()
        assert again["LoadBalancerArn"] == arn
        tags = await world.client.call("DescribeTags", ResourceArns=[arn])
        assert tags["TagDescriptions"][0]["Tags"] == [{"Key": "team", "Value": "web"}]
        await world.client.call("DeleteLoadBalancer", LoadBalancerArn=arn)
        await refused(world.client, "DescribeLoadBalancers", "LoadBalancerNotFound", Names=["web"])
        interfaces = await world.ec2.root.call("DescribeNetworkInterfaces")
        assert address not in {i["PrivateIpAddress"] for i in interfaces["NetworkInterfaces"]}
        # Each mutating call is in the account's audit log.
        await world.audit.flush()
        listed = await world.audit_store.list_events(None, after_id=0, limit=99)
        actions = {e.action for _, e in listed}
        assert {"elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:DeleteLoadBalancer"} <= actions  # fmt: skip


async def test_subnet_mappings_take_the_address_asked(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb = await world.load_balancer(
            Subnets=[],
            SubnetMappings=[{"SubnetId": world.subnets[1], "PrivateIPv4Address": "10.20.1.77"}],
        )
        zone = lb["AvailabilityZones"][0]
        assert zone["LoadBalancerAddresses"][0]["PrivateIPv4Address"] == "10.20.1.77"
        await refused(
            world.client,
            "CreateLoadBalancer",
            "InvalidConfigurationRequest",
            Name="other",
            Type="network",
            Scheme="internal",
            SubnetMappings=[{"SubnetId": world.subnets[0], "PrivateIPv4Address": "10.20.1.78"}],
        )


async def test_refusals_in_elbv2_words(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        error = await refused(
            world.client,
            "CreateLoadBalancer",
            "InvalidConfigurationRequest",
            Name="web",
            Type="network",
            Subnets=world.subnets,
        )
        assert "Internet-facing" in error.message
        await refused(
            world.client,
            "CreateLoadBalancer",
            "InvalidConfigurationRequest",
            Name="web",
            Scheme="internal",
            Subnets=world.subnets,
        )  # an application load balancer on two subnets of one zone (decision 0216)
        await refused(
            world.client,
            "CreateLoadBalancer",
            "InvalidConfigurationRequest",
            Name="web",
            Type="network",
            Scheme="internal",
            Subnets=world.subnets,
        )  # two subnets of one zone
        await refused(
            world.client,
            "CreateLoadBalancer",
            "ValidationError",
            Name="-web",
            Type="network",
            Scheme="internal",
            Subnets=world.subnets,
        )
        await refused(
            world.client,
            "CreateLoadBalancer",
            "SubnetNotFound",
            Name="web",
            Type="network",
            Scheme="internal",
            Subnets=["subnet-0123456789abcdef0"],
        )
        await refused(
            world.client,
            "CreateLoadBalancer",
            "InvalidSecurityGroup",
            Name="web",
            Type="network",
            Scheme="internal",
            Subnets=world.subnets[:1],
            SecurityGroups=["sg-0123456789abcdef0"],
        )
        await refused(
            world.client,
            "DeleteLoadBalancer",
            "LoadBalancerNotFound",
            LoadBalancerArn=(
                f"arn:aws:elasticloadbalancing:eu-fr-1:{world.tenant_id}:loadbalancer/net/x/"
                "0123456789abcdef"
            ),
        )
        await refused(world.client, "DeleteLoadBalancer", "ValidationError", LoadBalancerArn="x")
        await refused(
            world.client,
            "DescribeLoadBalancers",
            "ValidationError",
            Marker="bm90IG91cnM=",
        )


async def test_pages_and_the_load_balancer_limit(tmp_path: Path) -> None:
    async with elb_world(tmp_path, limits=LbLimits(max_load_balancers=3)) as world:
        for name in ("a", "b", "c"):
            await world.load_balancer(name, Subnets=[world.subnets[0]])
        await refused(
            world.client,
            "CreateLoadBalancer",
            "TooManyLoadBalancers",
            Name="d",
            Type="network",
            Scheme="internal",
            Subnets=[world.subnets[0]],
        )
        first = await world.client.call("DescribeLoadBalancers", PageSize=2)
        assert [lb["LoadBalancerName"] for lb in first["LoadBalancers"]] == ["a", "b"]
        rest = await world.client.call(
            "DescribeLoadBalancers", PageSize=2, Marker=first["NextMarker"]
        )
        assert [lb["LoadBalancerName"] for lb in rest["LoadBalancers"]] == ["c"]
        assert "NextMarker" not in rest


async def test_listeners_forward_to_one_target_group(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb = await world.load_balancer()
        group = await world.target_group()
        action = [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]
        made = await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=[{**action[0], "Order": 1}],  # as Terraform's provider sends it
        )
        listener = made["Listeners"][0]
        assert listener["Port"] == 80 and listener["Protocol"] == "TCP"
        assert listener["DefaultActions"][0]["TargetGroupArn"] == group["TargetGroupArn"]
        await refused(
            world.client,
            "CreateListener",
            "DuplicateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=action,
        )
        await refused(
            world.client,
            "CreateListener",
            "InvalidConfigurationRequest",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="UDP",
            Port=53,
            DefaultActions=action,
        )
        # The group now names its load balancer, and cannot go while the listener uses it.
        groups = await world.client.call("DescribeTargetGroups")
        assert groups["TargetGroups"][0]["LoadBalancerArns"] == [lb["LoadBalancerArn"]]
        await refused(
            world.client,
            "DeleteTargetGroup",
            "ResourceInUse",
            TargetGroupArn=group["TargetGroupArn"],
        )
        # An NLB's target group serves one load balancer.
        other = await world.load_balancer("other", Subnets=[world.subnets[1]])
        await refused(
            world.client,
            "CreateListener",
            "TargetGroupAssociationLimit",
            LoadBalancerArn=other["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=action,
        )
        arn = listener["ListenerArn"]
        shown = await world.client.call("DescribeListenerAttributes", ListenerArn=arn)
        assert shown["Attributes"] == [{"Key": "tcp.idle_timeout.seconds", "Value": "350"}]
        await world.client.call(
            "ModifyListenerAttributes",
            ListenerArn=arn,
            Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "600"}],
        )
        shown = await world.client.call("DescribeListenerAttributes", ListenerArn=arn)
        assert shown["Attributes"] == [{"Key": "tcp.idle_timeout.seconds", "Value": "600"}]
        await refused(
            world.client, "ModifyListenerAttributes", "ValidationError", ListenerArn=arn,
            Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "59"}],
        )  # fmt: skip
        described = await world.client.call(
            "DescribeListeners", LoadBalancerArn=lb["LoadBalancerArn"]
        )
        assert [x["ListenerArn"] for x in described["Listeners"]] == [listener["ListenerArn"]]
        await world.client.call("DeleteListener", ListenerArn=listener["ListenerArn"])
        await refused(
            world.client, "DescribeListeners", "ListenerNotFound",
            ListenerArns=[listener["ListenerArn"]],
        )  # fmt: skip
        groups = await world.client.call("DescribeTargetGroups")
        assert groups["TargetGroups"][0]["LoadBalancerArns"] == []
        await world.client.call("DeleteTargetGroup", TargetGroupArn=group["TargetGroupArn"])


async def test_tags_and_load_balancer_attributes(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        arn = (await world.load_balancer())["LoadBalancerArn"]
        await world.client.call(
            "AddTags", ResourceArns=[arn], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b"}]
        )
        await world.client.call("RemoveTags", ResourceArns=[arn], TagKeys=["a"])
        tags = await world.client.call("DescribeTags", ResourceArns=[arn])
        assert tags["TagDescriptions"][0]["Tags"] == [{"Key": "b", "Value": ""}]
        await refused(
            world.client, "AddTags", "ValidationError", ResourceArns=[arn],
            Tags=[{"Key": "aws:x", "Value": "1"}],
        )  # fmt: skip
        shown = await world.client.call("DescribeLoadBalancerAttributes", LoadBalancerArn=arn)
        held = {a["Key"]: a["Value"] for a in shown["Attributes"]}
        assert held["deletion_protection.enabled"] == "false"
        await world.client.call(
            "ModifyLoadBalancerAttributes",
            LoadBalancerArn=arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
        )
        await refused(
            world.client, "DeleteLoadBalancer", "OperationNotPermitted", LoadBalancerArn=arn
        )
        await refused(
            world.client, "ModifyLoadBalancerAttributes", "ValidationError", LoadBalancerArn=arn,
            Attributes=[{"Key": "no.such.key", "Value": "true"}],
        )  # fmt: skip
        await refused(  # decision 0269: access logs on need their bucket
            world.client, "ModifyLoadBalancerAttributes", "ValidationError",
            LoadBalancerArn=arn, Attributes=[{"Key": "access_logs.s3.enabled", "Value": "true"}],
        )  # fmt: skip
        await world.client.call(
            "ModifyLoadBalancerAttributes",
            LoadBalancerArn=arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
        )
        await world.client.call("DeleteLoadBalancer", LoadBalancerArn=arn)


def test_the_limits_are_settings() -> None:
    """Each ELB limit is a setting with AWS's default, refused out of its bounds."""
    import pydantic

    from andromede.settings import Settings
    from andromede.wiring.loadbalancing import load_balancing_service

    settings = Settings(data_dir=Path("/tmp/j48-unused"))
    assert settings.elb_max_load_balancers_per_tenant == 50
    assert settings.elb_max_target_groups_per_tenant == 3000
    assert settings.elb_dns_domain == "amazonaws.com"
    assert settings.elb_upkeep_interval == 5.0
    tuned = Settings(
        data_dir=Path("/tmp/j48-unused"),
        elb_max_listeners_per_load_balancer=3,
        elb_max_targets_per_target_group=7,
        elb_dns_domain="Cloud.Example.",
    )
    assert tuned.elb_dns_domain == "cloud.example"
    service = load_balancing_service(tuned, None, None)  # type: ignore[arg-type]
    assert (service.limits.max_listeners, service.limits.max_targets) == (3, 7)
    for bad in ({"elb_max_tags": 0}, {"elb_dns_domain": "-bad-"}, {"elb_upkeep_interval": 0}):
        try:
            Settings(data_dir=Path("/tmp/j48-unused"), **bad)  # type: ignore[arg-type]
        except pydantic.ValidationError:
            continue
        raise AssertionError(f"{bad} accepted")
