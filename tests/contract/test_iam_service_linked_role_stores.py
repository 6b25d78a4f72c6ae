"""IAM service-linked roles (decision 0208) on every identity store: the in-memory twin,
SQLite and PostgreSQL — the role kept under its two-level path, found by that path's prefix
(the AWS-managed policy's AttachmentCount), a second one under the name refused, deleted when
no resource uses it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.iam.store_sql import SqlIdentityStore
from support.store_backends import BACKENDS, backend_database

ASG = "autoscaling.amazonaws.com"
POLICY = "arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy"


@pytest.fixture(params=BACKENDS)
async def identity(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[IdentityService]:
    async with backend_database(request, tmp_path) as db:
        store = MemoryIdentityStore() if db is None else SqlIdentityStore(db)
        yield IdentityService(store, SecretSealer(os.urandom(32)))


async def test_a_service_linked_role_is_kept_found_and_deleted(identity: IdentityService) -> None:
    tenant = (await identity.create_tenant("acme")).tenant.id
    other = (await identity.create_tenant("other")).tenant.id
    role = await identity.create_service_linked_role(tenant, ASG)
    blue = await identity.create_service_linked_role(tenant, ASG, custom_suffix="blue_1")
    got = await identity.get_role(tenant, "awsservicerolefor" + "autoscaling")  # any case
    assert (got.id, got.path) == (role.id, f"/aws-service-role/{ASG}/")
    assert got.assume_role_policy_document == role.assume_role_policy_document
    assert (await identity.get_policy(tenant, POLICY)).attachment_count == 2
    assert (await identity.get_policy(other, POLICY)).attachment_count == 0
    listed = await identity.list_roles(tenant, "/aws-service-role/")
    assert [r.name for r in listed.items] == [role.name, blue.name]
    with pytest.raises(InvalidInput):
        await identity.create_service_linked_role(tenant, ASG)

    task = await identity.delete_service_linked_role(tenant, blue.name)
    await identity.settle_linked_role_deletions()
    assert (await identity.service_linked_role_deletion_status(tenant, task)).status == "SUCCEEDED"
    with pytest.raises(NoSuchEntity):
        await identity.get_role(tenant, blue.name)
    assert (await identity.get_policy(tenant, POLICY)).attachment_count == 1
