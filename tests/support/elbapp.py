"""Elastic Load Balancing in process (decision 0191): the ``elasticloadbalancing`` Query app
over a load balancing store (memory, or SQL when a test gives one) and the compute service on
the memory hypervisor, whose VPCs, subnets and instances are made through the EC2 app; a
client that serialises, signs (as ``elasticloadbalancing``) and parses as boto3 does
(botocore's ``elbv2`` model), so the XML shapes are checked against botocore's own model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.serialize import create_serializer

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.elbapi.spec import elb_spec
from andromede.iamapi.app import QueryApp
from andromede.loadbalancing.core import LbLimits
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing.store import LbStore, MemoryLbStore
from andromede.loadbalancing_adapters import ComputeNetwork, IdentityCertificates
from andromede.settings import Settings
from andromede.wiring.queues import KeySealer
from support.asgi import post
from support.ec2app import REGION, ApiError, Client, ec2_world
from support.ec2app import World as Ec2World
from support.keys import key_service_in
from support.query_wire import Answer, service_model

__all__ = ["REGION", "ElbClient", "ElbWorld", "elb_world", "refused"]


@dataclass
class ElbClient(Client):
    """boto3's ``elbv2`` client: the model ``elbv2``, signed for ``elasticloadbalancing``."""

    service: str = "elbv2"
    protocol: Any = "query"

    async def send(self, operation: str, **params: Any) -> Answer:
        model = service_model("elbv2").operation_model(operation)
        serialised = create_serializer("query", include_validation=False).serialize_to_request(
            params, model
        )
        data = urlencode(serialised["body"], doseq=True)
        request = AWSRequest(
            method="POST",
            url="http://127.0.0.1:9000/",
            data=data.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        if self.credentials is not None:
            SigV4Auth(self.credentials, "elasticloadbalancing", REGION).add_auth(request)
        prepared = request.prepare()
        status, headers, body = await post(
            self.app, dict(prepared.headers.items()), data.encode(), ("192.0.2.10", 40000)
        )
        self.last_body = body
        return Answer(status, headers, body, model, "query")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class ElbWorld:
    ec2: Ec2World
    service: LoadBalancingService
    app: QueryApp
    audit_store: MemoryAuditStore
    audit: AuditService
    client: ElbClient
    clock: Clock
    vpc_id: str = ""
    subnets: list[str] = field(default_factory=list)

    @property
    def tenant_id(self) -> str:
        return self.ec2.tenant_id

    async def instance(self, subnet: str | None = None) -> str:
        answer = await self.ec2.root.call(
            "RunInstances",
            ImageId=self.ec2.image.image_id,
            InstanceType="t3.nano",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet or self.subnets[0],
        )
        instance_id = str(answer["Instances"][0]["InstanceId"])
        await self.ec2.compute.settle()
        return instance_id

    async def load_balancer(self, name: str = "web", **params: Any) -> dict[str, Any]:
        answer = await self.client.call(
            "CreateLoadBalancer",
            **{"Name": name, "Type": "network", "Scheme": "internal", "Subnets": self.subnets[:1],
               **params},
        )  # fmt: skip
        return dict(answer["LoadBalancers"][0])

    async def target_group(self, name: str = "web", **params: Any) -> dict[str, Any]:
        answer = await self.client.call(
            "CreateTargetGroup",
            **{"Name": name, "Protocol": "TCP", "Port": 80, "VpcId": self.vpc_id, **params},
        )
        return dict(answer["TargetGroups"][0])


async def refused(client: Client, operation: str, code: str, **params: Any) -> ApiError:
    """The call's refusal, once it is AWS's ``code`` in a body that carries a RequestId."""
    with pytest.raises(ApiError) as caught:
        await client.call(operation, **params)
    assert caught.value.code == code, caught.value
    assert b"<RequestId>" in client.last_body
    return caught.value


@asynccontextmanager
async def elb_world(
    tmp_path: Path,
    store: LbStore | None = None,
    limits: LbLimits | None = None,
    make_settings: Callable[[Path], Settings] | None = None,
) -> AsyncIterator[ElbWorld]:
    async with ec2_world(tmp_path) as ec2:
        clock = Clock()
        service = LoadBalancingService(
            store or MemoryLbStore(),
            ComputeNetwork(ec2.compute),
            REGION,
            limits or LbLimits(provisioning=timedelta(seconds=5)),
            clock=clock,
        )
        # TLS listeners present IAM server certificates (decision 0210), as the wiring does.
        ec2.identity.certificate_sealer = KeySealer(key_service_in(tmp_path / "keys"))
        service.certificates = IdentityCertificates(ec2.identity)
        ec2.identity.certificate_users = service.certificate_users
        audit_store = MemoryAuditStore()
        audit = AuditService(audit_store)
        settings = (make_settings or (lambda p: Settings(data_dir=p / "data", region=REGION)))(
            tmp_path
        )
        app = QueryApp(elb_spec(service, "example.test"), ec2.identity, audit, settings)
        client = ElbClient(app, ec2.root.credentials)
        world = ElbWorld(ec2, service, app, audit_store, audit, client, clock)
        vpc = await ec2.root.call("CreateVpc", CidrBlock="10.20.0.0/16")
        world.vpc_id = vpc["Vpc"]["VpcId"]
        # One zone per Region here (decision 0021): two subnets of it.
        for index in range(2):
            subnet = await ec2.root.call(
                "CreateSubnet", VpcId=world.vpc_id, CidrBlock=f"10.20.{index}.0/24"
            )
            world.subnets.append(subnet["Subnet"]["SubnetId"])
        try:
            yield world
        finally:
            await audit.close()
