"""Operator access requests on the management API, in process (decision 0107): an operator opens,
the tenant's root (or a principal IAM allows, test_management_iam.py) approves, refuses or
revokes, the operator gets credentials only while the request grants; nobody else sees or
decides (tenant isolation); every step is an event of the tenant's transparency log naming the
operator and the request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from andromede.audit.access_service import LAPSE_PRINCIPAL
from andromede.audit.model import Outcome, parse_entry
from support.apiclient import ApiHarness, HttpxSigV4, api_harness


class Clock:
    def __init__(self) -> None:
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(tmp_path: Path, clock: Clock) -> AsyncIterator[ApiHarness]:
    async with api_harness(
        tmp_path,
        access_clock=clock,
        operator_access_max_duration=7200,
        operator_access_reason_max_length=50,
    ) as harness:
        yield harness


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:andromede:problem:{slug}"
    assert body["request_id"] == response.headers["x-request-id"]


BODY: dict[str, Any] = {
    "tenant": "admin",
    "buckets": ["photos"],
    "mode": "read-only",
    "reason": "ticket 42: restore",
    "duration_seconds": 3600,
}


async def open_request(api: ApiHarness, **changes: Any) -> dict[str, Any]:
    async with api.as_operator() as operator:
        response = await operator.post("/api/v1/access-requests", json={**BODY, **changes})
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def tenant_log(api: ApiHarness) -> list[Any]:
    await api.audit.flush()
    head = await api.audit_store.tree_head(api.admin_tenant_id)
    return [
        parse_entry(e) for e in await api.audit_store.entries(api.admin_tenant_id, 0, head.size)
    ]


async def test_open_approve_credentials_revoke_each_in_the_tenants_log(api: ApiHarness) -> None:
    opened = await open_request(api)
    assert opened["state"] == "pending" and opened["expires_at"] is None
    assert opened["include_kms"] is False
    assert opened["tenant_id"] == api.admin_tenant_id and opened["buckets"] == ["photos"]
    path = f"/api/v1/access-requests/{opened['id']}"
    async with api.as_operator() as operator, api.as_admin() as root:
        # Before approval: no credentials.
        assert_problem(await operator.post(f"{path}/credentials"), 409, "access-not-granted")
        listed = (await root.get("/api/v1/access-requests")).json()["access_requests"]
        assert [r["id"] for r in listed] == [opened["id"]]
        approved = await root.post(f"{path}/approve")
        assert approved.status_code == 200, approved.text
        view = approved.json()
        assert view["state"] == "approved" and view["decided_by"].endswith(":root")
        expires = datetime.fromisoformat(view["expires_at"])
        assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
        issued = await operator.post(f"{path}/credentials")
        assert issued.status_code == 200, issued.text
        credentials = issued.json()
        assert credentials["access_key_id"].startswith("ASIA")
        assert datetime.fromisoformat(credentials["expiration"]) <= expires
        revoked = await root.post(f"{path}/revoke")
        assert revoked.json()["state"] == "revoked"
        assert_problem(await operator.post(f"{path}/credentials"), 409, "access-not-granted")
        assert (await operator.get(path)).json()["state"] == "revoked"
    events = [e for e in await tenant_log(api) if e.resource == f"operator-access/{opened['id']}"]
    assert [(e.action, e.outcome) for e in events] == [
        ("andromede:OpenOperatorAccess", Outcome.SUCCESS),
        ("andromede:GetOperatorAccessCredentials", Outcome.FAILURE),
        ("andromede:ApproveOperatorAccess", Outcome.SUCCESS),
        ("andromede:GetOperatorAccessCredentials", Outcome.SUCCESS),
        ("andromede:RevokeOperatorAccess", Outcome.SUCCESS),
        ("andromede:GetOperatorAccessCredentials", Outcome.FAILURE),
    ]
    assert all(e.details["access_request"] == opened["id"] for e in events)
    assert all(e.details["operator"] == "operator" for e in events)
    assert events[0].details["reason"] == "ticket 42: restore"
    assert events[0].principal == "arn:andromede:platform::operator/operator"
    assert events[2].principal == f"arn:aws:iam::{api.admin_tenant_id}:root"


async def test_an_approved_request_ends_by_itself(api: ApiHarness, clock: Clock) -> None:
    opened = await open_request(api, duration_seconds=600)
    path = f"/api/v1/access-requests/{opened['id']}"
    async with api.as_operator() as operator, api.as_admin() as root:
        assert (await root.post(f"{path}/approve")).status_code == 200
        clock.shift = timedelta(seconds=601)
        assert (await root.get(path)).json()["state"] == "expired"
        assert_problem(await operator.post(f"{path}/credentials"), 409, "access-not-granted")
        assert_problem(await root.post(f"{path}/revoke"), 409, "invalid-access-transition")
    last = (await tenant_log(api))[-1]
    assert last.outcome is Outcome.FAILURE and last.details["state"] == "expired"


async def test_a_request_left_pending_lapses_and_cannot_be_approved(
    api: ApiHarness, clock: Clock
) -> None:
    """Undecided for operator_access_request_ttl (7 days by default), a request expires: the
    first read stores the lapse, the tenant's log records it once, and it can no longer be
    approved or refused (decision 0114)."""
    opened = await open_request(api)
    lapses_at = datetime.fromisoformat(opened["lapses_at"])
    assert lapses_at == datetime.fromisoformat(opened["created_at"]) + timedelta(days=7)
    path = f"/api/v1/access-requests/{opened['id']}"
    clock.shift = timedelta(days=7) - timedelta(minutes=1)
    async with api.as_admin() as root, api.as_operator() as operator:
        assert (await root.get(path)).json()["state"] == "pending"
        clock.shift = timedelta(days=7, seconds=1)
        view = (await root.get(path)).json()
        assert (view["state"], view["decided_by"], view["lapses_at"]) == ("expired", None, None)
        assert datetime.fromisoformat(view["decided_at"]) == lapses_at
        approving = await root.post(f"{path}/approve")
        assert_problem(approving, 409, "access-request-lapsed")
        assert "operator_access_request_ttl" in approving.json()["detail"]
        assert_problem(await root.post(f"{path}/refuse"), 409, "access-request-lapsed")
        assert_problem(await operator.post(f"{path}/credentials"), 409, "access-not-granted")
        listed = (await operator.get("/api/v1/access-requests")).json()["access_requests"]
        assert [r["state"] for r in listed] == ["expired"]
    events = [e for e in await tenant_log(api) if e.resource == f"operator-access/{opened['id']}"]
    assert [(e.action, e.outcome) for e in events] == [
        ("andromede:OpenOperatorAccess", Outcome.SUCCESS),
        ("andromede:LapseOperatorAccess", Outcome.SUCCESS),
        ("andromede:GetOperatorAccessCredentials", Outcome.FAILURE),
    ]
    assert events[1].principal == LAPSE_PRINCIPAL
    assert events[1].details["operator"] == "operator"
    assert events[1].details["ttl_seconds"] == str(7 * 86_400)


async def test_a_request_including_sse_kms_objects_says_so_to_the_tenant(
    api: ApiHarness,
) -> None:
    opened = await open_request(api, include_kms=True)
    async with api.as_admin() as root:
        seen = (await root.get(f"/api/v1/access-requests/{opened['id']}")).json()
    assert seen["include_kms"] is True
    [event] = [e for e in await tenant_log(api) if e.action == "andromede:OpenOperatorAccess"]
    assert event.details["include_kms"] == "true"


async def test_the_sweeper_lapses_what_nobody_reads(api: ApiHarness, clock: Clock) -> None:
    stale = await open_request(api)
    clock.shift = timedelta(days=6)
    fresh = await open_request(api)
    clock.shift = timedelta(days=7, seconds=1)
    assert await api.operator_access.lapse_due() == 1
    assert await api.operator_access.lapse_due() == 0  # once
    lapsed = [
        e.resource for e in await tenant_log(api) if e.action == "andromede:LapseOperatorAccess"
    ]
    assert lapsed == [f"operator-access/{stale['id']}"]
    async with api.as_admin() as root:
        listed = (await root.get("/api/v1/access-requests")).json()["access_requests"]
    assert [(r["id"], r["state"]) for r in listed] == [
        (stale["id"], "expired"),
        (fresh["id"], "pending"),
    ]


async def test_the_tenants_root_sees_its_pending_requests_in_whoami(
    api: ApiHarness, clock: Clock
) -> None:
    """A console polls whoami: the root sees how many requests await it; nobody else does —
    not its other users, the operator, or another tenant's root (decision 0114)."""
    other = await api.identity.create_tenant("other")
    stranger = api.client(HttpxSigV4(Credentials(other.access_key_id, other.secret_access_key)))
    await api.identity.create_user(api.admin_tenant_id, "alice")
    key = await api.identity.create_access_key(api.admin_tenant_id, "alice")
    alice = api.client(HttpxSigV4(Credentials(key.key.access_key_id, key.secret_access_key)))

    async def pending(client: httpx.AsyncClient) -> Any:
        response = await client.get("/api/v1/whoami")
        assert response.status_code == 200, response.text
        return response.json()["pending_access_requests"]

    async with api.as_admin() as root, api.as_operator() as operator, stranger, alice:
        assert await pending(root) == 0
        first = await open_request(api)
        await open_request(api)
        assert await pending(root) == 2
        assert await pending(stranger) == 0
        assert await pending(alice) is None
        assert await pending(operator) is None
        await root.post(f"/api/v1/access-requests/{first['id']}/refuse")
        assert await pending(root) == 1
        clock.shift = timedelta(days=8)  # the other lapsed: nothing awaits any more
        assert await pending(root) == 0


async def test_a_refused_request_grants_nothing_and_cannot_be_approved(api: ApiHarness) -> None:
    opened = await open_request(api)
    path = f"/api/v1/access-requests/{opened['id']}"
    async with api.as_operator() as operator, api.as_admin() as root:
        assert (await root.post(f"{path}/refuse")).json()["state"] == "refused"
        assert_problem(await root.post(f"{path}/approve"), 409, "invalid-access-transition")
        assert_problem(await operator.post(f"{path}/credentials"), 409, "access-not-granted")


async def test_a_user_without_policies_decides_nothing_nor_the_operator(api: ApiHarness) -> None:
    opened = await open_request(api)
    path = f"/api/v1/access-requests/{opened['id']}"
    await api.identity.create_user(api.admin_tenant_id, "alice")
    key = await api.identity.create_access_key(api.admin_tenant_id, "alice")
    alice = api.client(HttpxSigV4(Credentials(key.key.access_key_id, key.secret_access_key)))
    async with api.as_operator() as operator, alice:
        for verb in ("approve", "refuse", "revoke"):
            assert_problem(await operator.post(f"{path}/{verb}"), 403, "access-decision-forbidden")
            assert_problem(await alice.post(f"{path}/{verb}"), 403, "access-denied")
        assert_problem(await alice.get("/api/v1/access-requests"), 403, "access-denied")
        # Nor does a tenant open one, or ask for credentials.
        assert_problem(
            await alice.post("/api/v1/access-requests", json=BODY), 403, "operators-only"
        )
        assert_problem(await alice.post(f"{path}/credentials"), 403, "operators-only")
    async with api.as_admin() as root:
        assert (await root.get(path)).json()["state"] == "pending"


async def test_another_tenant_sees_and_decides_nothing(api: ApiHarness) -> None:
    opened = await open_request(api)
    path = f"/api/v1/access-requests/{opened['id']}"
    other = await api.identity.create_tenant("other")
    client = api.client(HttpxSigV4(Credentials(other.access_key_id, other.secret_access_key)))
    async with client:
        assert_problem(await client.get(path), 404, "no-such-access-request")
        for verb in ("approve", "refuse", "revoke"):
            assert_problem(await client.post(f"{path}/{verb}"), 404, "no-such-access-request")
        assert (await client.get("/api/v1/access-requests")).json() == {"access_requests": []}
    async with api.as_admin() as root:
        assert (await root.get(path)).json()["state"] == "pending"


async def test_another_operator_sees_nothing_of_its_colleagues_request(api: ApiHarness) -> None:
    opened = await open_request(api)
    path = f"/api/v1/access-requests/{opened['id']}"
    async with api.as_admin() as root:
        assert (await root.post(f"{path}/approve")).status_code == 200
    colleague = await api.identity.create_operator("colleague")
    client = api.client(
        HttpxSigV4(Credentials(colleague.access_key_id, colleague.secret_access_key))
    )
    async with client:
        assert_problem(await client.get(path), 404, "no-such-access-request")
        assert_problem(await client.post(f"{path}/credentials"), 404, "no-such-access-request")
        assert (await client.get("/api/v1/access-requests")).json() == {"access_requests": []}


async def test_bounds_of_a_request_are_the_settings(api: ApiHarness) -> None:
    async with api.as_operator() as operator:
        base = "/api/v1/access-requests"
        too_long = await operator.post(base, json={**BODY, "duration_seconds": 7201})
        assert_problem(too_long, 400, "invalid-access-request")
        assert "operator_access_max_duration" in too_long.json()["detail"]
        assert_problem(
            await operator.post(base, json={**BODY, "duration_seconds": 59}),
            422,
            "validation-failed",
        )
        wordy = await operator.post(base, json={**BODY, "reason": "x" * 51})
        assert_problem(wordy, 400, "invalid-access-request")
        assert "operator_access_reason_max_length" in wordy.json()["detail"]
        assert_problem(
            await operator.post(base, json={**BODY, "reason": "   "}), 422, "validation-failed"
        )
        assert_problem(
            await operator.post(base, json={**BODY, "tenant": "nobody"}), 404, "no-such-tenant"
        )
        assert_problem(
            await operator.post(base, json={**BODY, "mode": "admin"}), 422, "validation-failed"
        )
        assert_problem(
            await operator.post(base, json={**BODY, "buckets": ["Bad_Name"]}),
            422,
            "validation-failed",
        )
        assert_problem(await operator.get(f"{base}/oar-nope"), 422, "validation-failed")
        assert_problem(await operator.get(f"{base}/oar-{'0' * 20}"), 404, "no-such-access-request")
        document = (await operator.get("/api/v1/openapi.json")).json()
        bounds = document["components"]["schemas"]["OpenAccessRequest"]["properties"]
        assert bounds["duration_seconds"]["maximum"] == 7200
        assert bounds["reason"]["maxLength"] == 50
        every = await operator.post(base, json={**BODY, "buckets": None, "mode": "read-write"})
        assert every.status_code == 201 and every.json()["buckets"] is None
