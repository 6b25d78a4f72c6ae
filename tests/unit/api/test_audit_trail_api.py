"""The audit trail on the management API, in process: a tenant's root reads its tenant's log
(its other principals as IAM allows them: test_management_iam.py), the operator the platform's,
nobody another's (tenant isolation); checkpoints open with the published key, entries page
within ``audit_max_entries``, proofs verify, bad ranges are problems."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from andromede.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from andromede.audit.model import Outcome, parse_entry
from andromede.audit.note import Checkpoint, open_note, parse_verifier_key
from support.apiclient import ApiHarness, HttpxSigV4, api_harness


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path, audit_max_entries=4) as harness:
        yield harness


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:andromede:problem:{slug}"


def record(api: ApiHarness, n: int, tenant_id: str | None) -> None:
    api.audit.record(
        request_id=f"R{n}",
        tenant_id=tenant_id,
        principal=None,
        action="s3:PutObject",
        resource=f"arn:aws:s3:::b/k{n}",
        outcome=Outcome.SUCCESS,
    )


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(f"/api/v1/audit{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_tenant_root_reads_its_log_and_everything_verifies(api: ApiHarness) -> None:
    tenant = api.admin_tenant_id
    for n in range(6):
        record(api, n, tenant)
    await api.audit.flush()
    async with api.client() as anonymous:
        published = await get(anonymous, "/public-key")
    name, public_key = parse_verifier_key(published["verifier_key"])
    assert base64.b64decode(published["public_key"]) == public_key
    assert name == published["key_name"] == f"{api.settings.s3_domain}/{api.settings.region}/audit"
    async with api.as_admin() as admin:
        first = await get(admin, "/logs/admin/checkpoint")
        for n in range(6, 9):
            record(api, n, tenant)
        await api.audit.flush()
        second = await get(admin, f"/logs/{tenant}/checkpoint")
        entries = (await get(admin, "/logs/admin/entries", start=0, end=4))["entries"]
        entries += (await get(admin, "/logs/admin/entries", start=4, end=8))["entries"]
        entries += (await get(admin, "/logs/admin/entries", start=8, end=9))["entries"]
        inclusion = await get(admin, "/logs/admin/proofs/inclusion", index=7, size=9)
        consistency = await get(admin, "/logs/admin/proofs/consistency", first=6, second=9)
    origin = f"{name}/{tenant}"
    assert first["origin"] == second["origin"] == origin and first["log"] == tenant
    old = Checkpoint.parse(open_note(first["checkpoint"], origin, public_key))
    new = Checkpoint.parse(open_note(second["checkpoint"], origin, public_key))
    assert (old.size, new.size) == (6, 9)
    assert base64.b64decode(second["root_hash"]) == new.root_hash
    assert [parse_entry(e).request_id for e in entries] == [f"R{n}" for n in range(9)]
    hashes = [base64.b64decode(h) for h in inclusion["hashes"]]
    assert verify_inclusion(7, 9, leaf_hash(entries[7].encode()), hashes, new.root_hash)
    hashes = [base64.b64decode(h) for h in consistency["hashes"]]
    assert verify_consistency(6, 9, hashes, old.root_hash, new.root_hash)


async def test_ranges_past_the_log_or_the_page_limit_are_problems(api: ApiHarness) -> None:
    for n in range(5):
        record(api, n, api.admin_tenant_id)
    await api.audit.flush()
    async with api.as_admin() as admin:
        base = "/api/v1/audit/logs/admin"
        too_many = await admin.get(f"{base}/entries", params={"start": 0, "end": 5})
        assert_problem(too_many, 400, "invalid-tree-range")
        assert "audit_max_entries" in too_many.json()["detail"]
        assert_problem(
            await admin.get(f"{base}/entries", params={"start": 3, "end": 6}),
            400,
            "invalid-tree-range",
        )
        assert_problem(
            await admin.get(f"{base}/proofs/inclusion", params={"index": 5, "size": 5}),
            400,
            "invalid-tree-range",
        )
        assert_problem(
            await admin.get(f"{base}/proofs/consistency", params={"first": 3, "second": 6}),
            400,
            "invalid-tree-range",
        )
        assert_problem(
            await admin.get(f"{base}/proofs/consistency", params={"first": -1, "second": 2}),
            422,
            "validation-failed",
        )
        assert_problem(await admin.get(f"{base}/entries"), 422, "validation-failed")


async def test_each_reads_only_its_own_log(api: ApiHarness) -> None:
    other = await api.identity.create_tenant("other")
    record(api, 1, api.admin_tenant_id)
    record(api, 2, other.tenant.id)
    record(api, 3, None)
    await api.audit.flush()
    other_root = HttpxSigV4(Credentials(other.access_key_id, other.secret_access_key))
    await api.identity.create_user(api.admin_tenant_id, "alice")
    key = await api.identity.create_access_key(api.admin_tenant_id, "alice")
    alice = HttpxSigV4(Credentials(key.key.access_key_id, key.secret_access_key))
    paths = ["/checkpoint", "/entries?start=0&end=1", "/proofs/inclusion?index=0&size=1",
             "/proofs/consistency?first=0&second=1"]  # fmt: skip
    async with (
        api.client(other_root) as stranger,
        api.as_operator() as operator,
        api.client(alice) as user,
        api.client() as anonymous,
    ):
        for path in paths:
            for log in ("admin", api.admin_tenant_id, "platform", "nobody"):
                assert_problem(
                    await stranger.get(f"/api/v1/audit/logs/{log}{path}"), 404, "no-such-log"
                )
            for log in ("admin", "other", "nobody"):
                assert_problem(
                    await operator.get(f"/api/v1/audit/logs/{log}{path}"), 404, "no-such-log"
                )
            assert_problem(await user.get(f"/api/v1/audit/logs/admin{path}"), 403, "access-denied")
            assert_problem(
                await anonymous.get(f"/api/v1/audit/logs/admin{path}"), 401, "not-authenticated"
            )
        mine = await get(stranger, "/logs/other/entries", start=0, end=1)
        assert [parse_entry(e).request_id for e in mine["entries"]] == ["R2"]
        platform = await get(operator, "/logs/platform/entries", start=0, end=1)
        assert [parse_entry(e).tenant_id for e in platform["entries"]] == [None]


async def test_pruned_entries_are_gone_and_their_hashes_served(api: ApiHarness) -> None:
    from datetime import timedelta

    for n in range(3):
        record(api, n, api.admin_tenant_id)
    await api.audit.flush()
    assert await api.audit_store.prune(datetime.now(UTC) + timedelta(seconds=1)) == 3
    record(api, 3, api.admin_tenant_id)
    await api.audit.flush()
    async with api.as_admin() as admin:
        base = "/api/v1/audit/logs/admin"
        assert_problem(
            await admin.get(f"{base}/entries", params={"start": 2, "end": 4}), 410, "entries-pruned"
        )
        kept = await get(admin, "/logs/admin/entries", start=3, end=4)
        assert parse_entry(kept["entries"][0]).request_id == "R3"
        pruned = await get(admin, "/logs/admin/pruned")
    assert pruned["size"] == 3 and len(pruned["hashes"]) == 2  # subtrees of 2 and 1 leaves
    async with api.as_operator() as operator:
        assert_problem(await operator.get(f"{base}/pruned"), 404, "no-such-log")
