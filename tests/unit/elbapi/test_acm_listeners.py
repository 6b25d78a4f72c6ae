"""Load balancers' listeners present Certificate Manager's certificates (decision 0230): an
NLB's TLS listener and an ALB's HTTPS listener made with an ACM ARN (and an SNI certificate
added by ARN, an IAM server certificate beside it), the gateway opening that certificate and
its key for the hosts' terminators as it opens IAM's, a re-import under the same ARN served at
the next opening; ACM's ``InUseBy`` naming the load balancers and DeleteCertificate refused
``ResourceInUseException`` until no listener presents it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from andromede.acm.errors import CertificateInUse
from andromede.acm.memory import MemoryCertificateStore
from andromede.acm.service import AcmService
from andromede.loadbalancing_adapters import AccountCertificates
from andromede.wiring.acm import load_balancer_of, present_on
from andromede.wiring.load_balancer_hosts import ListenerCertificates
from support.acmapp import issue
from support.elbapp import REGION, ElbWorld, elb_world, refused
from support.tls_certificates import TestCa


@asynccontextmanager
async def acm_elb_world(tmp_path: Path) -> AsyncIterator[tuple[ElbWorld, AcmService]]:
    async with elb_world(tmp_path) as world:
        sealer = world.ec2.identity.certificate_sealer
        assert sealer is not None
        acm = AcmService(MemoryCertificateStore(), sealer, REGION)
        present_on(world.service, acm, world.ec2.identity)  # as the wiring does
        yield world, acm


async def _imported(world: ElbWorld, acm: AcmService, name: str) -> tuple[str, Any]:
    issued = issue(name, kind="ec256")
    made = await acm.import_certificate(world.tenant_id, issued.body, issued.key, issued.chain)
    return made.arn, issued


async def _served(
    world: ElbWorld, chains: list[str] | None = None
) -> dict[str, list[tuple[str, str, bytes]]]:
    """Listener id → (ARN, body, key) of each certificate the gateway hands its hosts (their
    chains into ``chains``)."""
    opened = ListenerCertificates(world.service.certificate_material, 25, 2048)
    tls = await opened.tls_of(await world.service.forwarding_views())
    for served in tls.values():
        (chains if chains is not None else []).extend(
            c.chain for c in (served.certificates if served else ())
        )
    return {
        listener_id: [(c.arn, c.body, c.private_key) for c in served.certificates]
        for listener_id, served in tls.items()
        if served is not None
    }


async def test_an_nlb_tls_listener_serves_an_acm_certificate(tmp_path: Path) -> None:
    async with acm_elb_world(tmp_path) as (world, acm):
        arn, issued = await _imported(world, acm, "www.example.test")
        sni, sni_issued = await _imported(world, acm, "api.example.test")
        iam_issued = TestCa().issue("old.example.test")
        iam = await world.ec2.identity.upload_server_certificate(
            world.tenant_id, "old", iam_issued.body, iam_issued.key
        )
        lb = await world.load_balancer()
        group = await world.target_group(Protocol="TLS", Port=443)
        made = await world.client.call(
            "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=443,
            Certificates=[{"CertificateArn": arn}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )  # fmt: skip
        listener = made["Listeners"][0]
        assert listener["Certificates"] == [{"CertificateArn": arn}]
        await world.client.call(
            "AddListenerCertificates", ListenerArn=listener["ListenerArn"],
            Certificates=[{"CertificateArn": sni}, {"CertificateArn": iam.arn}],
        )  # fmt: skip
        (served,) = (await _served(world)).values()
        assert served == [
            (arn, issued.body.strip(), issued.key.encode()),
            (sni, sni_issued.body.strip(), sni_issued.key.encode()),
            (iam.arn, iam_issued.body.strip(), iam_issued.key.encode()),
        ]
        # ACM names the load balancer; the certificate is not deleted while it presents it.
        assert await acm.in_use_by(world.tenant_id, arn) == [lb["LoadBalancerArn"]]
        assert await acm.in_use_by(world.tenant_id, sni) == [lb["LoadBalancerArn"]]
        with pytest.raises(CertificateInUse, match="is in use"):
            await acm.delete(world.tenant_id, sni)
        # A re-import under the same ARN is what the listener serves next.
        renewed = issue("www.example.test", kind="rsa2048")
        await acm.import_certificate(
            world.tenant_id, renewed.body, renewed.key, renewed.chain, arn=arn
        )
        (served,) = (await _served(world)).values()
        assert served[0] == (arn, renewed.body.strip(), renewed.key.encode())
        await world.client.call(
            "RemoveListenerCertificates", ListenerArn=listener["ListenerArn"],
            Certificates=[{"CertificateArn": sni}],
        )  # fmt: skip
        assert await acm.in_use_by(world.tenant_id, sni) == []
        await acm.delete(world.tenant_id, sni)
        await world.client.call("DeleteListener", ListenerArn=listener["ListenerArn"])
        await acm.delete(world.tenant_id, arn)


async def test_an_alb_https_listener_serves_an_acm_certificate(tmp_path: Path) -> None:
    async with acm_elb_world(tmp_path) as (world, acm):
        arn, issued = await _imported(world, acm, "shop.example.test")
        security = await world.ec2.root.call(
            "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
        )
        lb = await world.load_balancer(
            "shop", Type="application", Subnets=world.subnets[:1],
            SecurityGroups=[security["GroupId"]],
        )  # fmt: skip
        group = await world.target_group("api", Protocol="HTTP", Port=8080)
        made = await world.client.call(
            "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
            Certificates=[{"CertificateArn": arn}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )  # fmt: skip
        listener = made["Listeners"][0]
        (view,) = await world.service.forwarding_views()
        assert view.tls is not None and view.tls.certificates == (arn,)
        chains: list[str] = []
        assert (await _served(world, chains)) == {
            view.listener_id: [(arn, issued.body.strip(), issued.key.encode())]
        }
        assert chains == [issued.chain.strip()]  # the CA's, presented after the certificate
        assert await acm.in_use_by(world.tenant_id, arn) == [lb["LoadBalancerArn"]]
        assert ":loadbalancer/app/shop/" in lb["LoadBalancerArn"]
        with pytest.raises(CertificateInUse):
            await acm.delete(world.tenant_id, arn)
        await world.client.call("DeleteListener", ListenerArn=listener["ListenerArn"])
        await acm.delete(world.tenant_id, arn)


async def test_an_acm_arn_a_listener_cannot_take(tmp_path: Path) -> None:
    async with acm_elb_world(tmp_path) as (world, acm):
        arn, _ = await _imported(world, acm, "www.example.test")
        other = await world.ec2.identity.create_tenant("other")
        elsewhere, _ = await _imported_for(acm, other.tenant.id)
        lb = await world.load_balancer()
        group = await world.target_group(Protocol="TLS", Port=443)
        action = [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]
        base = {"LoadBalancerArn": lb["LoadBalancerArn"], "Protocol": "TLS", "Port": 443}
        gone = arn[:-12] + "000000000000"
        for bad in (gone, elsewhere, arn.replace(REGION, "eu-fr-2"), "arn:aws:acm:x",
                    arn.replace(":acm:", ":s3:")):  # fmt: skip
            await refused(
                world.client, "CreateListener", "CertificateNotFound", DefaultActions=action,
                Certificates=[{"CertificateArn": bad}], **base,
            )  # fmt: skip
        assert isinstance(world.service.certificates, AccountCertificates)


async def _imported_for(acm: AcmService, tenant_id: str) -> tuple[str, Any]:
    issued = issue("x.example.test", kind="ec256")
    made = await acm.import_certificate(tenant_id, issued.body, issued.key)
    return made.arn, issued


def test_a_listeners_load_balancer() -> None:
    listener = "arn:aws:elasticloadbalancing:eu-fr-1:111111111111:listener/net/web/0a1b/2c3d"
    assert load_balancer_of(listener) == (
        "arn:aws:elasticloadbalancing:eu-fr-1:111111111111:loadbalancer/net/web/0a1b"
    )
