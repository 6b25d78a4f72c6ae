"""The management API in process (httpx ASGITransport) on memory twins: authentication by
SigV4 and bearer tokens, who may see and do what, and the problem-details shape of every
error."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from andromede.db.errors import DatabaseUnavailable
from andromede.iam import totp
from andromede.kms.errors import KeyDestroyed
from andromede.kms.keys_errors import CmkNotFound
from andromede.storage.model import Bucket
from andromede.storage.object_lock import ObjectLockConfiguration
from support.apiclient import REGION, ApiHarness, HttpxSigV4, api_harness
from support.clock import Clock
from support.kmskit import root

PASSWORD = "Correct-Horse-42"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path, login_max_failures=2, max_api_body_size=4096) as harness:
        yield harness


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:andromede:problem:{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# -- unauthenticated ----------------------------------------------------------------------------
async def test_health_needs_no_authentication(api: ApiHarness) -> None:
    async with api.client() as client:
        response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 16


async def test_openapi_document_is_served_and_no_docs_ui(api: ApiHarness) -> None:
    async with api.client() as client:
        document = (await client.get("/api/v1/openapi.json")).json()
        docs = await client.get("/docs")
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/login", "/api/v1/tenants", "/api/v1/tenants/{tenant}/quota"} <= set(
        document["paths"]
    )
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(document["components"]["securitySchemes"]) == {"bearer", "sigv4"}
    tenants = document["paths"]["/api/v1/tenants"]["get"]["responses"]
    assert set(tenants["401"]["content"]) == {"application/problem+json"}
    assert_problem(docs, 404, "not-found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/whoami"),
        ("GET", "/api/v1/tenants"),
        ("POST", "/api/v1/tenants"),
        ("GET", "/api/v1/tenants/admin"),
        ("PUT", "/api/v1/tenants/admin/quota"),
        ("GET", "/api/v1/regions"),
        ("POST", "/api/v1/logout"),
    ],
)
async def test_missing_authentication_is_401_with_a_bearer_challenge(
    api: ApiHarness, method: str, path: str
) -> None:
    async with api.client() as client:
        response = await client.request(method, path)
    assert_problem(response, 401, "not-authenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 300],
)
async def test_invalid_authentication_is_401(api: ApiHarness, authorization: str) -> None:
    async with api.client() as client:
        response = await client.get("/api/v1/whoami", headers={"Authorization": authorization})
    assert_problem(response, 401, "not-authenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_wrong_secret_or_another_service_does_not_authenticate(api: ApiHarness) -> None:
    wrong = Credentials(api.operator.access_key, "x" * 40)
    async with api.client(HttpxSigV4(wrong)) as client:
        body = assert_problem(await client.get("/api/v1/tenants"), 401, "not-authenticated")
    assert "signature" in body["detail"]
    assert wrong.secret_key not in json.dumps(body)
    async with api.client(HttpxSigV4(api.operator, service="s3")) as client:
        assert_problem(await client.get("/api/v1/tenants"), 401, "not-authenticated")
    async with api.client(HttpxSigV4(api.operator, region="us-east-1")) as client:
        assert_problem(await client.get("/api/v1/tenants"), 401, "not-authenticated")


# -- operators ------------------------------------------------------------------------------------
async def test_operator_lists_creates_and_reads_tenants(api: ApiHarness) -> None:
    async with api.as_operator() as client:
        whoami = (await client.get("/api/v1/whoami")).json()
        created = await client.post("/api/v1/tenants", json={"name": "acme"})
        listed = (await client.get("/api/v1/tenants")).json()
        by_name = await client.get("/api/v1/tenants/acme")
        body = created.json()
        by_id = await client.get(f"/api/v1/tenants/{body['tenant']['id']}")
        again = await client.post("/api/v1/tenants", json={"name": "acme"})
    assert whoami["kind"] == "operator" and whoami["tenant_id"] is None
    assert whoami["authenticated_by"] == "sigv4"
    assert created.status_code == 201
    assert body["tenant"]["name"] == "acme" and body["tenant"]["status"] == "active"
    assert body["root_arn"] == f"arn:aws:iam::{body['tenant']['id']}:root"
    assert body["credentials"]["access_key_id"].startswith("AKIA")
    assert {t["name"] for t in listed["tenants"]} == {"admin", "acme"}
    assert by_name.json() == by_id.json() == body["tenant"]
    assert_problem(again, 409, "tenant-exists")
    # The new root's key works at once.
    root = Credentials(
        body["credentials"]["access_key_id"], body["credentials"]["secret_access_key"]
    )
    async with api.client(HttpxSigV4(root)) as client:
        assert (await client.get("/api/v1/whoami")).json()["kind"] == "root"


async def test_tenant_lifecycle_and_its_effect_on_keys(api: ApiHarness) -> None:
    async with api.as_operator() as operator, api.as_admin() as admin:
        assert (await admin.get("/api/v1/whoami")).status_code == 200
        suspended = await operator.post("/api/v1/tenants/admin/suspend")
        assert suspended.json()["status"] == "suspended"
        assert_problem(await admin.get("/api/v1/whoami"), 401, "not-authenticated")
        reactivated = await operator.post("/api/v1/tenants/admin/reactivate")
        assert reactivated.json()["status"] == "active"
        assert (await admin.get("/api/v1/whoami")).status_code == 200
        assert (await operator.post("/api/v1/tenants/admin/close")).json()["status"] == "closed"
        again = await operator.post("/api/v1/tenants/admin/reactivate")
        assert_problem(again, 409, "invalid-tenant-transition")
        assert_problem(await admin.get("/api/v1/whoami"), 401, "not-authenticated")
        assert_problem(await operator.post("/api/v1/tenants/nobody/close"), 404, "no-such-tenant")


async def test_closing_a_tenant_crypto_shreds_it(api: ApiHarness) -> None:
    # Its own key ring (SSE-S3, SSE-C, volumes) and every KMS key of its account go from the
    # root-key provider before it is closed: a database copy restored later opens nothing.
    tenant = api.admin_tenant_id
    api.keys.create_tenant_key(tenant)
    sse_s3 = api.keys.new_data_key(tenant)
    owner = root(tenant)
    kms_key = await api.customer_keys.create_key(owner)
    blob, _ = await api.customer_keys.encrypt(owner, kms_key.key_id, b"ledger", {})
    other = (await api.identity.create_tenant("bystander")).tenant
    api.keys.create_tenant_key(other.id)
    kept = api.keys.new_data_key(other.id)
    # Its event notification topics go too (decision 0132): nothing is announced again.
    assert api.topics is not None
    await api.topics.create_topic(tenant, "writes", {"push-endpoint": "https://example.com/"})
    await api.topics.create_topic(other.id, "theirs", {"push-endpoint": "https://example.com/"})
    async with api.as_operator() as operator:
        assert (await operator.post("/api/v1/tenants/admin/close")).json()["status"] == "closed"
    assert await api.topics.list_topics(tenant) == []
    assert [t.name for t in await api.topics.list_topics(other.id)] == ["theirs"]
    assert api.forgotten == [tenant]  # the other contexts' data (Firehose's, decision 0223)
    with pytest.raises(KeyDestroyed):
        api.keys.unwrap_data_key(tenant, sse_s3.wrapped)
    with pytest.raises(KeyDestroyed):
        api.keys.tenant_key_ring(kms_key.key_id)
    with pytest.raises(CmkNotFound):
        await api.customer_keys.decrypt(owner, blob, {})
    assert api.keys.unwrap_data_key(other.id, kept.wrapped)  # other tenants keep theirs


async def test_a_tenant_with_object_lock_buckets_is_not_closed(api: ApiHarness) -> None:
    """Crypto-shredding would destroy versions a retention promises to keep (decision
    0102): the close is refused, nothing is shredded, and it goes through once the bucket
    is gone."""
    tenant = api.admin_tenant_id
    api.keys.create_tenant_key(tenant)
    sse_s3 = api.keys.new_data_key(tenant)
    api.buckets.append(
        Bucket(
            "vault", tenant, "o", REGION, datetime.now(UTC), object_lock=ObjectLockConfiguration()
        )
    )
    async with api.as_operator() as operator:
        refused = assert_problem(
            await operator.post("/api/v1/tenants/admin/close"), 409, "invalid-tenant-transition"
        )
        assert "vault" in refused["detail"]
        api.keys.unwrap_data_key(tenant, sse_s3.wrapped)  # not shredded: it still opens
        api.buckets.clear()
        assert (await operator.post("/api/v1/tenants/admin/close")).json()["status"] == "closed"


async def test_quota_set_and_read(api: ApiHarness) -> None:
    async with api.as_operator() as operator, api.as_admin() as admin:
        empty = (await operator.get("/api/v1/tenants/admin/quota")).json()
        put = await operator.put(
            "/api/v1/tenants/admin/quota", json={"max_buckets": 10, "max_bytes": 2**40}
        )
        own = (await admin.get(f"/api/v1/tenants/{api.admin_tenant_id}/quota")).json()
        negative = await operator.put("/api/v1/tenants/admin/quota", json={"max_buckets": -1})
        unknown = await operator.put("/api/v1/tenants/admin/quota", json={"max_bucket": 1})
        cleared = await operator.put("/api/v1/tenants/admin/quota", json={})
    assert empty == {"tenant_id": api.admin_tenant_id, "max_buckets": None, "max_bytes": None}
    assert put.status_code == 200
    assert own == {"tenant_id": api.admin_tenant_id, "max_buckets": 10, "max_bytes": 2**40}
    errors = assert_problem(negative, 422, "validation-failed")["errors"]
    assert errors[0]["loc"] == ["body", "max_buckets"] and "input" not in errors[0]
    assert_problem(unknown, 422, "validation-failed")
    assert cleared.json()["max_buckets"] is None


async def test_tenant_regions_set_and_read(api: ApiHarness) -> None:
    path = "/api/v1/tenants/admin/regions"
    async with api.as_operator() as operator, api.as_admin() as admin:
        empty = (await operator.get(path)).json()
        put = await operator.put(path, json={"allowed_regions": ["eu-fr-1"]})
        own = (await admin.get(f"/api/v1/tenants/{api.admin_tenant_id}/regions")).json()
        by_tenant = await admin.put(path, json={"allowed_regions": []})
        unknown = await operator.put(path, json={"allowed_regions": ["us-east-1"]})
        cleared = await operator.put(path, json={"allowed_regions": []})
    assert empty == {"tenant_id": api.admin_tenant_id, "allowed_regions": []}
    assert put.status_code == 200
    assert own == {"tenant_id": api.admin_tenant_id, "allowed_regions": ["eu-fr-1"]}
    assert_problem(by_tenant, 403, "operators-only")
    assert_problem(unknown, 404, "no-such-region")
    assert cleared.json()["allowed_regions"] == []
    assert await api.identity.get_tenant_regions(api.admin_tenant_id) == frozenset()


async def test_regions(api: ApiHarness) -> None:
    async with api.as_admin() as client:
        regions = (await client.get("/api/v1/regions")).json()
    assert regions == {
        "regions": [
            {
                "name": "eu-fr-1",
                "s3_domain": "s3.localhost",
                "scheme": "http",
                "current": True,
                "default": True,
                "jurisdiction": None,
                "endpoint": None,
            }
        ]
    }


# -- tenants see themselves only ----------------------------------------------------------------
async def test_a_tenant_sees_itself_and_nothing_of_others(api: ApiHarness) -> None:
    other = await api.identity.create_tenant("other")
    async with api.as_admin() as admin:
        assert_problem(await admin.get("/api/v1/tenants"), 403, "operators-only")
        assert_problem(
            await admin.post("/api/v1/tenants", json={"name": "x"}), 403, "operators-only"
        )
        own = await admin.get("/api/v1/tenants/admin")
        assert own.json()["id"] == api.admin_tenant_id
        hidden = await admin.get(f"/api/v1/tenants/{other.tenant.id}")
        missing = await admin.get("/api/v1/tenants/999999999999")
        hidden_by_name = await admin.get("/api/v1/tenants/other")
        missing_by_name = await admin.get("/api/v1/tenants/nosuch")
        for response in (hidden, missing, hidden_by_name, missing_by_name):
            assert_problem(response, 404, "no-such-tenant")
        # Same answer whether the tenant exists or not, but for the name asked.
        assert hidden.json()["detail"].replace(other.tenant.id, "X") == missing.json()[
            "detail"
        ].replace("999999999999", "X")
        assert_problem(await admin.get("/api/v1/tenants/other/quota"), 404, "no-such-tenant")
        assert_problem(await admin.post("/api/v1/tenants/other/suspend"), 404, "no-such-tenant")
        assert_problem(
            await admin.put("/api/v1/tenants/other/quota", json={}), 404, "no-such-tenant"
        )
        assert_problem(await admin.post("/api/v1/tenants/admin/suspend"), 403, "operators-only")
        assert_problem(
            await admin.put("/api/v1/tenants/admin/quota", json={}), 403, "operators-only"
        )
    assert (await api.identity.get_tenant("other")).status.value == "active"


async def test_an_iam_user_of_the_tenant_sees_it_too(api: ApiHarness) -> None:
    await api.identity.create_user(api.admin_tenant_id, "alice")
    key = await api.identity.create_access_key(api.admin_tenant_id, "alice")
    alice = Credentials(key.key.access_key_id, key.secret_access_key)
    async with api.client(HttpxSigV4(alice)) as client:
        whoami = (await client.get("/api/v1/whoami")).json()
        assert whoami["kind"] == "user" and whoami["user_name"] == "alice"
        assert (await client.get("/api/v1/tenants/admin")).status_code == 200
        assert_problem(await client.get("/api/v1/tenants"), 403, "operators-only")


# -- console login -------------------------------------------------------------------------------
async def test_bearer_login_whoami_logout(api: ApiHarness) -> None:
    await api.identity.create_login_profile(api.admin_tenant_id, "root", PASSWORD)
    async with api.client() as client:
        login = await client.post(
            "/api/v1/login",
            json={"account": "admin", "user_name": "root", "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        session = login.json()
        bearer = {"Authorization": f"Bearer {session['token']}"}
        whoami = (await client.get("/api/v1/whoami", headers=bearer)).json()
        own = await client.get("/api/v1/tenants/admin", headers=bearer)
        operators_only = await client.get("/api/v1/tenants", headers=bearer)
        logout = await client.post("/api/v1/logout", headers=bearer)
        after = await client.get("/api/v1/whoami", headers=bearer)
    assert session["token_type"] == "Bearer" and session["expires_at"]
    assert session["principal"]["kind"] == "root"
    assert whoami["authenticated_by"] == "bearer" and whoami["tenant_id"] == api.admin_tenant_id
    assert own.status_code == 200
    assert_problem(operators_only, 403, "operators-only")
    assert logout.status_code == 204
    assert_problem(after, 401, "not-authenticated")


async def test_mfa_code_and_idle_expiry(tmp_path: Path) -> None:
    clock = Clock()
    async with api_harness(tmp_path, clock=clock, console_session_idle_timeout=600) as api:
        account = api.admin_tenant_id
        await api.identity.create_user(account, "alice")
        await api.identity.create_login_profile(account, "alice", PASSWORD)
        device = await api.identity.create_virtual_mfa_device(account, "alice")
        seed = totp.seed_from_base32(device.base32_string_seed)
        step = totp.time_step(clock.now)
        await api.identity.enable_mfa_device(
            account, "alice", device.device.serial, totp.totp(seed, step - 1), totp.totp(seed, step)
        )
        body = {"account": account, "user_name": "alice", "password": PASSWORD}
        async with api.client() as client:
            without = await client.post("/api/v1/login", json=body)
            malformed = await client.post("/api/v1/login", json={**body, "mfa_code": "12ab56"})
            clock.now += 30
            login = await client.post(
                "/api/v1/login", json={**body, "mfa_code": totp.totp(seed, step + 1)}
            )
            bearer = {"Authorization": f"Bearer {login.json()['token']}"}
            whoami = (await client.get("/api/v1/whoami", headers=bearer)).json()
            clock.now += 601
            expired = await client.get("/api/v1/whoami", headers=bearer)
    assert_problem(without, 401, "login-failed")
    assert_problem(malformed, 422, "validation-failed")
    assert login.status_code == 200 and login.json()["principal"]["mfa_present"]
    assert whoami["mfa_present"] and whoami["user_name"] == "alice"
    assert_problem(expired, 401, "not-authenticated")


async def test_logout_needs_a_session(api: ApiHarness) -> None:
    async with api.as_admin() as client:
        assert_problem(await client.post("/api/v1/logout"), 403, "not-a-session")


async def test_login_failures_then_backoff_with_retry_after(
    api: ApiHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await api.identity.create_login_profile(api.admin_tenant_id, "root", PASSWORD)
    wrong = {"account": "admin", "user_name": "root", "password": "Wrong-Password-1"}
    async with api.client() as client:
        for _ in range(2):  # login_max_failures=2
            failed = await client.post("/api/v1/login", json=wrong)
            assert_problem(failed, 401, "login-failed")
        locked = await client.post("/api/v1/login", json={**wrong, "password": PASSWORD})
        unknown = await client.post(
            "/api/v1/login", json={"account": "nosuch", "user_name": "root", "password": "x"}
        )
    assert_problem(locked, 429, "login-locked")
    assert int(locked.headers["retry-after"]) >= 1
    assert_problem(unknown, 401, "login-failed")
    assert PASSWORD not in caplog.text and "Wrong-Password-1" not in caplog.text


async def test_login_validation_never_echoes_the_password(api: ApiHarness) -> None:
    async with api.client() as client:
        response = await client.post(
            "/api/v1/login",
            json={"account": "Not A Name!", "user_name": "root", "password": "S3cret-Value!"},
        )
    body = assert_problem(response, 422, "validation-failed")
    assert "S3cret-Value!" not in response.text
    assert [e["loc"] for e in body["errors"]] == [["body", "account"]]


# -- malformed requests ---------------------------------------------------------------------------
async def test_malformed_json_is_400(api: ApiHarness) -> None:
    async with api.as_operator() as client:
        response = await client.post(
            "/api/v1/tenants", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 400, "malformed-body")


async def test_oversized_body_is_413_without_reading_it_all(api: ApiHarness) -> None:
    async with api.as_operator() as client:
        response = await client.post(
            "/api/v1/tenants", content=b"{" + b" " * 10_000 + b"}",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
    assert_problem(response, 413, "body-too-large")
    assert response.headers["connection"] == "close"


async def test_unknown_path_and_wrong_method(api: ApiHarness) -> None:
    async with api.as_operator() as client:
        assert_problem(await client.get("/api/v1/nothing"), 404, "not-found")
        wrong_method = await client.delete("/api/v1/tenants")
        bad_name = await client.get("/api/v1/tenants/Not%20A%20Name")
    assert_problem(wrong_method, 405, "method-not-allowed")
    assert "GET" in wrong_method.headers["allow"]
    assert_problem(bad_name, 422, "validation-failed")


async def test_an_unexpected_error_is_a_bare_500(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(api.identity, "list_tenants", broken)
    async with api.as_operator() as client:
        response = await client.get("/api/v1/tenants")
    body = assert_problem(response, 500, "internal-error")
    assert "internal detail" not in response.text
    assert body["request_id"] in caplog.text  # the log has the traceback, under the request id


async def test_a_database_outage_is_503_to_retry(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable() -> None:
        raise DatabaseUnavailable("connection refused by db.internal:5432")

    monkeypatch.setattr(api.identity, "list_tenants", unreachable)
    async with api.as_operator() as client:
        response = await client.get("/api/v1/tenants")
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "1"
    assert "db.internal" not in response.text


# -- audit --------------------------------------------------------------------------------------
async def test_management_actions_and_auth_failures_are_audited(api: ApiHarness) -> None:
    async with api.as_operator() as client:
        created = (await client.post("/api/v1/tenants", json={"name": "audited"})).json()
    async with api.client() as client:
        await client.get("/api/v1/whoami", headers={"Authorization": "Bearer forged"})
    await api.audit.flush()
    events = [e for _, e in await api.audit_store.list_events(None, after_id=0, limit=100)]
    actions = {(e.action, e.outcome.value) for e in events}
    assert ("andromede:CreateTenant", "success") in actions
    assert ("andromede:Authenticate", "failure") in actions
    create = next(e for e in events if e.action == "andromede:CreateTenant")
    assert create.tenant_id == created["tenant"]["id"]
    assert create.principal == "arn:andromede:platform::operator/operator"
    assert all(created["credentials"]["secret_access_key"] not in str(e) for e in events)
