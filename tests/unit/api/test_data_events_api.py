"""A bucket's data events on the management API (decision 0109): the tenant's root reads and
changes them; another tenant, an operator or an IAM user without a policy cannot (tenant
isolation; policies: test_management_iam.py); each change is an event of the tenant's log; bad
input is a problem."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from botocore.credentials import Credentials

from andromede.storage.model import Bucket
from support.apiclient import ApiHarness, HttpxSigV4, api_harness


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path) as harness:
        yield harness


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:andromede:problem:{slug}"
    assert body["request_id"] == response.headers["x-request-id"]


async def make_bucket(api: ApiHarness, name: str, tenant_id: str) -> None:
    await api.bucket_store.create_bucket(
        Bucket(
            name=name,
            tenant_id=tenant_id,
            owner_id=f"o-{tenant_id}",
            region=api.settings.region,
            created_at=datetime.now(UTC),
        )
    )


async def logged(api: ApiHarness, name: str) -> bool:
    found = await api.bucket_store.get_bucket(name)
    assert found is not None
    return found.data_reads_logged


PATH = "/api/v1/tenants/admin/buckets/photos/data-events"


async def test_the_root_turns_data_reads_on_and_off(api: ApiHarness) -> None:
    await make_bucket(api, "photos", api.admin_tenant_id)
    async with api.as_admin() as root:
        got = await root.get(PATH)
        assert got.status_code == 200, got.text
        assert got.json() == {"bucket": "photos", "read": False, "write": True}
        put = await root.put(PATH, json={"read": True})
        assert put.status_code == 200, put.text
        assert put.json() == {"bucket": "photos", "read": True, "write": True}
        assert await logged(api, "photos")
        by_id = f"/api/v1/tenants/{api.admin_tenant_id}/buckets/photos/data-events"
        assert (await root.get(by_id)).json()["read"] is True
        assert (await root.put(PATH, json={"read": False})).json()["read"] is False
    assert not await logged(api, "photos")
    await api.audit.flush()
    changes = [
        e
        for _, e in await api.audit_store.list_events(api.admin_tenant_id, after_id=0, limit=50)
        if e.action == "andromede:PutBucketDataEvents"
    ]
    assert [(e.resource, e.details, e.outcome.value) for e in changes] == [
        ("arn:aws:s3:::photos", {"read": "true"}, "success"),
        ("arn:aws:s3:::photos", {"read": "false"}, "success"),
    ]


async def test_nobody_else_reads_or_changes_the_setting(api: ApiHarness) -> None:
    other = await api.identity.create_tenant("other")
    await make_bucket(api, "photos", api.admin_tenant_id)
    await make_bucket(api, "theirs", other.tenant.id)
    other_root = HttpxSigV4(Credentials(other.access_key_id, other.secret_access_key))
    await api.identity.create_user(api.admin_tenant_id, "alice")
    key = await api.identity.create_access_key(api.admin_tenant_id, "alice")
    alice = HttpxSigV4(Credentials(key.key.access_key_id, key.secret_access_key))
    async with (
        api.client(other_root) as stranger,
        api.as_operator() as operator,
        api.client(alice) as user,
        api.client() as anonymous,
        api.as_admin() as root,
    ):
        for call in (stranger, operator):
            assert_problem(await call.get(PATH), 404, "no-such-tenant")
            assert_problem(await call.put(PATH, json={"read": True}), 404, "no-such-tenant")
        # Another tenant's bucket named under one's own tenant: as if it did not exist.
        theirs = "/api/v1/tenants/other/buckets/theirs/data-events"
        mine_theirs = "/api/v1/tenants/admin/buckets/theirs/data-events"
        assert_problem(await root.get(mine_theirs), 404, "no-such-bucket")
        assert_problem(await root.put(mine_theirs, json={"read": True}), 404, "no-such-bucket")
        assert_problem(await root.put(theirs, json={"read": True}), 404, "no-such-tenant")
        assert_problem(await user.get(PATH), 403, "access-denied")
        assert_problem(await user.put(PATH, json={"read": True}), 403, "access-denied")
        assert_problem(await anonymous.put(PATH, json={"read": True}), 401, "not-authenticated")
    assert not await logged(api, "photos")
    assert not await logged(api, "theirs")


async def test_bad_input_is_a_problem(api: ApiHarness) -> None:
    await make_bucket(api, "photos", api.admin_tenant_id)
    async with api.as_admin() as root:
        for body in ({}, {"read": "yes"}, {"read": True, "write": False}, [True]):
            assert_problem(await root.put(PATH, json=body), 422, "validation-failed")
        assert_problem(
            await root.put(PATH, content=b"{", headers={"content-type": "application/json"}),
            400,
            "malformed-body",
        )
        assert_problem(await root.get(PATH.replace("photos", "missing")), 404, "no-such-bucket")
        assert_problem(await root.get(PATH.replace("photos", "Bad_Name")), 422, "validation-failed")
    assert not await logged(api, "photos")
