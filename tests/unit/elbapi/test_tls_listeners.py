"""ELBv2's TLS listeners in process (decision 0210), through botocore's ``elbv2`` model: a TLS
listener presents IAM server certificates of the account, with a security policy and an ALPN
policy; DescribeSSLPolicies; the SNI certificates' calls; ModifyListener; IAM's
DeleteConflict for a certificate in use — each refusal in AWS's code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from andromede.iam.errors import DeleteConflict
from support.elbapp import ElbWorld, elb_world, refused
from support.tls_certificates import TestCa


async def _certificate(world: ElbWorld, ca: TestCa, name: str, *hosts: str) -> str:
    issued = ca.issue(*hosts)
    made = await world.ec2.identity.upload_server_certificate(
        world.tenant_id, name, issued.body, issued.key
    )
    return made.arn


async def _tls_setup(world: ElbWorld) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    ca = TestCa()
    first = await _certificate(world, ca, "www", "www.example.test")
    second = await _certificate(world, ca, "api", "api.example.test")
    lb = await world.load_balancer()
    group = await world.target_group(Protocol="TLS", Port=443)
    return lb, group, first, second


async def test_a_tls_listener_presents_a_server_certificate(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb, group, first, _ = await _tls_setup(world)
        assert group["Protocol"] == "TLS" and group["HealthCheckProtocol"] == "TCP"
        made = await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TLS",
            Port=443,
            Certificates=[{"CertificateArn": first}],
            AlpnPolicy=["HTTP2Preferred"],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )
        listener = made["Listeners"][0]
        assert listener["Protocol"] == "TLS"
        assert listener["Certificates"] == [{"CertificateArn": first}]
        assert listener["SslPolicy"] == "ELBSecurityPolicy-2016-08"  # AWS's API default
        assert listener["AlpnPolicy"] == ["HTTP2Preferred"]
        arns = [listener["ListenerArn"]]
        described = await world.client.call("DescribeListeners", ListenerArns=arns)
        assert described["Listeners"][0]["Certificates"] == [{"CertificateArn": first}]
        # A TLS listener has no TCP idle timeout attribute.
        shown = await world.client.call(
            "DescribeListenerAttributes", ListenerArn=listener["ListenerArn"]
        )
        assert shown["Attributes"] == []
        # The data plane sees its settings.
        views = await world.service.forwarding_views()
        assert views[0].tls is not None
        assert views[0].tls.certificates == (first,) and views[0].tls.target_tls
        assert views[0].tls.alpn_policy == "HTTP2Preferred"


async def test_tls_listeners_refused_in_elbv2_words(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb, group, first, second = await _tls_setup(world)
        tcp = await world.target_group("plain", Protocol="TCP", Port=80)
        action = [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]
        base = {"LoadBalancerArn": lb["LoadBalancerArn"], "Protocol": "TLS", "Port": 443}
        await refused(world.client, "CreateListener", "ValidationError",
                      DefaultActions=action, **base)  # fmt: skip
        await refused(
            world.client, "CreateListener", "ValidationError", DefaultActions=action,
            Certificates=[{"CertificateArn": first}, {"CertificateArn": second}], **base,
        )  # fmt: skip
        other = f"arn:aws:iam::{world.tenant_id}:server-certificate/nope"
        foreign = first.replace(world.tenant_id, "999999999999")
        for arn in (other, foreign, "arn:aws:acm:eu-fr-1:1:certificate/x"):
            await refused(
                world.client, "CreateListener", "CertificateNotFound", DefaultActions=action,
                Certificates=[{"CertificateArn": arn}], **base,
            )  # fmt: skip
        certificate = [{"CertificateArn": first}]
        await refused(
            world.client, "CreateListener", "SSLPolicyNotFound", DefaultActions=action,
            Certificates=certificate, SslPolicy="ELBSecurityPolicy-Nope", **base,
        )  # fmt: skip
        await refused(
            world.client, "CreateListener", "ValidationError", DefaultActions=action,
            Certificates=certificate, AlpnPolicy=["HTTP3"], **base,
        )  # fmt: skip
        # A TCP listener takes no certificate, and cannot forward to a TLS group.
        await refused(
            world.client, "CreateListener", "InvalidConfigurationRequest", DefaultActions=action,
            Certificates=certificate, **{**base, "Protocol": "TCP"},
        )  # fmt: skip
        await refused(
            world.client, "CreateListener", "InvalidConfigurationRequest", DefaultActions=action,
            **{**base, "Protocol": "TCP"},
        )  # fmt: skip
        # A TLS listener may forward to a TCP group.
        made = await world.client.call(
            "CreateListener",
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp["TargetGroupArn"]}],
            Certificates=certificate,
            SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            **base,
        )
        assert made["Listeners"][0]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"


async def test_sni_certificates_and_modify_listener(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        lb, group, first, second = await _tls_setup(world)
        made = await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TLS",
            Port=443,
            Certificates=[{"CertificateArn": first}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )
        arn = made["Listeners"][0]["ListenerArn"]
        added = await world.client.call(
            "AddListenerCertificates", ListenerArn=arn, Certificates=[{"CertificateArn": second}]
        )
        assert added["Certificates"] == [{"CertificateArn": second, "IsDefault": False}]
        listed = await world.client.call("DescribeListenerCertificates", ListenerArn=arn)
        shown = {c["CertificateArn"]: c["IsDefault"] for c in listed["Certificates"]}
        assert shown == {first: True, second: False}
        await refused(
            world.client, "AddListenerCertificates", "CertificateNotFound", ListenerArn=arn,
            Certificates=[{"CertificateArn": first + "x"}],
        )  # fmt: skip
        await refused(
            world.client, "RemoveListenerCertificates", "OperationNotPermitted", ListenerArn=arn,
            Certificates=[{"CertificateArn": first}],
        )  # fmt: skip
        # IAM refuses to delete a certificate a listener presents.
        try:
            await world.ec2.identity.delete_server_certificate(world.tenant_id, "api")
        except DeleteConflict as exc:
            assert "is currently in use by arn:aws:elasticloadbalancing:" in str(exc)
        else:
            raise AssertionError("a certificate in use was deleted")
        await world.client.call(
            "RemoveListenerCertificates", ListenerArn=arn, Certificates=[{"CertificateArn": second}]
        )
        await world.ec2.identity.delete_server_certificate(world.tenant_id, "api")
        # ModifyListener: another default certificate, policy and ALPN.
        ca = TestCa()
        third = await _certificate(world, ca, "third", "third.example.test")
        changed = await world.client.call(
            "ModifyListener",
            ListenerArn=arn,
            Certificates=[{"CertificateArn": third}],
            SslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06",
            AlpnPolicy=["HTTP1Only"],
        )
        listener = changed["Listeners"][0]
        assert listener["Certificates"] == [{"CertificateArn": third}]
        assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"
        assert listener["AlpnPolicy"] == ["HTTP1Only"]
        # Another port: the same listener (its ARN), not one already taken.
        moved = await world.client.call("ModifyListener", ListenerArn=arn, Port=8443)
        assert moved["Listeners"][0]["Port"] == 8443
        assert moved["Listeners"][0]["ListenerArn"] == arn
        other = await world.target_group("other", Protocol="TCP", Port=80)
        await world.client.call(
            "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=443,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": other["TargetGroupArn"]}],
        )  # fmt: skip
        await refused(world.client, "ModifyListener", "DuplicateListener", ListenerArn=arn,
                      Port=443)  # fmt: skip
        shown = await world.client.call("DescribeListeners", LoadBalancerArn=lb["LoadBalancerArn"])
        assert sorted(x["Port"] for x in shown["Listeners"]) == [443, 8443]
        await world.ec2.identity.delete_server_certificate(world.tenant_id, "www")
        await refused(
            world.client, "ModifyListener", "SSLPolicyNotFound", ListenerArn=arn,
            SslPolicy="ELBSecurityPolicy-1999",
        )  # fmt: skip
        await refused(world.client, "ModifyListener", "InvalidConfigurationRequest",
                      ListenerArn=arn, Protocol="UDP")  # fmt: skip
        # TLS to TCP, with a TCP group: the TLS settings go.
        tcp = await world.target_group("plain", Protocol="TCP", Port=80)
        plain = await world.client.call(
            "ModifyListener",
            ListenerArn=arn,
            Protocol="TCP",
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp["TargetGroupArn"]}],
        )
        assert "Certificates" not in plain["Listeners"][0]
        groups = await world.client.call("DescribeTargetGroups", Names=["web"])
        assert groups["TargetGroups"][0]["LoadBalancerArns"] == []
        await world.ec2.identity.delete_server_certificate(world.tenant_id, "third")
        await refused(world.client, "DescribeListenerCertificates", "ListenerNotFound",
                      ListenerArn=arn[:-3] + "abc")  # fmt: skip


async def test_describe_ssl_policies(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        every = await world.client.call("DescribeSSLPolicies")
        names = [p["Name"] for p in every["SslPolicies"]]
        assert "ELBSecurityPolicy-2016-08" in names
        assert "ELBSecurityPolicy-TLS13-1-2-2021-06" in names
        one = await world.client.call(
            "DescribeSSLPolicies", Names=["ELBSecurityPolicy-TLS13-1-3-2021-06"]
        )
        policy = one["SslPolicies"][0]
        assert policy["SslProtocols"] == ["TLSv1.3"]
        assert policy["Ciphers"][0]["Name"] == "TLS_AES_128_GCM_SHA256"
        assert policy["Ciphers"][0]["Priority"] == 1
        assert "network" in policy["SupportedLoadBalancerTypes"]
        await refused(world.client, "DescribeSSLPolicies", "SSLPolicyNotFound",
                      Names=["ELBSecurityPolicy-Nope"])  # fmt: skip
        first = await world.client.call("DescribeSSLPolicies", PageSize=2)
        assert len(first["SslPolicies"]) == 2 and first["NextMarker"]


def test_the_tls_limits_are_settings() -> None:
    """Decision 0210's limits: settings with their defaults, refused out of bounds, and the
    certificates' one reaching the service."""
    import pydantic
    import pytest

    from andromede.settings import Settings
    from andromede.wiring.loadbalancing import load_balancing_service

    settings = Settings(data_dir=Path("/tmp/nlbtls-unused"))
    assert settings.elb_max_certificates_per_listener == 25
    assert (settings.elb_tls_max_connections, settings.elb_tls_buffer_bytes) == (10000, 65536)
    tuned = Settings(data_dir=Path("/tmp/nlbtls-unused"), elb_max_certificates_per_listener=2)
    service = load_balancing_service(tuned, None, None)  # type: ignore[arg-type]
    assert service.limits.max_certificates == 2
    for bad in (
        {"elb_max_certificates_per_listener": 0},
        {"elb_tls_max_connections": 0},
        {"elb_tls_buffer_bytes": 100},
    ):
        with pytest.raises(pydantic.ValidationError):
            Settings(data_dir=Path("/tmp/nlbtls-unused"), **bad)  # type: ignore[arg-type]


async def test_a_listener_holds_at_most_the_certificates_limit(tmp_path: Path) -> None:
    from andromede.loadbalancing.core import LbLimits

    async with elb_world(tmp_path, limits=LbLimits(max_certificates=2)) as world:
        lb, group, first, second = await _tls_setup(world)
        made = await world.client.call(
            "CreateListener",
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TLS",
            Port=443,
            Certificates=[{"CertificateArn": first}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )
        arn = made["Listeners"][0]["ListenerArn"]
        await world.client.call(
            "AddListenerCertificates", ListenerArn=arn, Certificates=[{"CertificateArn": second}]
        )
        third = await _certificate(world, TestCa(), "third", "third.example.test")
        await refused(
            world.client, "AddListenerCertificates", "TooManyCertificates", ListenerArn=arn,
            Certificates=[{"CertificateArn": third}],
        )  # fmt: skip
