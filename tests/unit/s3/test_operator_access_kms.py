"""SSE-KMS objects under operator access (decision 0114), in process over a real
CustomerKeyService: an operator reads a tenant's SSE-KMS object only if the request the tenant
approved included SSE-KMS objects (``include_kms``) *and* the key's policy allows it — the
default key policy, naming only the account, does not; a statement naming ``"*"`` for
``aws:PrincipalType`` ``PlatformOperator`` does — and each decrypt is a KMS event of the
tenant's log naming the operator and the request. The operator never encrypts with the key,
and never uses another tenant's key."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.audit.access import AccessMode, Actor
from andromede.audit.model import AuditEvent, Outcome
from andromede.billing.model import parse_month
from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller
from andromede.kms.keys_errors import CmkAccessDenied, CmkNotFound
from andromede.kms.keys_model import default_key_policy
from support.s3app import Client
from support.sse_kms_kit import Kit, make_kit

_SSE = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[Kit]:
    async with make_kit(tmp_path, allow_insecure_sse=True) as made:
        yield made


def operator_statement(account: str) -> dict[str, object]:
    """What a tenant adds to a key's policy to let approved operators decrypt through S3."""
    return {
        "Sid": "ApprovedOperatorAccess",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "aws:PrincipalType": "PlatformOperator",
                "kms:CallerAccount": account,
            }
        },
    }


async def allow_operators(kit: Kit, key_id: str) -> None:
    account = kit.caller.account_id
    policy = json.loads(default_key_policy(account))
    policy["Statement"].append(operator_statement(account))
    await kit.keys.put_key_policy(kit.caller, key_id, "default", json.dumps(policy))


async def operator(kit: Kit, *, include_kms: bool, buckets: tuple[str, ...] = ("vault",)) -> Client:
    """A client with the credentials of an approved request of the platform's operator."""
    client = kit.client
    assert client.identity is not None and client.operator_access is not None
    operators = await client.identity.list_operators()
    made = None if operators else await client.identity.bootstrap_operator()
    found = made.operator if made is not None else operators[0]
    acting = Actor(found.arn, operator_id=found.id, operator_name=found.name)
    root = Actor(f"arn:aws:iam::{client.tenant_id}:root", tenant_id=client.tenant_id)
    opened = await client.operator_access.open(
        acting,
        client.tenant_id,
        buckets=buckets,
        mode=AccessMode.READ_ONLY,
        reason="ticket 7",
        duration_seconds=600,
        request_id="R",
        include_kms=include_kms,
    )
    approved = await client.operator_access.approve(root, opened.id, request_id="R")
    assert approved.expires_at is not None
    issued = await client.identity.issue_operator_access_credentials(
        client.tenant_id, found.id, approved.id, approved.expires_at
    )
    creds = Credentials(issued.access_key_id, issued.secret_access_key, issued.session_token)
    return dataclasses.replace(client, credentials=creds)


async def kms_events(kit: Kit) -> list[AuditEvent]:
    await kit.client.audit.flush()
    events = await kit.client.audit_store.list_events(None, after_id=0, limit=1000)
    return [e for _, e in events if e.action == "kms:Decrypt"]


async def test_the_request_and_the_key_policy_must_both_allow(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    headers = {_SSE: "aws:kms", _KEY_ID: key.key_id}
    assert (await kit.client.request("PUT", "/vault/o", b"secret", headers)).status == 200
    assert (await kit.client.request("PUT", "/vault/plain", b"open")).status == 200
    without = await operator(kit, include_kms=False)
    reply = await without.request("GET", "/vault/o")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert (await without.request("GET", "/vault/plain")).body == b"open"  # SSE-S3: in scope
    with_kms = await operator(kit, include_kms=True)
    reply = await with_kms.request("GET", "/vault/o")  # the default key policy: no
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    await allow_operators(kit, key.key_id)
    assert (await with_kms.request("GET", "/vault/o")).body == b"secret"
    reply = await without.request("GET", "/vault/o")  # the key allows; this request did not
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    decrypts = [e for e in await kms_events(kit) if e.principal != kit.caller.arn]
    assert [(e.outcome, e.tenant_id, e.resource) for e in decrypts] == [
        (Outcome.FAILURE, kit.client.tenant_id, key.arn),
        (Outcome.SUCCESS, kit.client.tenant_id, key.arn),
    ]
    assert all(e.principal == "arn:andromede:platform::operator/operator" for e in decrypts)
    assert all(e.details["access_request"].startswith("oar-") for e in decrypts)
    assert decrypts[1].details["operator"] == "operator"


async def test_each_decrypt_is_checked_and_logged_even_under_a_bucket_key(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    await allow_operators(kit, key.key_id)
    headers = {
        _SSE: "aws:kms",
        _KEY_ID: key.key_id,
        "x-amz-server-side-encryption-bucket-key-enabled": "true",
    }
    assert (await kit.client.request("PUT", "/vault/o", b"secret", headers)).status == 200
    reader = await operator(kit, include_kms=True)
    for _ in range(3):
        assert (await reader.request("GET", "/vault/o")).body == b"secret"
    decrypts = [e for e in await kms_events(kit) if e.principal != kit.caller.arn]
    assert [e.outcome for e in decrypts] == [Outcome.SUCCESS] * 3
    # The operator's decrypts are its own acts, not requests the tenant pays for (decision
    # 0150): the tenant's only KMS request is its PUT's GenerateDataKey.
    assert kit.billing is not None
    await kit.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await kit.billing.usage_report(kit.client.tenant_id, month)
    assert [x.quantity for x in report.lines if x.meter == "kms.requests"] == [1]


async def test_the_aws_managed_s3_key_allows_what_the_request_includes(kit: Kit) -> None:
    """aws/s3's policy (AWS's) lets any caller of the account use it through S3: the tenant's
    include_kms on the request is the consent that decides."""
    assert (await kit.client.request("PUT", "/vault/o", b"x", {_SSE: "aws:kms"})).status == 200
    assert (await (await operator(kit, include_kms=True)).request("GET", "/vault/o")).body == b"x"
    reply = await (await operator(kit, include_kms=False)).request("GET", "/vault/o")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")


async def test_an_operator_never_encrypts_nor_uses_another_tenants_key(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    await allow_operators(kit, key.key_id)
    tenant = kit.client.tenant_id
    as_operator = Principal(
        tenant,
        "OP1",
        "operator",
        PrincipalKind.OPERATOR_ACCESS,
        "arn:andromede:platform::operator/operator",
        session_name="oar-" + "0" * 20,
    )
    via_s3 = "s3.eu-fr-1.amazonaws.com"
    mine = Caller(tenant, as_operator.arn, as_operator, via_service=via_s3)
    context = {"aws:s3:arn": "arn:aws:s3:::vault/o"}
    await kit.keys.key_for_sse(mine, key.arn, context, action="kms:Decrypt")
    with pytest.raises(CmkAccessDenied):
        await kit.keys.key_for_sse(mine, key.arn, context, action="kms:GenerateDataKey")
    not_via_s3 = dataclasses.replace(mine, via_service=None)
    with pytest.raises(CmkAccessDenied):
        await kit.keys.key_for_sse(not_via_s3, key.arn, context, action="kms:Decrypt")
    # An operator approved by another tenant: that tenant's account, not this key's — even
    # under a statement that names no account.
    account = kit.caller.account_id
    loose = json.loads(default_key_policy(account))
    statement = operator_statement(account)
    statement["Condition"] = {"StringEquals": {"aws:PrincipalType": "PlatformOperator"}}
    loose["Statement"].append(statement)
    await kit.keys.put_key_policy(kit.caller, key.key_id, "default", json.dumps(loose))
    other = dataclasses.replace(as_operator, tenant_id="999999999999")
    theirs = Caller("999999999999", other.arn, other, via_service=via_s3)
    with pytest.raises((CmkNotFound, CmkAccessDenied)):
        await kit.keys.key_for_sse(theirs, key.arn, context, action="kms:Decrypt")
