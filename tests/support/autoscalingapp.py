"""EC2 Auto Scaling in process (decision 0156): the Query app over the SQL-less in-memory
group store, the compute service on the memory hypervisor (launching through the real
adapter), and a client that serialises, signs and parses as boto3 does (botocore's
``autoscaling`` model), so the XML shapes are checked against botocore's own model."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.autoscaling.policies import PolicyAlarms
from andromede.autoscaling.reconciler import Reconciler
from andromede.autoscaling.service import AutoScalingService, ScalingLimits
from andromede.autoscaling.store import GroupStore, MemoryGroupStore
from andromede.autoscaling_adapters import ComputeFleet
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.launch_template import LaunchParameters
from andromede.compute.model import Image
from andromede.compute.service import ComputeService
from andromede.compute.store_memory import MemoryComputeStore
from andromede.compute_adapters import compute_limits
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.iamapi.app import QueryApp
from andromede.iamapi.autoscaling import autoscaling_spec
from andromede.settings import Settings
from support.computekit import MemoryDiskKeys
from support.ec2app import ApiError, Client

REGION = "eu-fr-1"
_MODELS = botocore.session.get_session()


def autoscaling_client(app: QueryApp, credentials: Credentials | None) -> Client:
    """A client of the ``autoscaling`` Query service, as boto3's."""
    return Client(app, credentials, service="autoscaling", protocol="query")


@dataclass
class World:
    app: QueryApp
    service: AutoScalingService
    compute: ComputeService
    identity: IdentityService
    audit_store: MemoryAuditStore
    audit: AuditService
    tenant_id: str
    root: Client
    image: Image

    async def tenant(self, name: str) -> tuple[str, Client]:
        created = await self.identity.create_tenant(name)
        credentials = Credentials(created.access_key_id, created.secret_access_key)
        return created.tenant.id, autoscaling_client(self.app, credentials)

    async def template(
        self, tenant_id: str, name: str = "web", instance_type: str = "t3.nano"
    ) -> str:
        """A launch template of ``tenant_id`` launching the world's image."""
        parameters: LaunchParameters = (
            ("ImageId", self.image.image_id),
            ("InstanceType", instance_type),
        )
        template, _ = await self.compute.create_launch_template(
            tenant_id, name=name, parameters=parameters, created_by="test"
        )
        return template.template_id

    def reconciler(self, owner: str = "gw-1") -> Reconciler:
        return Reconciler(self.service, owner, lease=timedelta(seconds=60))

    async def converge(self, owner: str = "gw-1") -> None:
        await self.reconciler(owner).run_once()
        await self.compute.settle()

    async def create_group(
        self, name: str = "web", *, template_name: str = "web", **params: Any
    ) -> str:
        """The root's CreateAutoScalingGroup ``name`` (MinSize 0 and MaxSize 4 unless
        ``params`` say otherwise) over a new launch template's ``$Latest``; the template's id."""
        template = await self.template(self.tenant_id, name=template_name)
        await self.root.call(
            "CreateAutoScalingGroup",
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            **{"MinSize": 0, "MaxSize": 4, **params},
        )
        return template


class Clock:
    """A clock the test sets, for the service's ``clock``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def refused(client: Client, operation: str, code: str, **params: Any) -> ApiError:
    """The call's refusal, once it is AWS's ``code`` in a body that carries a RequestId."""
    with pytest.raises(ApiError) as caught:
        await client.call(operation, **params)
    assert caught.value.code == code, caught.value
    assert b"<RequestId>" in client.last_body
    return caught.value


@asynccontextmanager
async def autoscaling_world(
    tmp_path: Path,
    store: GroupStore | None = None,
    *,
    policy_alarms: PolicyAlarms | None = None,
    **overrides: Any,
) -> AsyncIterator[World]:
    identity = IdentityService(
        MemoryIdentityStore(), SecretSealer(os.urandom(32)), limits=IdentityLimits(cache_ttl=0)
    )
    settings = Settings(data_dir=tmp_path / "data", region=REGION, **overrides)
    driver = MemoryDriver(vcpus=256, memory_mib=262144)
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
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    service = AutoScalingService(
        store or MemoryGroupStore(),
        ComputeFleet(compute),
        ScalingLimits(
            max_groups_per_tenant=settings.max_autoscaling_groups_per_tenant,
            max_instances_per_group=settings.max_instances_per_autoscaling_group,
            max_scheduled_actions=settings.max_scheduled_actions_per_autoscaling_group,
            max_lifecycle_hooks=settings.max_lifecycle_hooks_per_autoscaling_group,
            max_policies=settings.max_scaling_policies_per_autoscaling_group,
            max_notification_configurations=(
                settings.max_notification_configurations_per_autoscaling_group
            ),
            max_warm_pool_instances=settings.max_warm_pool_instances_per_autoscaling_group,
        ),
        region=settings.region,
    )
    app = QueryApp(autoscaling_spec(service, REGION, policy_alarms), identity, audit, settings)
    created = await identity.create_tenant("acme")
    root = autoscaling_client(app, Credentials(created.access_key_id, created.secret_access_key))
    try:
        yield World(
            app, service, compute, identity, audit_store, audit, created.tenant.id, root, image
        )
    finally:
        await compute.close()
        await audit.close()
