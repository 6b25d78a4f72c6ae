"""The management API's tenant-facing operations as IAM actions (decision 0113), in process: for
each, an IAM user without policies is refused (and the refusal is an event of the tenant's log),
an allow lets it through, an explicit deny, a permissions boundary or a session policy lacking
the action refuses it; groups and condition keys count as for S3; a user of one tenant allowed
``andromede:*`` on ``*`` never reaches another tenant's trail, requests, buckets, usage,
invoices or billing profile."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials
from fastapi import Request

from andromede.api.auth import Caller
from andromede.api.permissions import Action, Authorizer, usage_arn
from andromede.api.problems import ApiProblem
from andromede.audit.access import Actor
from andromede.audit.model import Outcome
from andromede.iam import totp
from andromede.iam.errors import MalformedPolicyDocument
from andromede.iam.model import SessionPolicy
from andromede.iam.policy import known_action
from andromede.iam.policy.actions import ACTIONS
from andromede.storage.model import Bucket
from support.apiclient import ApiHarness, HttpxSigV4, api_harness
from support.clock import Clock

USER = "officer"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Operation:
    action: Action
    method: str
    path: str  # {tenant}: the tenant's name; {request}: its access request; {bucket}
    resource: str  # {account}, {request}, {bucket}
    state: str = "pending"  # the access request's state the operation needs
    body: dict[str, Any] | None = None


_LOG = "/api/v1/audit/logs/{tenant}"
_REQUEST = "/api/v1/access-requests/{request}"
_EVENTS = "/api/v1/tenants/{tenant}/buckets/{bucket}/data-events"
_AUDIT_LOG = "arn:aws:andromede::{account}:audit-log"
_ACCESS = "arn:aws:andromede::{account}:operator-access/{request}"
_USAGE = "arn:aws:andromede::{account}:usage"
_PROFILE = "arn:aws:andromede::{account}:billing-profile"
BILLING_PROFILE: dict[str, Any] = {
    "legal_name": "Éléphant SA",
    "address_lines": ["12 rue de la Paix"],
    "postcode": "75002",
    "city": "Paris",
    "country": "FR",
    "invoice_email": "factures@elephant.example",
}

OPERATIONS: dict[str, Operation] = {
    "checkpoint": Operation(Action.GET_AUDIT_CHECKPOINT, "GET", f"{_LOG}/checkpoint", _AUDIT_LOG),
    "entries": Operation(
        Action.GET_AUDIT_ENTRIES, "GET", f"{_LOG}/entries?start=0&end=1", _AUDIT_LOG
    ),
    "pruned": Operation(Action.GET_AUDIT_PRUNED_HASHES, "GET", f"{_LOG}/pruned", _AUDIT_LOG),
    "inclusion": Operation(
        Action.GET_AUDIT_PROOF, "GET", f"{_LOG}/proofs/inclusion?index=0&size=1", _AUDIT_LOG
    ),
    "consistency": Operation(
        Action.GET_AUDIT_PROOF, "GET", f"{_LOG}/proofs/consistency?first=1&second=1", _AUDIT_LOG
    ),
    "list-requests": Operation(
        Action.LIST_OPERATOR_ACCESS_REQUESTS,
        "GET",
        "/api/v1/access-requests",
        "arn:aws:andromede::{account}:operator-access/*",
    ),
    "get-request": Operation(Action.GET_OPERATOR_ACCESS_REQUEST, "GET", _REQUEST, _ACCESS),
    "approve": Operation(Action.APPROVE_OPERATOR_ACCESS, "POST", f"{_REQUEST}/approve", _ACCESS),
    "refuse": Operation(Action.REFUSE_OPERATOR_ACCESS, "POST", f"{_REQUEST}/refuse", _ACCESS),
    "revoke": Operation(
        Action.REVOKE_OPERATOR_ACCESS, "POST", f"{_REQUEST}/revoke", _ACCESS, state="approved"
    ),
    "get-data-events": Operation(
        Action.GET_BUCKET_DATA_EVENTS, "GET", _EVENTS, "arn:aws:s3:::{bucket}"
    ),
    "put-data-events": Operation(
        Action.PUT_BUCKET_DATA_EVENTS, "PUT", _EVENTS, "arn:aws:s3:::{bucket}", body={"read": True}
    ),
    "usage": Operation(Action.GET_USAGE_REPORT, "GET", "/api/v1/tenants/{tenant}/usage", _USAGE),
    "usage-csv": Operation(
        Action.GET_USAGE_REPORT, "GET", "/api/v1/tenants/{tenant}/usage.csv", _USAGE
    ),
    "list-invoices": Operation(
        Action.GET_INVOICE,
        "GET",
        "/api/v1/tenants/{tenant}/invoices",
        "arn:aws:andromede::{account}:invoice/*",
    ),
    "get-invoice": Operation(
        Action.GET_INVOICE,
        "GET",
        "/api/v1/tenants/{tenant}/invoices/{invoice}",
        "arn:aws:andromede::{account}:invoice/{invoice}",
    ),
    # Decision 0126: an invoice's credit notes are read as the invoice is.
    "list-credit-notes": Operation(
        Action.GET_INVOICE,
        "GET",
        "/api/v1/tenants/{tenant}/invoices/{invoice}/credit-notes",
        "arn:aws:andromede::{account}:invoice/{invoice}",
    ),
    "get-billing-profile": Operation(
        Action.GET_BILLING_PROFILE, "GET", "/api/v1/tenants/{tenant}/billing-profile", _PROFILE
    ),
    "put-billing-profile": Operation(
        Action.PUT_BILLING_PROFILE,
        "PUT",
        "/api/v1/tenants/{tenant}/billing-profile",
        _PROFILE,
        body={**BILLING_PROFILE, "city": "Lyon"},
    ),
}


@dataclass
class Tenant:
    """A tenant as the operations need it: a log with an entry, a bucket, an access request."""

    name: str
    account: str
    request: str
    bucket: str
    invoice: str  # the number of its invoice of last month (decision 0123)


@dataclass
class World:
    api: ApiHarness
    admin: Tenant
    officer: Credentials  # the IAM user "officer" of the admin tenant

    async def call(
        self, credentials: Credentials, op: Operation, tenant: Tenant | None = None
    ) -> httpx.Response:
        target = tenant or self.admin
        path = op.path.format(
            tenant=target.name, request=target.request, bucket=target.bucket, invoice=target.invoice
        )
        async with self.api.client(HttpxSigV4(credentials)) as client:
            return await client.request(op.method, path, json=op.body)

    async def allow(self, statements: list[dict[str, Any]], name: str = "grant") -> None:
        await self.api.identity.put_user_policy(self.admin.account, USER, name, policy(*statements))


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def resource(op: Operation, tenant: Tenant) -> str:
    return op.resource.format(
        account=tenant.account, request=tenant.request, bucket=tenant.bucket, invoice=tenant.invoice
    )


async def make_tenant(api: ApiHarness, name: str, account: str, state: str, bucket: str) -> Tenant:
    """The tenant's log gets an entry, ``bucket`` is its, an operator's access request to it
    is in ``state``."""
    api.audit.record(
        request_id="R0",
        tenant_id=account,
        principal=None,
        action="s3:PutObject",
        resource="arn:aws:s3:::b/k",
        outcome=Outcome.SUCCESS,
    )
    await api.audit.flush()
    await api.bucket_store.create_bucket(
        Bucket(
            name=bucket,
            tenant_id=account,
            owner_id=f"o-{account}",
            region=api.settings.region,
            created_at=datetime.now(UTC),
        )
    )
    async with api.as_operator() as operator:
        opened = await operator.post(
            "/api/v1/access-requests",
            json={
                "tenant": name,
                "buckets": [bucket],
                "mode": "read-only",
                "reason": "ticket 42",
                "duration_seconds": 3600,
            },
        )
        last_month = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        issued = await operator.post(f"/api/v1/tenants/{name}/invoices", json={"month": last_month})
        profile = await operator.put(
            f"/api/v1/tenants/{name}/billing-profile", json=BILLING_PROFILE
        )
    assert issued.status_code in (200, 201), issued.text
    assert profile.status_code == 200, profile.text
    assert opened.status_code == 201, opened.text
    request = str(opened.json()["id"])
    if state == "approved":
        approved = await api.operator_access.approve(
            _root_actor(account), request, request_id="setup"
        )
        assert approved.status.value == "approved"
    return Tenant(name, account, request, bucket, str(issued.json()["number"]))


def _root_actor(account: str) -> Actor:
    return Actor(f"arn:aws:iam::{account}:root", tenant_id=account)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path) as harness:
        yield harness


async def world_for(api: ApiHarness, op: Operation) -> World:
    admin = await make_tenant(api, "admin", api.admin_tenant_id, op.state, "photos")
    await api.identity.create_user(admin.account, USER)
    key = await api.identity.create_access_key(admin.account, USER)
    officer = Credentials(key.key.access_key_id, key.secret_access_key)
    return World(api, admin, officer)


def assert_denied(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:andromede:problem:access-denied"
    assert body["request_id"] == response.headers["x-request-id"]


def assert_ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


OPS = pytest.mark.parametrize("name", list(OPERATIONS))


def test_the_catalogue_is_the_apis_actions() -> None:
    assert {f"andromede:{a}" for a in ACTIONS["andromede"]} == {a.value for a in Action}
    assert {op.action for op in OPERATIONS.values()} == set(Action)
    assert all(known_action(*a.value.split(":")) for a in Action)


@OPS
async def test_a_user_without_policies_is_refused_and_the_refusal_logged(
    api: ApiHarness, name: str
) -> None:
    op = OPERATIONS[name]
    world = await world_for(api, op)
    response = await world.call(world.officer, op)
    assert_denied(response)
    assert op.action.value in response.json()["detail"]
    await api.audit.flush()
    refusals = [
        e
        for _, e in await api.audit_store.list_events(world.admin.account, after_id=0, limit=50)
        # The set-up's own change (the operator's PutBillingProfile) is no refusal.
        if e.action == op.action.value and e.outcome is Outcome.FAILURE
    ]
    assert [(e.outcome, e.resource, e.details["error"]) for e in refusals] == [
        (Outcome.FAILURE, resource(op, world.admin), "access-denied")
    ]
    assert refusals[0].principal == f"arn:aws:iam::{world.admin.account}:user/{USER}"


@OPS
async def test_an_allow_on_the_operations_arn_lets_the_user_through(
    api: ApiHarness, name: str
) -> None:
    op = OPERATIONS[name]
    world = await world_for(api, op)
    await world.allow([allow(op.action.value, resource(op, world.admin))])
    assert_ok(await world.call(world.officer, op))


@OPS
async def test_an_explicit_deny_wins_over_an_allow(api: ApiHarness, name: str) -> None:
    op = OPERATIONS[name]
    world = await world_for(api, op)
    await world.allow([allow("andromede:*"), deny(op.action.value)])
    assert_denied(await world.call(world.officer, op))


@OPS
async def test_a_permissions_boundary_without_the_action_refuses_it(
    api: ApiHarness, name: str
) -> None:
    op = OPERATIONS[name]
    world = await world_for(api, op)
    await world.allow([allow(op.action.value)])
    identity = api.identity
    boundary = await identity.create_policy(world.admin.account, "s3-only", policy(allow("s3:*")))
    await identity.put_user_permissions_boundary(world.admin.account, USER, boundary.arn)
    assert_denied(await world.call(world.officer, op))


@OPS
async def test_a_session_policy_without_the_action_refuses_it(api: ApiHarness, name: str) -> None:
    op = OPERATIONS[name]
    world = await world_for(api, op)
    await world.allow([allow("andromede:*")])
    _, officer = await api.identity.resolve_access_key(world.officer.access_key)

    async def session(session_policy: str) -> Credentials:
        issued = await api.identity.get_federation_token(
            officer, "officer-session", session_policy=SessionPolicy(inline=session_policy)
        )
        return Credentials(issued.access_key_id, issued.secret_access_key, issued.session_token)

    narrowed = await session(policy(allow("s3:*")))
    assert_denied(await world.call(narrowed, op))
    # The same user's session allowed the action is let through: the session policy decided.
    assert_ok(await world.call(await session(policy(allow(op.action.value))), op))


async def test_a_groups_policy_counts(api: ApiHarness) -> None:
    op = OPERATIONS["approve"]
    world = await world_for(api, op)
    account = world.admin.account
    await api.identity.create_group(account, "security")
    await api.identity.add_user_to_group(account, "security", USER)
    await api.identity.put_group_policy(
        account, "security", "decide", policy(allow("andromede:*OperatorAccess"))
    )
    assert_ok(await world.call(world.officer, op))


async def test_condition_keys_are_the_callers(api: ApiHarness) -> None:
    """aws:SourceIp is the client's address (127.0.0.1 in process), aws:MultiFactorAuthPresent
    false for an access key without MFA, aws:PrincipalTag the user's tags."""
    op = OPERATIONS["usage"]
    world = await world_for(api, op)
    account = world.admin.account
    elsewhere = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    await world.allow([allow(op.action.value, Condition=elsewhere)])
    assert_denied(await world.call(world.officer, op))
    await world.allow(
        [allow(op.action.value, Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})]
    )
    assert_ok(await world.call(world.officer, op))
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    await world.allow([allow(op.action.value, Condition=mfa)])
    assert_denied(await world.call(world.officer, op))
    tagged = {"StringEquals": {"aws:PrincipalTag/team": "security"}}
    await world.allow([allow(op.action.value, Condition=tagged)])
    assert_denied(await world.call(world.officer, op))
    await api.identity.tag_user(account, USER, (("team", "security"),))
    assert_ok(await world.call(world.officer, op))


async def test_an_unknown_andromede_action_is_a_malformed_policy(api: ApiHarness) -> None:
    await api.identity.create_user(api.admin_tenant_id, USER)
    for action in ("andromede:ApproveOperatorAcess", "andromede:Get*Receipt"):
        with pytest.raises(MalformedPolicyDocument):
            await api.identity.put_user_policy(
                api.admin_tenant_id, USER, "bad", policy(allow(action))
            )
        with pytest.raises(MalformedPolicyDocument):
            await api.identity.create_policy(api.admin_tenant_id, "bad", policy(allow(action)))
    # Wildcards that match catalogued actions are policies like any other.
    await api.identity.put_user_policy(
        api.admin_tenant_id, USER, "good", policy(allow("andromede:GetAudit*"))
    )


@OPS
async def test_a_user_allowed_everything_never_reaches_another_tenant(
    api: ApiHarness, name: str
) -> None:
    op = OPERATIONS[name]
    world = await world_for(api, op)
    other = await api.identity.create_tenant("other")
    victim = await make_tenant(api, "other", other.tenant.id, op.state, "theirs")
    await world.allow([allow("andromede:*"), allow("s3:*")])
    before = await api.operator_access.get(_root_actor(victim.account), victim.request)
    response = await world.call(world.officer, op, victim)
    if name == "list-requests":  # names no tenant: the caller's own requests only
        assert_ok(response)
        listed = [r["id"] for r in response.json()["access_requests"]]
        assert listed == [world.admin.request]
    else:
        assert response.status_code == 404, response.text
    assert await api.operator_access.get(_root_actor(victim.account), victim.request) == before
    theirs = await api.bucket_store.get_bucket("theirs")
    assert theirs is not None and not theirs.data_reads_logged
    assert (await api.billing.billing_profile(victim.account)).city == "Paris"


async def test_the_engine_refuses_another_tenants_resources_even_to_root(
    api: ApiHarness,
) -> None:
    """The routes answer 404 before asking; should one forget, the engine still refuses:
    the resource's account is the other tenant's, which allows nobody here."""
    world = await world_for(api, OPERATIONS["usage"])
    await world.allow([allow("andromede:*")])
    other = await api.identity.create_tenant("other")
    context = api.app.fastapi.state.context
    request = Request({"type": "http", "client": ("127.0.0.1", 1), "scheme": "http"})
    _, officer = await api.identity.resolve_access_key(world.officer.access_key)
    _, root = await api.identity.resolve_access_key(api.admin.access_key)
    for principal in (officer, root):
        allow_ = Authorizer(Caller(principal, "sigv4"), context, request)
        await allow_(
            Action.GET_USAGE_REPORT, usage_arn(world.admin.account), account=world.admin.account
        )
        with pytest.raises(ApiProblem) as refused:
            await allow_(
                Action.GET_USAGE_REPORT, usage_arn(other.tenant.id), account=other.tenant.id
            )
        assert refused.value.status == 403


async def test_the_readmes_officer_decides_only_after_an_mfa_login(tmp_path: Path) -> None:
    """The README's example policy: the trail always, decisions on operator access only with
    aws:MultiFactorAuthPresent — true for a console session logged in with a TOTP code."""
    clock = Clock()
    async with api_harness(tmp_path, clock=clock) as api:
        world = await world_for(api, OPERATIONS["approve"])
        account = world.admin.account
        officer_policy = {
            "Version": "2012-10-17",
            "Statement": [
                allow("andromede:GetAudit*", f"arn:aws:andromede::{account}:audit-log"),
                allow(
                    ["andromede:*OperatorAccess*"],
                    Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                ),
            ],
        }
        await api.identity.put_user_policy(account, USER, "officer", json.dumps(officer_policy))
        await api.identity.create_login_profile(account, USER, PASSWORD)
        device = await api.identity.create_virtual_mfa_device(account, USER)
        seed = totp.seed_from_base32(device.base32_string_seed)
        step = totp.time_step(clock.now)
        await api.identity.enable_mfa_device(
            account, USER, device.device.serial, totp.totp(seed, step - 1), totp.totp(seed, step)
        )
        assert_ok(await world.call(world.officer, OPERATIONS["entries"]))
        assert_denied(await world.call(world.officer, OPERATIONS["approve"]))
        clock.now += 30
        async with api.client() as client:
            login = await client.post(
                "/api/v1/login",
                json={
                    "account": account,
                    "user_name": USER,
                    "password": PASSWORD,
                    "mfa_code": totp.totp(seed, step + 1),
                },
            )
            assert login.status_code == 200, login.text
            bearer = {"Authorization": f"Bearer {login.json()['token']}"}
            path = f"/api/v1/access-requests/{world.admin.request}"
            approved = await client.post(f"{path}/approve", headers=bearer)
            assert_ok(approved)
            assert approved.json()["decided_by"] == f"arn:aws:iam::{account}:user/{USER}"
            assert_denied(await client.get("/api/v1/tenants/admin/usage", headers=bearer))


async def test_an_access_requests_own_keys_limit_who_decides_what(api: ApiHarness) -> None:
    """andromede:OperatorAccessMode, …Duration, …IncludesKms, andromede:OperatorName: an
    officer approves read-only requests of an hour at most without KMS; the rest is the
    root's."""
    op = OPERATIONS["approve"]
    world = await world_for(api, op)
    small = {
        "StringEquals": {"andromede:OperatorAccessMode": "read-only"},
        "NumericLessThanEquals": {"andromede:OperatorAccessDuration": "3600"},
        "Bool": {"andromede:OperatorAccessIncludesKms": "false"},
    }
    await world.allow([allow(op.action.value, Condition=small)])
    operator_name = (await api.operator_access.get(_root_actor(world.admin.account),
                                                   world.admin.request)).operator_name  # fmt: skip

    async def opened(**changes: Any) -> Tenant:
        body = {"tenant": "admin", "buckets": ["photos"], "mode": "read-only",
                "reason": "ticket 43", "duration_seconds": 3600, **changes}  # fmt: skip
        async with api.as_operator() as operator:
            response = await operator.post("/api/v1/access-requests", json=body)
        assert response.status_code == 201, response.text
        return Tenant(
            "admin", world.admin.account, response.json()["id"], "photos", world.admin.invoice
        )

    for too_much in ({"mode": "read-write"}, {"duration_seconds": 3601}, {"include_kms": True}):
        assert_denied(await world.call(world.officer, op, await opened(**too_much)))
    assert_ok(await world.call(world.officer, op))
    another_operator = {"StringEquals": {"andromede:OperatorName": "someone-else"}}
    await world.allow([allow(op.action.value, Condition=another_operator)])
    assert_denied(await world.call(world.officer, op, await opened()))
    await world.allow(
        [
            allow(
                op.action.value,
                Condition={"StringEquals": {"andromede:OperatorName": operator_name}},
            )
        ]
    )
    assert_ok(await world.call(world.officer, op, await opened()))


async def test_whoami_counts_pending_requests_for_whoever_may_list_them(api: ApiHarness) -> None:
    """whoami's pending_access_requests: null for a user who may not list the requests, and
    not a refusal in the log (whoami refuses nothing); the count once a policy allows it."""
    world = await world_for(api, OPERATIONS["list-requests"])

    async def pending() -> Any:
        async with api.client(HttpxSigV4(world.officer)) as client:
            response = await client.get("/api/v1/whoami")
        assert_ok(response)
        return response.json()["pending_access_requests"]

    assert await pending() is None
    await world.allow([allow(Action.LIST_OPERATOR_ACCESS_REQUESTS.value)])
    assert await pending() == 1
    await world.allow([allow("andromede:*"), deny(Action.LIST_OPERATOR_ACCESS_REQUESTS.value)])
    assert await pending() is None
    await api.audit.flush()
    events = await api.audit_store.list_events(world.admin.account, after_id=0, limit=50)
    assert not [e for _, e in events if e.outcome is Outcome.FAILURE]
