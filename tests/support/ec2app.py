"""The EC2 app in process over the in-memory identity, store and hypervisor, and a client that
serialises, signs and parses exactly as boto3 does (botocore's ``ec2`` serializer, signer and
parser), so the wire shapes are checked against botocore's own model without a server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image
from andromede.compute.service import ComputeService
from andromede.compute.store_memory import MemoryComputeStore
from andromede.compute_adapters import compute_limits
from andromede.ec2api.app import Ec2App
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from support.asgi import AsgiApp, post
from support.computekit import MemoryDiskKeys
from support.query_wire import Answer, service_model

REGION = "eu-fr-1"


class ApiError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('Code')}: {error.get('Message')}")
        self.status = status
        self.code = str(error.get("Code"))
        self.message = str(error.get("Message"))


@dataclass
class Client:
    """Calls of a Query-style service (``service``, signed and serialised with botocore's
    ``protocol``: ``ec2``, or ``query`` for Auto Scaling, IAM…) to ``app`` in process."""

    app: AsgiApp
    credentials: Credentials | None
    last_body: bytes = b""
    service: str = "ec2"
    protocol: Literal["ec2", "query"] = "ec2"

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        status, parsed = await self.raw(operation, **params)
        if status >= 300:
            raise ApiError(status, parsed.get("Error", {}))
        return parsed

    async def raw(self, operation: str, **params: Any) -> tuple[int, Any]:
        answer = await self.send(operation, **params)
        return answer.status, answer.parsed()

    async def send(self, operation: str, **params: Any) -> Answer:
        """The answer as sent, parsed only when asked (``Answer.parsed``)."""
        model = service_model(self.service).operation_model(operation)
        serialised = create_serializer(
            self.protocol, include_validation=False
        ).serialize_to_request(params, model)
        data = urlencode(serialised["body"], doseq=True)
        request = AWSRequest(
            method="POST",
            url="http://127.0.0.1:9000/",
            data=data.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        if self.credentials is not None:
            SigV4Auth(self.credentials, self.service, REGION).add_auth(request)
        prepared = request.prepare()
        status, headers, body = await post(
            self.app, dict(prepared.headers.items()), data.encode(), ("192.0.2.10", 40000)
        )
        self.last_body = body
        return Answer(status, headers, body, model, self.protocol)


@dataclass
class World:
    app: Ec2App
    compute: ComputeService
    identity: IdentityService
    driver: MemoryDriver
    tenant_id: str
    root: Client
    image: Image

    async def tenant(self, name: str) -> tuple[str, Client]:
        created = await self.identity.create_tenant(name)
        credentials = Credentials(created.access_key_id, created.secret_access_key)
        return created.tenant.id, Client(self.app, credentials)


@asynccontextmanager
async def ec2_world(tmp_path: Path, **overrides: Any) -> AsyncIterator[World]:
    """A world whose settings are the tests' defaults with ``overrides`` (a limit's test)."""
    identity = IdentityService(
        MemoryIdentityStore(), SecretSealer(os.urandom(32)), limits=IdentityLimits(cache_ttl=0)
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        region=REGION,
        memory_hypervisor_vcpus=8,
        memory_hypervisor_memory_mib=8192,
        **overrides,
    )
    driver = MemoryDriver(vcpus=8, memory_mib=8192)
    compute = ComputeService(
        MemoryComputeStore(),
        [driver],
        MemoryDiskKeys(),
        compute_limits(settings),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian-12", owner_id=None)
    audit = AuditService(MemoryAuditStore())
    app = Ec2App(compute, identity, audit, settings)
    created = await identity.create_tenant("acme")
    root = Client(app, Credentials(created.access_key_id, created.secret_access_key))
    try:
        yield World(app, compute, identity, driver, created.tenant.id, root, image)
    finally:
        await compute.close()
        await audit.close()
