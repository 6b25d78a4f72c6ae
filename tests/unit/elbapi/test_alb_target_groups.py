"""An Application Load Balancer's target groups (decision 0231) through the
``elasticloadbalancing`` Query app over botocore's ``elbv2`` model: HTTPS groups and their
checks, the stickiness, algorithm, slow start and deregistration attributes with AWS's
bounds and codes, a weighted forward's ``TargetGroupStickinessConfig``, and what the hosts'
proxies are handed of it all (the view, over the hypervisor port's wire and back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from andromede.hypervisor.balancer_host import forwarding_view
from andromede.hypervisor.wire import decode, encode
from andromede.wiring.load_balancer_hosts import balanced_listener
from support.elbapp import ElbWorld, elb_world, refused


async def _alb(world: ElbWorld) -> str:
    group = await world.ec2.root.call(
        "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
    )
    lb = await world.load_balancer(
        "shop", Type="application", Subnets=world.subnets[:1], SecurityGroups=[group["GroupId"]]
    )
    return str(lb["LoadBalancerArn"])


async def _attributes(world: ElbWorld, arn: str) -> dict[str, str]:
    answer = await world.client.call("DescribeTargetGroupAttributes", TargetGroupArn=arn)
    return {a["Key"]: a["Value"] for a in answer["Attributes"]}


async def _modify(world: ElbWorld, arn: str, **changes: str) -> dict[str, str]:
    answer = await world.client.call(
        "ModifyTargetGroupAttributes", TargetGroupArn=arn,
        Attributes=[{"Key": k, "Value": v} for k, v in changes.items()],
    )  # fmt: skip
    return {a["Key"]: a["Value"] for a in answer["Attributes"]}


async def test_https_groups_and_their_checks(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb = await _alb(world)
        group = await world.target_group("secure", Protocol="HTTPS", Port=8443, TargetType="ip")
        assert (group["Protocol"], group["ProtocolVersion"]) == ("HTTPS", "HTTP1")
        assert (group["HealthCheckProtocol"], group["HealthCheckTimeoutSeconds"]) == ("HTTPS", 5)
        assert group["Matcher"]["HttpCode"] == "200"
        for version in ("HTTP2", "GRPC"):
            await refused(
                world.client, "CreateTargetGroup", "InvalidConfigurationRequest",
                Name=f"v-{version}", Protocol="HTTPS", Port=443, VpcId=world.vpc_id,
                ProtocolVersion=version,
            )  # fmt: skip
        listener = await world.client.call(
            "CreateListener", LoadBalancerArn=lb, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )  # fmt: skip
        assert (
            listener["Listeners"][0]["DefaultActions"][0]["TargetGroupArn"]
            == (group["TargetGroupArn"])
        )
        await world.client.call(
            "RegisterTargets", TargetGroupArn=group["TargetGroupArn"],
            Targets=[{"Id": "10.20.0.7"}],
        )  # fmt: skip
        (probe,) = await world.service.probes()
        assert (probe.protocol, probe.port) == ("HTTPS", 8443)
        plain = (await world.target_group("plain", Protocol="HTTP", Port=80))["TargetGroupArn"]
        await world.client.call(
            "CreateListener", LoadBalancerArn=lb, Protocol="HTTP", Port=81,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": plain}],
        )  # fmt: skip
        views = {v.port: v for v in await world.service.forwarding_views()}
        http = views[80].http
        assert http is not None
        ((_, policy),) = http.policies
        shown = (policy.protocol, policy.stickiness, policy.algorithm, policy.key)
        assert shown == ("HTTPS", "", "round_robin", "")  # no cookie is sealed under it
        # A listener of AWS's defaults only is handed as before 0231 (an older agent reads it).
        assert views[81].http is not None and views[81].http.policies == ()
        assert "policies" not in encode(balanced_listener(views[81]))["http"]
        # An NLB's listener still forwards to no HTTPS group.
        nlb = (await world.load_balancer("net"))["LoadBalancerArn"]
        await refused(
            world.client, "CreateListener", "InvalidConfigurationRequest", LoadBalancerArn=nlb,
            Protocol="TCP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )  # fmt: skip


async def test_stickiness_and_algorithm_attributes(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        arn = (await world.target_group("web", Protocol="HTTP", Port=8080))["TargetGroupArn"]
        shown = await _attributes(world, arn)
        assert (shown["stickiness.enabled"], shown["stickiness.type"]) == ("false", "lb_cookie")
        assert shown["stickiness.app_cookie.cookie_name"] == ""
        assert shown["stickiness.app_cookie.duration_seconds"] == "86400"
        assert shown["load_balancing.algorithm.anomaly_mitigation"] == "off"
        changed = await _modify(
            world, arn, **{"stickiness.enabled": "true",
                           "stickiness.lb_cookie.duration_seconds": "3600",
                           "load_balancing.algorithm.type": "least_outstanding_requests",
                           "deregistration_delay.timeout_seconds": "30"},
        )  # fmt: skip
        assert changed["stickiness.lb_cookie.duration_seconds"] == "3600"
        assert changed["load_balancing.algorithm.type"] == "least_outstanding_requests"
        invalid, unsupported = "ValidationError", "InvalidConfigurationRequest"
        for changes, code in (
            ({"stickiness.lb_cookie.duration_seconds": "0"}, invalid),
            ({"stickiness.lb_cookie.duration_seconds": "604801"}, invalid),
            ({"stickiness.app_cookie.duration_seconds": "0"}, invalid),
            ({"stickiness.type": "source_ip"}, invalid),
            ({"stickiness.enabled": "yes"}, invalid),
            ({"stickiness.type": "app_cookie"}, invalid),  # enabled, and no cookie name
            ({"stickiness.app_cookie.cookie_name": "AWSALBmine"}, invalid),
            ({"stickiness.app_cookie.cookie_name": "bad name"}, invalid),
            ({"slow_start.duration_seconds": "10"}, invalid),
            ({"slow_start.duration_seconds": "30"}, unsupported),
            ({"load_balancing.algorithm.type": "fastest"}, invalid),
            ({"load_balancing.algorithm.type": "weighted_random"}, unsupported),
            ({"load_balancing.algorithm.anomaly_mitigation": "on"}, unsupported),
            ({"deregistration_delay.timeout_seconds": "3601"}, invalid),
            ({"preserve_client_ip.enabled": "true"}, invalid),  # an NLB group's key
        ):
            await refused(
                world.client, "ModifyTargetGroupAttributes", code, TargetGroupArn=arn,
                Attributes=[{"Key": k, "Value": v} for k, v in changes.items()],
            )  # fmt: skip
        app = await _modify(
            world, arn, **{"stickiness.type": "app_cookie",
                           "stickiness.app_cookie.cookie_name": "SESSION",
                           "stickiness.app_cookie.duration_seconds": "600"},
        )  # fmt: skip
        assert (app["stickiness.type"], app["stickiness.app_cookie.cookie_name"]) == (
            "app_cookie", "SESSION",
        )  # fmt: skip
        await _modify(world, arn, **{"slow_start.duration_seconds": "0"})
        # Off again: the cookie's name may go.
        await _modify(world, arn, **{"stickiness.enabled": "false",
                                     "stickiness.app_cookie.cookie_name": ""})  # fmt: skip
        # An NLB's group keeps its own stickiness (source_ip, not here yet).
        tcp = (await world.target_group("tcp"))["TargetGroupArn"]
        await refused(
            world.client, "ModifyTargetGroupAttributes", invalid, TargetGroupArn=tcp,
            Attributes=[{"Key": "stickiness.type", "Value": "lb_cookie"}],
        )  # fmt: skip


async def test_what_the_proxies_are_handed(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb = await _alb(world)
        blue = (await world.target_group("blue", Protocol="HTTP", Port=8080))["TargetGroupArn"]
        green = (await world.target_group("green", Protocol="HTTPS", Port=8443))["TargetGroupArn"]
        await _modify(
            world, blue, **{"stickiness.enabled": "true", "stickiness.type": "app_cookie",
                            "stickiness.app_cookie.cookie_name": "SESSION",
                            "stickiness.app_cookie.duration_seconds": "600"},
        )  # fmt: skip
        forward: dict[str, Any] = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": blue, "Weight": 3},
                    {"TargetGroupArn": green, "Weight": 1},
                ],
                "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 300},
            },
        }
        for config, code in (
            ({"Enabled": True}, "ValidationError"),
            ({"Enabled": True, "DurationSeconds": 604801}, "ValidationError"),
        ):
            await refused(
                world.client, "CreateListener", code, LoadBalancerArn=lb, Protocol="HTTP",
                Port=80, DefaultActions=[{**forward, "ForwardConfig": {
                    **forward["ForwardConfig"], "TargetGroupStickinessConfig": config}}],
            )  # fmt: skip
        created = await world.client.call(
            "CreateListener", LoadBalancerArn=lb, Protocol="HTTP", Port=80,
            DefaultActions=[forward],
        )  # fmt: skip
        action = created["Listeners"][0]["DefaultActions"][0]
        assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == {
            "Enabled": True, "DurationSeconds": 300,
        }  # fmt: skip
        described = await world.client.call("DescribeRules", ListenerArn=(
            created["Listeners"][0]["ListenerArn"]))  # fmt: skip
        sticky = described["Rules"][0]["Actions"][0]["ForwardConfig"]["TargetGroupStickinessConfig"]
        assert sticky == {"Enabled": True, "DurationSeconds": 300}
        (view,) = await world.service.forwarding_views()
        assert view.http is not None
        policies = dict(view.http.policies)
        blue_id, green_id = (a.rsplit("/", 1)[1] for a in (blue, green))
        assert (policies[blue_id].stickiness, policies[blue_id].cookie_name) == (
            "app_cookie", "SESSION",
        )  # fmt: skip
        assert (policies[blue_id].duration, policies[green_id].protocol) == (600, "HTTPS")
        keys = {policies[blue_id].key, policies[green_id].key}
        assert len(keys) == 2 and all(len(k) == 64 for k in keys)  # each group its own
        assert view.http.rules[-1].action.stickiness == 300  # type: ignore[union-attr]
        # The secret is never shown, nor in a repr that could reach a log.
        body = world.client.last_body
        for call, params in (
            ("DescribeTargetGroups", {"TargetGroupArns": [blue]}),
            ("DescribeTargetGroupAttributes", {"TargetGroupArn": blue}),
        ):
            await world.client.call(call, **params)
            body = world.client.last_body
            assert policies[blue_id].key.encode() not in body
        assert policies[blue_id].key not in repr(view)
        # Over the hypervisor port's wire and back, unchanged.
        listener = balanced_listener(view)
        assert policies[blue_id].key not in repr(listener)
        carried = forwarding_view(decode(type(listener), encode(listener)))
        assert carried.http == view.http
