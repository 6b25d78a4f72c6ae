"""ELBv2's target group calls in process (decision 0191): creation with the health check's
parameters (HTTP and HTTPS checks' path and matcher too, decision 0198; every field
changed by ModifyTargetGroup, validated as one check, session 49), registration of instance and
ip targets, DescribeTargetHealth's states and AWS's reason codes as probes come in, draining
for ``deregistration_delay.timeout_seconds``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from andromede.loadbalancing.core import LbLimits
from support.elbapp import ElbWorld, elb_world, refused


async def _health(world: ElbWorld, arn: str, **params: Any) -> dict[str, tuple[str, str]]:
    answer = await world.client.call("DescribeTargetHealth", TargetGroupArn=arn, **params)
    return {
        d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason", ""))
        for d in answer["TargetHealthDescriptions"]
    }


async def _probe(world: ElbWorld, ok: bool, *, timed_out: bool = False) -> None:
    for probe in await world.service.probes():
        await world.service.record_probe(probe, ok, timed_out=timed_out)


async def test_a_target_group_with_its_health_check(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        group = await world.target_group(
            HealthCheckIntervalSeconds=10,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=3,
            UnhealthyThresholdCount=2,
            HealthCheckPort="8080",
            Tags=[{"Key": "tier", "Value": "web"}],
        )
        assert group["TargetGroupArn"].startswith(
            f"arn:aws:elasticloadbalancing:eu-fr-1:{world.tenant_id}:targetgroup/web/"
        )
        assert (group["Protocol"], group["Port"], group["TargetType"]) == ("TCP", 80, "instance")
        assert group["HealthCheckProtocol"] == "TCP" and group["HealthCheckPort"] == "8080"
        assert (group["HealthCheckIntervalSeconds"], group["HealthyThresholdCount"]) == (10, 3)
        changed = await world.client.call(
            "ModifyTargetGroup",
            TargetGroupArn=group["TargetGroupArn"],
            HealthCheckPort="traffic-port",
            UnhealthyThresholdCount=4,
        )
        shown = changed["TargetGroups"][0]
        assert (shown["HealthCheckPort"], shown["UnhealthyThresholdCount"]) == ("traffic-port", 4)
        found = await world.client.call("DescribeTargetGroups", Names=["web"])
        assert found["TargetGroups"][0]["UnhealthyThresholdCount"] == 4
        await refused(world.client, "DescribeTargetGroups", "TargetGroupNotFound", Names=["x"])
        await refused(
            world.client, "ModifyTargetGroup", "ValidationError",
            TargetGroupArn=group["TargetGroupArn"], HealthCheckIntervalSeconds=4,
        )  # fmt: skip
        await refused(
            world.client, "ModifyTargetGroup", "InvalidConfigurationRequest",
            TargetGroupArn=group["TargetGroupArn"], HealthCheckProtocol="UDP",
        )  # fmt: skip
        await refused(world.client, "CreateTargetGroup", "DuplicateTargetGroupName",
                      Name="web", Protocol="TCP", Port=81, VpcId=world.vpc_id)  # fmt: skip
        # A Gateway Load Balancer's GENEVE groups are not here (HTTPS ones are: decision 0231).
        await refused(world.client, "CreateTargetGroup", "InvalidConfigurationRequest",
                      Name="gwlb", Protocol="GENEVE", Port=6081, VpcId=world.vpc_id)  # fmt: skip
        await refused(world.client, "CreateTargetGroup", "ValidationError", Name="novpc",
                      Protocol="TCP", Port=80, VpcId="vpc-0123456789abcdef0")  # fmt: skip
        await refused(world.client, "CreateTargetGroup", "InvalidConfigurationRequest",
                      Name="lambda", TargetType="lambda", Protocol="TCP", Port=80,
                      VpcId=world.vpc_id)  # fmt: skip
        await world.client.call("DeleteTargetGroup", TargetGroupArn=group["TargetGroupArn"])
        assert (await world.client.call("DescribeTargetGroups"))["TargetGroups"] == []


async def test_http_health_checks(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        group = await world.target_group(HealthCheckProtocol="HTTP")
        arn = group["TargetGroupArn"]
        # ELBv2's defaults for an NLB's HTTP check: "/", 200-399, a 6-second timeout.
        assert (group["HealthCheckProtocol"], group["HealthCheckPath"]) == ("HTTP", "/")
        assert (group["Matcher"]["HttpCode"], group["HealthCheckTimeoutSeconds"]) == ("200-399", 6)
        changed = await world.client.call(
            "ModifyTargetGroup", TargetGroupArn=arn, HealthCheckPath="/healthz",
            Matcher={"HttpCode": "200,202-204"},
        )  # fmt: skip
        shown = changed["TargetGroups"][0]
        assert (shown["HealthCheckPath"], shown["Matcher"]["HttpCode"]) == (
            "/healthz",
            "200,202-204",
        )
        # The probes are told the check.
        await world.load_balancer()
        lb = (await world.client.call("DescribeLoadBalancers"))["LoadBalancers"][0]
        await world.client.call(
            "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
        )  # fmt: skip
        instance = await world.instance()
        await world.client.call("RegisterTargets", TargetGroupArn=arn, Targets=[{"Id": instance}])
        [probe] = await world.service.probes()
        assert (probe.protocol, probe.path, probe.matcher) == ("HTTP", "/healthz", "200,202-204")
        for _ in range(2):
            await world.service.record_probe(probe, False, timed_out=False, code=500)
        answer = await world.client.call("DescribeTargetHealth", TargetGroupArn=arn)
        health = answer["TargetHealthDescriptions"][0]["TargetHealth"]
        assert health == {
            "State": "unhealthy",
            "Reason": "Target.ResponseCodeMismatch",
            "Description": "Health checks failed with these codes: [500]",
        }
        # Back to TCP: path and matcher no longer shown.
        tcp = await world.client.call("ModifyTargetGroup", TargetGroupArn=arn,
                                      HealthCheckProtocol="TCP")  # fmt: skip
        assert "HealthCheckPath" not in tcp["TargetGroups"][0]
        for params, code in (
            ({"HealthCheckProtocol": "TLS"}, "InvalidConfigurationRequest"),
            ({"HealthCheckPath": "/x"}, "InvalidConfigurationRequest"),  # TCP check
            ({"Matcher": {"HttpCode": "200"}}, "InvalidConfigurationRequest"),
            ({"HealthCheckProtocol": "HTTP", "HealthCheckPath": "health"}, "ValidationError"),
            ({"HealthCheckProtocol": "HTTP", "HealthCheckPath": "/a b"}, "ValidationError"),
            (
                {"HealthCheckProtocol": "HTTP", "Matcher": {"HttpCode": "100-200"}},
                "ValidationError",
            ),
            ({"HealthCheckProtocol": "HTTP", "Matcher": {"HttpCode": "2xx"}}, "ValidationError"),
            ({"HealthCheckProtocol": "HTTP", "Matcher": {"GrpcCode": "0"}}, "ValidationError"),
        ):
            await refused(world.client, "ModifyTargetGroup", code, TargetGroupArn=arn, **params)
            await refused(world.client, "CreateTargetGroup", code, Name="bad", Protocol="TCP",
                          Port=80, VpcId=world.vpc_id, **params)  # fmt: skip
        assert [g["TargetGroupName"] for g in (await world.client.call("DescribeTargetGroups"))[
            "TargetGroups"]] == ["web"]  # fmt: skip


async def test_https_checks_and_every_field_modified(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        group = await world.target_group(HealthCheckProtocol="HTTPS")
        arn = group["TargetGroupArn"]
        # ELBv2's defaults for an NLB's HTTPS check: "/", 200-399, TCP's 10-second timeout.
        assert (group["HealthCheckPath"], group["Matcher"]) == ("/", {"HttpCode": "200-399"})
        assert group["HealthCheckTimeoutSeconds"] == 10
        lb = await world.load_balancer()
        await world.client.call(
            "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
        )  # fmt: skip
        await world.client.call(
            "RegisterTargets", TargetGroupArn=arn, Targets=[{"Id": await world.instance()}]
        )
        [probe] = await world.service.probes()
        assert (probe.protocol, probe.path, probe.timeout) == ("HTTPS", "/", 10)
        # Every field at once; the probes' next round reads the new check.
        fields = {
            "HealthCheckProtocol": "HTTP", "HealthCheckPort": "8443", "HealthCheckPath": "/up",
            "Matcher": {"HttpCode": "200-204"}, "HealthCheckIntervalSeconds": 60,
            "HealthCheckTimeoutSeconds": 20, "HealthyThresholdCount": 4,
            "UnhealthyThresholdCount": 6, "HealthCheckEnabled": True,
        }  # fmt: skip
        shown = (await world.client.call("ModifyTargetGroup", TargetGroupArn=arn, **fields))[
            "TargetGroups"
        ][0]
        assert {k: shown[k] for k in fields} == fields
        [probe] = await world.service.probes()
        assert (probe.protocol, probe.health_port, probe.path, probe.matcher) == (
            "HTTP", 8443, "/up", "200-204",
        )  # fmt: skip
        assert (probe.interval, probe.timeout) == (60, 20)
        # Turned TCP, the check drops its path and matcher; HTTPS again starts from defaults.
        tcp = await world.client.call("ModifyTargetGroup", TargetGroupArn=arn,
                                      HealthCheckProtocol="TCP")  # fmt: skip
        assert "Matcher" not in tcp["TargetGroups"][0]
        https = await world.client.call("ModifyTargetGroup", TargetGroupArn=arn,
                                        HealthCheckProtocol="HTTPS")  # fmt: skip
        assert (https["TargetGroups"][0]["HealthCheckPath"], https["TargetGroups"][0][
            "Matcher"]) == ("/", {"HttpCode": "200-399"})  # fmt: skip
        # Validated as a whole with the fields kept (interval 60, timeout 20).
        for params, code in (
            ({"HealthCheckTimeoutSeconds": 61}, "ValidationError"),
            ({"HealthCheckIntervalSeconds": 10}, "ValidationError"),
            ({"HealthCheckEnabled": False}, "InvalidConfigurationRequest"),
            ({"HealthCheckProtocol": "TCP", "HealthCheckPath": "/"}, "InvalidConfigurationRequest"),
            ({"HealthCheckProtocol": "GENEVE"}, "InvalidConfigurationRequest"),
            ({"HealthCheckProtocol": "FTP"}, "ValidationError"),
            ({"HealthCheckPort": "0"}, "ValidationError"),
            ({"HealthyThresholdCount": 11}, "ValidationError"),
        ):
            await refused(world.client, "ModifyTargetGroup", code, TargetGroupArn=arn, **params)
        [probe] = await world.service.probes()
        assert (probe.protocol, probe.interval, probe.timeout) == ("HTTPS", 60, 20)
        await refused(world.client, "CreateTargetGroup", "InvalidConfigurationRequest",
                      Name="off", Protocol="TCP", Port=80, VpcId=world.vpc_id,
                      HealthCheckEnabled=False)  # fmt: skip


async def test_target_health_from_registration_to_healthy_and_unhealthy(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        first, second = await world.instance(), await world.instance()
        group = await world.target_group(HealthyThresholdCount=2, UnhealthyThresholdCount=2)
        arn = group["TargetGroupArn"]
        await world.client.call(
            "RegisterTargets", TargetGroupArn=arn, Targets=[{"Id": first}, {"Id": second}]
        )
        # No load balancer uses the group yet: its targets are unused, and nobody probes.
        assert await _health(world, arn) == {
            first: ("unused", "Target.NotInUse"),
            second: ("unused", "Target.NotInUse"),
        }
        assert await world.service.probes() == []
        lb = await world.load_balancer()
        await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
        )
        assert await _health(world, arn) == {
            first: ("initial", "Elb.RegistrationInProgress"),
            second: ("initial", "Elb.RegistrationInProgress"),
        }
        await _probe(world, True)
        assert (await _health(world, arn))[first] == ("initial", "Elb.InitialHealthChecking")
        await _probe(world, True)
        assert await _health(world, arn) == {first: ("healthy", ""), second: ("healthy", "")}
        # Every registered target is what the listener forwards to.
        (view,) = await world.service.forwarding_views()
        assert view.port == 80 and len(view.targets) == 2
        # Two failures in a row make a target unhealthy, with the reason of the last.
        probes = {p.target_id: p for p in await world.service.probes()}
        for _ in range(2):
            await world.service.record_probe(probes[first], False, timed_out=True)
        assert await _health(world, arn, Targets=[{"Id": first}]) == {
            first: ("unhealthy", "Target.Timeout")
        }
        (view,) = await world.service.forwarding_views()
        assert [a for a, _ in view.targets] == [probes[second].address]
        # A stopped instance is unused (Target.InvalidState); an unregistered one is named so.
        await world.ec2.root.call("StopInstances", InstanceIds=[second])
        await world.ec2.compute.settle()
        assert (await _health(world, arn))[second] == ("unused", "Target.InvalidState")
        third = await world.instance()
        assert await _health(world, arn, Targets=[{"Id": third}]) == {
            third: ("unused", "Target.NotRegistered")
        }
        # A stopped instance cannot be registered; another VPC's neither.
        await refused(world.client, "RegisterTargets", "InvalidTarget", TargetGroupArn=arn,
                      Targets=[{"Id": second, "Port": 8080}])  # fmt: skip
        await refused(world.client, "RegisterTargets", "InvalidTarget", TargetGroupArn=arn,
                      Targets=[{"Id": "i-0123456789abcdef0"}])  # fmt: skip


async def test_deregistration_drains_for_the_groups_delay(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        target = await world.instance()
        group = await world.target_group()
        arn = group["TargetGroupArn"]
        await world.client.call(
            "ModifyTargetGroupAttributes",
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "60"}],
        )
        shown = await world.client.call("DescribeTargetGroupAttributes", TargetGroupArn=arn)
        held = {a["Key"]: a["Value"] for a in shown["Attributes"]}
        assert held["deregistration_delay.timeout_seconds"] == "60"
        assert held["preserve_client_ip.enabled"] == "true"
        lb = await world.load_balancer()
        await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=443,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
        )
        await world.client.call("RegisterTargets", TargetGroupArn=arn, Targets=[{"Id": target}])
        await world.client.call("DeregisterTargets", TargetGroupArn=arn, Targets=[{"Id": target}])
        assert await _health(world, arn) == {
            target: ("draining", "Target.DeregistrationInProgress")
        }
        (view,) = await world.service.forwarding_views()
        assert view.targets == ()  # no new flow goes to a draining target
        world.clock.advance(59)
        assert (await _health(world, arn))[target][0] == "draining"
        world.clock.advance(2)
        assert await _health(world, arn) == {}
        await refused(world.client, "DeregisterTargets", "InvalidTarget", TargetGroupArn=arn,
                      Targets=[{"Id": target}])  # fmt: skip
        await refused(
            world.client, "ModifyTargetGroupAttributes", "ValidationError", TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}],
        )  # fmt: skip
        await refused(
            world.client, "ModifyTargetGroupAttributes", "InvalidConfigurationRequest",
            TargetGroupArn=arn, Attributes=[{"Key": "proxy_protocol_v2.enabled", "Value": "true"}],
        )  # fmt: skip


async def test_ip_targets_and_the_targets_limit(tmp_path: Path) -> None:
    async with elb_world(tmp_path, limits=LbLimits(max_targets=2)) as world:
        group = await world.target_group("ips", TargetType="ip")
        arn = group["TargetGroupArn"]
        await world.client.call(
            "RegisterTargets",
            TargetGroupArn=arn,
            Targets=[{"Id": "10.20.0.50", "Port": 8080}, {"Id": "10.20.1.50"}],
        )
        health = await world.client.call("DescribeTargetHealth", TargetGroupArn=arn)
        ports = sorted(d["Target"]["Port"] for d in health["TargetHealthDescriptions"])
        assert ports == [80, 8080]
        await refused(world.client, "RegisterTargets", "TooManyTargets", TargetGroupArn=arn,
                      Targets=[{"Id": "10.20.0.51"}])  # fmt: skip
        await refused(world.client, "RegisterTargets", "InvalidTarget", TargetGroupArn=arn,
                      Targets=[{"Id": "8.8.8.8"}])  # fmt: skip
        await refused(world.client, "RegisterTargets", "InvalidTarget", TargetGroupArn=arn,
                      Targets=[{"Id": "i-0123456789abcdef0"}])  # fmt: skip


async def test_an_auto_scaling_groups_part_is_reconciled(tmp_path: Path) -> None:
    """What the upkeep does for an Auto Scaling group naming the target group: its
    instances registered, those leaving deregistered, the others' targets left alone."""
    async with elb_world(tmp_path) as world:
        first, second, own = await world.instance(), await world.instance(), await world.instance()
        arn = (await world.target_group())["TargetGroupArn"]
        await world.client.call("RegisterTargets", TargetGroupArn=arn, Targets=[{"Id": own}])
        await world.service.reconcile_instances(world.tenant_id, arn, [first, second], [])
        assert set(await _health(world, arn)) == {first, second, own}
        await world.service.reconcile_instances(world.tenant_id, arn, [first], [second, "i-x"])
        # Not used by a load balancer: the deregistered leave at once; the target registered
        # by hand stays.
        assert set(await _health(world, arn)) == {first, own}
        await world.service.reconcile_instances(world.tenant_id, arn, [first], [])
        assert set(await _health(world, arn)) == {first, own}
