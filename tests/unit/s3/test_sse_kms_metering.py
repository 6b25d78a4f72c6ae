"""S3's uses of KMS keys are KMS requests (decision 0150): metered as ``kms.requests`` for the
S3 caller's account in the key's region, only when sent to the key service and successful,
and audited as S3's (``invoked_by``). In process: the S3 app over a real CustomerKeyService and
a real BillingService (memory store)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.audit.model import Outcome
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.sse_kms_keys import ReplicaKmsKeys
from andromede.storage.errors import KmsKeyDisabled, KmsKeyUnusable
from support.server import REGION
from support.sse_kms_kit import Kit, make_kit

_SSE = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[Kit]:
    async with make_kit(tmp_path, allow_insecure_sse=True) as made:
        yield made


def _billing(kit: Kit) -> BillingService:
    assert kit.billing is not None
    return kit.billing


async def kms_requests(kit: Kit, tenant: str) -> dict[str, int]:
    """The tenant's ``kms.requests`` this month, per region."""
    billing = _billing(kit)
    await billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await billing.usage_report(tenant, month)
    return {line.region: line.quantity for line in report.lines if line.meter == "kms.requests"}


async def test_each_put_get_head_and_copy_is_a_kms_request_of_the_caller(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)  # through the service: no KMS API request
    account = kit.caller.account_id
    assert await kms_requests(kit, account) == {}
    headers = {_SSE: "aws:kms", _KEY_ID: key.arn}
    assert (await kit.client.request("PUT", "/vault/o", b"data", headers)).status == 200
    assert await kms_requests(kit, account) == {REGION: 1}  # GenerateDataKey
    assert (await kit.client.request("GET", "/vault/o")).body == b"data"
    ranged = await kit.client.request("GET", "/vault/o", headers={"Range": "bytes=1-2"})
    assert ranged.body == b"at"
    # Each read checks the key with the key service (kms:Decrypt), each a request.
    assert await kms_requests(kit, account) == {REGION: 3}
    # HEAD and GetObjectAttributes decrypt nothing: no KMS call, as on AWS (0150's addendum).
    assert (await kit.client.request("HEAD", "/vault/o")).status == 200
    attributes = await kit.client.request(
        "GET", "/vault/o?attributes", headers={"x-amz-object-attributes": "ObjectSize"}
    )
    assert attributes.status == 200, attributes.body
    assert await kms_requests(kit, account) == {REGION: 3}
    copied = await kit.client.request(
        "PUT", "/vault/c", headers={**headers, "x-amz-copy-source": "/vault/o"}
    )
    assert copied.status == 200, copied.body
    # The source's Decrypt and the copy's GenerateDataKey.
    assert await kms_requests(kit, account) == {REGION: 5}
    # An SSE-S3 object uses no KMS key: no KMS request.
    assert (await kit.client.request("PUT", "/vault/plain", b"p")).status == 200
    assert (await kit.client.request("GET", "/vault/plain")).body == b"p"
    assert await kms_requests(kit, account) == {REGION: 5}


async def _key_uses(kit: Kit, key_arn: str) -> list[str]:
    """The audited uses of ``key_arn`` from the S3 path, in order."""
    await kit.client.audit.flush()
    events = await kit.client.audit_store.list_events(None, after_id=0, limit=500)
    return [
        event.action
        for _, event in events
        if event.action.startswith("kms:") and event.resource == key_arn
    ]


async def test_head_needs_only_get_object_and_uses_no_key(kit: Kit) -> None:
    """As on AWS, HeadObject of an SSE-KMS object needs ``s3:GetObject`` alone: a caller
    denied ``kms:Decrypt`` gets the stored encryption headers (200), with no KMS request
    billed and no key use audited, where its GET is refused. GetObjectAttributes likewise."""
    key = await kit.keys.create_key(kit.caller)
    account = kit.caller.account_id
    headers = {_SSE: "aws:kms", _KEY_ID: key.arn, "x-amz-meta-a": "b"}
    assert (await kit.client.request("PUT", "/vault/o", b"data", headers)).status == 200
    reader = await kit.client.iam_user("reader")
    assert kit.client.identity is not None
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectAttributes"],
                "Resource": "*",
            },
            {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        ],
    }
    await kit.client.identity.put_user_policy(account, "reader", "p", json.dumps(policy))
    before = await _key_uses(kit, key.arn)
    assert await kms_requests(kit, account) == {REGION: 1}
    head = await reader.request("HEAD", "/vault/o")
    assert head.status == 200
    assert (head.headers[_SSE], head.headers[_KEY_ID]) == ("aws:kms", key.arn)
    assert head.headers["x-amz-meta-a"] == "b"
    attributes = await reader.request(
        "GET", "/vault/o?attributes", headers={"x-amz-object-attributes": "ObjectSize,ETag"}
    )
    assert attributes.status == 200, attributes.body
    assert b"<ObjectSize>4</ObjectSize>" in attributes.body
    assert await _key_uses(kit, key.arn) == before
    assert await kms_requests(kit, account) == {REGION: 1}
    # The GET decrypts: refused without kms:Decrypt (a refused use, audited, not billed).
    refused = await reader.request("GET", "/vault/o")
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert await _key_uses(kit, key.arn) == [*before, "kms:Decrypt"]
    assert await kms_requests(kit, account) == {REGION: 1}
    # The owner's GET still uses the key: one Decrypt, billed.
    assert (await kit.client.request("GET", "/vault/o")).body == b"data"
    assert await _key_uses(kit, key.arn) == [*before, "kms:Decrypt", "kms:Decrypt"]
    assert await kms_requests(kit, account) == {REGION: 2}


async def test_head_answers_while_the_key_is_disabled_and_get_does_not(kit: Kit) -> None:
    """No KMS call, so the key's state does not matter to a HEAD (AWS answers its stored
    headers); the GET is refused ``KMS.DisabledException``. SSE-C's HEAD still needs the
    customer's key."""
    key = await kit.keys.create_key(kit.caller)
    headers = {_SSE: "aws:kms:dsse", _KEY_ID: key.arn}
    assert (await kit.client.request("PUT", "/vault/d", b"dual", headers)).status == 200
    await kit.keys.disable_key(kit.caller, key.key_id)
    head = await kit.client.request("HEAD", "/vault/d")
    assert (head.status, head.headers[_SSE], head.headers[_KEY_ID]) == (
        200,
        "aws:kms:dsse",
        key.arn,
    )
    shut = await kit.client.request("GET", "/vault/d")
    assert (shut.status, shut.error_code()) == (400, "KMS.DisabledException")
    customer_key = os.urandom(32)
    sse_c = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(customer_key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(customer_key).digest()  # noqa: S324 - SSE-C's own key checksum
        ).decode(),
    }
    assert (await kit.client.request("PUT", "/vault/c", b"c", sse_c)).status == 200
    assert (await kit.client.request("HEAD", "/vault/c")).status == 400
    assert (await kit.client.request("HEAD", "/vault/c", headers=sse_c)).status == 200


async def test_a_bucket_key_sends_and_bills_far_fewer_requests(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    account = kit.caller.account_id
    rounds = 5
    counts: dict[str, int] = {}
    for bucket_key in ("false", "true"):
        before = (await kms_requests(kit, account)).get(REGION, 0)
        headers = {_SSE: "aws:kms", _KEY_ID: key.arn, _BUCKET_KEY: bucket_key}
        for n in range(rounds):
            put = await kit.client.request("PUT", f"/vault/{bucket_key}{n}", b"%d" % n, headers)
            assert put.status == 200, put.body
        for n in range(rounds):
            assert (await kit.client.request("GET", f"/vault/{bucket_key}{n}")).body == b"%d" % n
        counts[bucket_key] = (await kms_requests(kit, account))[REGION] - before
    # Without a bucket key: one request per PUT and per GET. With one: the first PUT's
    # GenerateDataKey and the first GET's Decrypt; the others are answered by the bucket key.
    assert counts == {"false": 2 * rounds, "true": 2}


async def test_a_refused_use_is_not_billed(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    account = kit.caller.account_id
    headers = {_SSE: "aws:kms", _KEY_ID: key.arn}
    assert (await kit.client.request("PUT", "/vault/o", b"x", headers)).status == 200
    assert await kms_requests(kit, account) == {REGION: 1}
    await kit.keys.disable_key(kit.caller, key.key_id)
    refused = await kit.client.request("PUT", "/vault/p", b"x", headers)
    assert (refused.status, refused.error_code()) == (400, "KMS.DisabledException")
    read = await kit.client.request("GET", "/vault/o")
    assert (read.status, read.error_code()) == (400, "KMS.DisabledException")
    missing = await kit.client.request(
        "PUT", "/vault/q", b"x", {_SSE: "aws:kms", _KEY_ID: "alias/none"}
    )
    assert (missing.status, missing.error_code()) == (400, "KMS.NotFoundException")
    assert await kms_requests(kit, account) == {REGION: 1}


async def test_another_accounts_use_of_the_owners_key_is_billed_to_that_account(
    kit: Kit,
) -> None:
    owners = await kit.keys.create_key(kit.caller)
    other = await kit.client.other_tenant("granted")
    await kit.keys.create_grant(
        kit.caller,
        owners.key_id,
        grantee=f"arn:aws:iam::{other.tenant_id}:root",
        operations=["GenerateDataKey", "Decrypt"],
    )
    assert (await other.request("PUT", "/partner")).status == 200
    headers = {_SSE: "aws:kms", _KEY_ID: owners.arn}
    assert (await other.request("PUT", "/partner/o", b"w", headers)).status == 200
    assert (await other.request("GET", "/partner/o")).body == b"w"
    # As on AWS: the account whose credentials made the S3 request pays, not the key's owner.
    assert await kms_requests(kit, other.tenant_id) == {REGION: 2}
    assert await kms_requests(kit, kit.caller.account_id) == {}


async def test_each_billed_use_is_audited_as_s3s_for_its_caller(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    headers = {_SSE: "aws:kms", _KEY_ID: key.arn}
    assert (await kit.client.request("PUT", "/vault/o", b"x", headers)).status == 200
    assert (await kit.client.request("GET", "/vault/o")).status == 200
    await kit.client.audit.flush()
    events = await kit.client.audit_store.list_events(None, after_id=0, limit=100)
    uses = [
        event
        for _, event in events
        if event.action in ("kms:GenerateDataKey", "kms:Decrypt") and event.resource == key.arn
    ]
    assert [event.action for event in uses] == ["kms:GenerateDataKey", "kms:Decrypt"]
    for event in uses:
        assert event.outcome is Outcome.SUCCESS
        assert event.principal == kit.caller.arn  # the S3 caller, as CloudTrail's userIdentity
        assert event.tenant_id == kit.caller.account_id
        assert event.details["invoked_by"] == "s3.amazonaws.com"
        assert event.details["region"] == REGION
    billed = (await kms_requests(kit, kit.caller.account_id))[REGION]
    assert billed == len(uses)


async def test_a_replicas_sealing_is_billed_to_the_replicating_owner(kit: Kit) -> None:
    billing = _billing(kit)
    key = await kit.keys.create_key(kit.caller)
    account = kit.caller.account_id
    replicas = ReplicaKmsKeys(kit.keys, None, billing)
    sealed = await replicas.replica_encryption(
        account,
        key.arn,
        bucket="dest",
        key="k",
        dual_layer=False,
        region=REGION,
        payer="source-owner",
    )
    assert sealed.kms_key_arn == key.arn
    assert await kms_requests(kit, "source-owner") == {REGION: 1}
    assert await kms_requests(kit, account) == {}
    # Without a known payer: the key's owner (the destination's).
    await replicas.replica_encryption(
        account, key.arn, bucket="dest", key="k2", dual_layer=False, region=REGION
    )
    assert await kms_requests(kit, account) == {REGION: 1}
    # A refused sealing is no request.
    other_region = key.arn.replace(f":{REGION}:", ":elsewhere-1:")
    with pytest.raises(KmsKeyUnusable):
        await replicas.replica_encryption(
            account, other_region, bucket="dest", key="k3", dual_layer=False, region=REGION
        )
    await kit.keys.disable_key(kit.caller, key.key_id)
    with pytest.raises(KmsKeyDisabled):
        await replicas.replica_encryption(
            account, key.arn, bucket="dest", key="k4", dual_layer=False, region=REGION
        )
    assert await kms_requests(kit, account) == {REGION: 1}
    assert await kms_requests(kit, "source-owner") == {REGION: 1}
