"""UDP and TCP_UDP target groups and listeners (session 50's addendum to decision 0191),
through the ``elasticloadbalancing`` Query app over botocore's ``elbv2`` model: ELBv2's rules
and wording, and what the routers are told to translate."""

from __future__ import annotations

from pathlib import Path

from support.elbapp import elb_world, refused


async def test_udp_and_tcp_udp_target_groups_are_checked_over_tcp_or_http(
    tmp_path: Path,
) -> None:
    async with elb_world(tmp_path) as world:
        udp = await world.target_group("dns", Protocol="UDP", Port=53)
        assert (udp["Protocol"], udp["Port"]) == ("UDP", 53)
        # A UDP target cannot be asked whether it is alive: TCP by default, on its port.
        assert (udp["HealthCheckProtocol"], udp["HealthCheckPort"]) == ("TCP", "traffic-port")
        both = await world.target_group(
            "both", Protocol="TCP_UDP", Port=53, HealthCheckProtocol="HTTP", HealthCheckPort="80"
        )
        assert (both["Protocol"], both["HealthCheckProtocol"]) == ("TCP_UDP", "HTTP")
        for protocol in ("UDP", "TCP_UDP", "TLS"):
            error = await refused(
                world.client, "CreateTargetGroup", "InvalidConfigurationRequest",
                Name="bad", Protocol="UDP", Port=53, VpcId=world.vpc_id,
                HealthCheckProtocol=protocol,
            )  # fmt: skip
            assert error.message == (
                f"Health check protocol '{protocol}' is not supported for target groups with "
                "the protocol 'UDP'; it must be TCP, HTTP or HTTPS"
            )
        await refused(
            world.client, "ModifyTargetGroup", "InvalidConfigurationRequest",
            TargetGroupArn=udp["TargetGroupArn"], HealthCheckProtocol="UDP",
        )  # fmt: skip
        error = await refused(
            world.client, "ModifyTargetGroupAttributes", "InvalidConfigurationRequest",
            TargetGroupArn=udp["TargetGroupArn"],
            Attributes=[{"Key": "preserve_client_ip.enabled", "Value": "false"}],
        )  # fmt: skip
        assert error.message == (
            "Client IP preservation cannot be disabled for target groups with the protocol 'UDP'"
        )
        # A Gateway Load Balancer's GENEVE groups are not here (HTTPS ones are: decision 0231).
        await refused(world.client, "CreateTargetGroup", "InvalidConfigurationRequest",
                      Name="web", Protocol="GENEVE", Port=6081, VpcId=world.vpc_id)  # fmt: skip


async def test_listeners_forward_to_the_groups_their_protocol_allows(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb_arn = (await world.load_balancer())["LoadBalancerArn"]
        tcp = (await world.target_group("tcp", Port=80))["TargetGroupArn"]
        udp = (await world.target_group("udp", Protocol="UDP", Port=53))["TargetGroupArn"]
        both = (await world.target_group("both", Protocol="TCP_UDP", Port=53))["TargetGroupArn"]

        async def listener(protocol: str, port: int, group: str) -> dict[str, object]:
            answer = await world.client.call(
                "CreateListener", LoadBalancerArn=lb_arn, Protocol=protocol, Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
            )  # fmt: skip
            return dict(answer["Listeners"][0])

        async def refused_listener(code: str, protocol: str, port: int, group: str) -> str:
            error = await refused(
                world.client, "CreateListener", code, LoadBalancerArn=lb_arn, Protocol=protocol,
                Port=port, DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
            )  # fmt: skip
            return error.message

        message = await refused_listener("InvalidConfigurationRequest", "TCP_UDP", 53, udp)
        assert message == "A TCP_UDP listener must be associated with a TCP_UDP target group"
        await refused_listener("InvalidConfigurationRequest", "UDP", 53, tcp)
        await refused_listener("InvalidConfigurationRequest", "TCP", 80, udp)
        assert (await listener("UDP", 53, udp))["Protocol"] == "UDP"
        # One listener a port: TCP beside UDP is refused, AWS's way being one TCP_UDP.
        message = await refused_listener("DuplicateListener", "TCP", 53, tcp)
        assert message.endswith("to listen for TCP and UDP on one port, use a TCP_UDP listener")
        assert (await listener("TCP_UDP", 54, both))["Protocol"] == "TCP_UDP"
        # A TCP_UDP group takes a TCP listener's flows too (of the same load balancer).
        await listener("TCP", 55, both)
        described = await world.client.call("DescribeListeners", LoadBalancerArn=lb_arn)
        assert [(x["Port"], x["Protocol"]) for x in described["Listeners"]] == [
            (53, "UDP"),
            (54, "TCP_UDP"),
            (55, "TCP"),
        ]
        # The routers translate each listener's transports.
        views = {v.port: v.protocols for v in await world.service.forwarding_views()}
        assert views == {53: ("udp",), 54: ("tcp", "udp"), 55: ("tcp",)}


async def test_a_udp_listener_has_no_tcp_idle_timeout(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb_arn = (await world.load_balancer())["LoadBalancerArn"]
        udp = (await world.target_group("udp", Protocol="UDP", Port=53))["TargetGroupArn"]
        made = await world.client.call(
            "CreateListener", LoadBalancerArn=lb_arn, Protocol="UDP", Port=53,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": udp}],
        )  # fmt: skip
        arn = made["Listeners"][0]["ListenerArn"]
        described = await world.client.call("DescribeListenerAttributes", ListenerArn=arn)
        assert described["Attributes"] == []
        await refused(
            world.client, "ModifyListenerAttributes", "ValidationError", ListenerArn=arn,
            Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "500"}],
        )  # fmt: skip
