"""SSE-KMS in process: the S3 app over a real CustomerKeyService (memory store, local key file),
so that key policies, key states, the stored key ARN and the audit trail are the real ones."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from andromede.audit.model import Outcome
from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller
from andromede.kms.errors import IntegrityError
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_errors import CmkAccessDenied, InvalidKeyParameter
from andromede.kms.keys_model import default_key_policy
from andromede.kms.model import WrappedDataKey
from andromede.kms.service import KeyService
from andromede.sse_kms_keys import AWS_MANAGED_S3_KEY_ALIAS
from andromede.storage.errors import ObjectCorrupted
from andromede.storage.model import SealedContext, SegmentKey
from andromede.storage.sealed_blobs import stored_form
from andromede.storage.store_sql_rows import _segment_key_from_json, _segment_key_json
from support.s3app import Client
from support.sse_kms_kit import Kit, make_kit

_SSE = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
_CONTEXT = "x-amz-server-side-encryption-context"
_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"


def _b64json(value: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[Kit]:
    # The in-process client has no peer address (not loopback) and no TLS.
    async with make_kit(tmp_path, allow_insecure_sse=True) as made:
        yield made


async def test_put_get_head_report_the_key_and_audit_its_use(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller, description="unit")
    data = os.urandom(100_000)
    put = await kit.client.request(
        "PUT", "/vault/o", data, {_SSE: "aws:kms", _KEY_ID: key.key_id, "x-amz-meta-a": "b"}
    )
    assert put.status == 200, put.body
    assert (put.headers[_SSE], put.headers[_KEY_ID]) == ("aws:kms", key.arn)
    for method in ("GET", "HEAD"):
        reply = await kit.client.request(method, "/vault/o")
        assert reply.status == 200
        assert (reply.headers[_SSE], reply.headers[_KEY_ID]) == ("aws:kms", key.arn)
        assert reply.headers["x-amz-meta-a"] == "b"
    got = await kit.client.request("GET", "/vault/o", headers={"Range": "bytes=70000-70009"})
    assert got.body == data[70000:70010]
    await kit.client.audit.flush()
    events = await kit.client.audit_store.list_events(None, after_id=0, limit=100)
    uses = [
        (event.action, event.resource, event.outcome)
        for _, event in events
        if event.action.startswith("kms:")
    ]
    assert ("kms:GenerateDataKey", key.arn, Outcome.SUCCESS) in uses
    assert ("kms:Decrypt", key.arn, Outcome.SUCCESS) in uses


async def test_the_object_is_wrapped_under_the_kms_key_not_the_tenant_key(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    await kit.client.request("PUT", "/vault/o", b"x", {_SSE: "aws:kms", _KEY_ID: key.arn})
    record = await kit.objects.head_object("vault", "o")
    segment_key = record.segments[0].key
    assert segment_key is not None and segment_key.kms_key_arn == key.arn
    assert WrappedDataKey.decode(segment_key.wrapped).tenant_id == key.key_id
    # Disabling the key stops reads although the tenant's own key is untouched.
    await kit.keys.disable_key(kit.caller, key.key_id)
    reply = await kit.client.request("GET", "/vault/o")
    assert (reply.status, reply.error_code()) == (400, "KMS.DisabledException")
    await kit.keys.enable_key(kit.caller, key.key_id)
    await kit.keys.schedule_key_deletion(kit.caller, key.key_id, 7)
    reply = await kit.client.request("GET", "/vault/o")
    assert (reply.status, reply.error_code()) == (400, "KMS.KMSInvalidStateException")
    write = await kit.client.request("PUT", "/vault/p", b"x", {_SSE: "aws:kms", _KEY_ID: key.arn})
    assert (write.status, write.error_code()) == (400, "KMS.KMSInvalidStateException")


async def test_no_key_named_is_the_aws_managed_s3_key_made_once(kit: Kit) -> None:
    first = await kit.client.request("PUT", "/vault/a", b"1", {_SSE: "aws:kms"})
    second = await kit.client.request("PUT", "/vault/b", b"2", {_SSE: "aws:kms"})
    assert first.status == second.status == 200
    assert first.headers[_KEY_ID] == second.headers[_KEY_ID]
    described = await kit.keys.describe_key(kit.caller, AWS_MANAGED_S3_KEY_ALIAS)
    assert described.arn == first.headers[_KEY_ID]
    assert described.key_manager == "AWS"
    keys, _ = await kit.keys.list_keys(kit.caller, limit=10, marker=None)
    assert [k.key_id for k in keys] == [described.key_id]
    aliases, _ = await kit.keys.list_aliases(kit.caller, key_ref=None, limit=10, marker=None)
    assert [(a.name, a.key_id) for a in aliases] == [("alias/aws/s3", described.key_id)]
    await kit.client.audit.flush()
    events = await kit.client.audit_store.list_events(None, after_id=0, limit=100)
    made = [e for _, e in events if e.action in ("kms:CreateKey", "kms:CreateAlias")]
    assert [(e.action, e.resource, e.principal) for e in made] == [
        ("kms:CreateKey", described.arn, "s3.amazonaws.com"),
        ("kms:CreateAlias", described.arn, "s3.amazonaws.com"),
    ]
    # The tenant, its root user included, cannot manage it (its policy allows no management).
    account = kit.caller.account_id
    manages = [
        lambda: kit.keys.schedule_key_deletion(kit.caller, described.key_id, 7),
        lambda: kit.keys.disable_key(kit.caller, described.key_id),
        lambda: kit.keys.put_key_policy(
            kit.caller, described.key_id, "default", default_key_policy(account)
        ),
        lambda: kit.keys.create_alias(kit.caller, "alias/mine", described.key_id),
    ]
    for manage in manages:
        with pytest.raises(CmkAccessDenied):
            await manage()
    alias_changes = [
        lambda: kit.keys.delete_alias(kit.caller, "alias/aws/s3"),
        lambda: kit.keys.update_alias(kit.caller, "alias/aws/s3", described.key_id),
    ]
    for change in alias_changes:
        with pytest.raises(InvalidKeyParameter):
            await change()
    # ... nor use it directly, outside S3.
    with pytest.raises(CmkAccessDenied):
        await kit.keys.encrypt(kit.caller, described.key_id, b"x", {})
    assert (await kit.client.request("GET", "/vault/b")).body == b"2"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({_KEY_ID: "alias/x"}, "InvalidArgument"),  # KMS headers without aws:kms
        ({_SSE: "AES256", _KEY_ID: "alias/x"}, "InvalidArgument"),
        ({_SSE: "aws:kms", _CONTEXT: "not-base64!"}, "InvalidArgument"),
        ({_SSE: "aws:kms", _CONTEXT: base64.b64encode(b"[1]").decode()}, "InvalidArgument"),
        ({_SSE: "aws:kms", _CONTEXT: base64.b64encode(b'{"a":1}').decode()}, "InvalidArgument"),
        ({_SSE: "aws:kms", _CONTEXT: base64.b64encode(b"x" * 7000).decode()}, "InvalidArgument"),
        ({_SSE: "aws:kms", _CONTEXT: _b64json({"aws:team": "x"})}, "InvalidArgument"),
        (
            {_SSE: "aws:kms", _CONTEXT: _b64json({"aws:s3:arn": "arn:aws:s3:::vault/other"})},
            "InvalidArgument",
        ),
        (
            {_SSE: "aws:kms", "x-amz-server-side-encryption-bucket-key-enabled": "yes"},
            "InvalidArgument",
        ),
        ({_SSE: "aws:kms", _KEY_ID: "alias/none"}, "KMS.NotFoundException"),
        ({_SSE: "aws:kms", _KEY_ID: "arn:aws:kms:bad"}, "KMS.NotFoundException"),
    ],
)
async def test_bad_kms_requests(kit: Kit, headers: dict[str, str], code: str) -> None:
    reply = await kit.client.request("PUT", "/vault/k", b"x", headers)
    assert (reply.status, reply.error_code()) == (400, code)
    assert (await kit.client.request("HEAD", "/vault/k")).status == 404


async def test_context_and_bucket_key_are_echoed(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    context = base64.b64encode(json.dumps({"team": "blue"}).encode()).decode()
    reply = await kit.client.request(
        "PUT",
        "/vault/c",
        b"x",
        {
            _SSE: "aws:kms",
            _KEY_ID: key.key_id,
            _CONTEXT: context,
            "x-amz-server-side-encryption-bucket-key-enabled": "true",
        },
    )
    assert reply.headers[_CONTEXT] == context
    assert reply.headers["x-amz-server-side-encryption-bucket-key-enabled"] == "true"


async def test_another_tenants_key_is_not_found(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    other = await kit.client.other_tenant("other")
    assert (await other.request("PUT", "/theirs")).status == 200
    for reference in (key.key_id, key.arn):
        reply = await other.request("PUT", "/theirs/k", b"x", {_SSE: "aws:kms", _KEY_ID: reference})
        assert (reply.status, reply.error_code()) == (400, "KMS.NotFoundException")


async def test_sse_kms_needs_tls_off_loopback(tmp_path: Path) -> None:
    async with make_kit(tmp_path, allow_insecure_sse=False) as kit:
        key = await kit.keys.create_key(kit.caller)
        reply = await kit.client.request(
            "PUT", "/vault/t", b"x", {_SSE: "aws:kms", _KEY_ID: key.arn}
        )
        assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
        assert (await kit.client.request("PUT", "/vault/aes", b"x")).status == 200


def test_segment_keys_round_trip_and_older_rows_still_read() -> None:
    plain = SegmentKey(b"w")
    sse_c = SegmentKey(b"w", b"check")
    kms = SegmentKey(b"w", None, "arn:aws:kms:r:1:key/k")
    bound = SegmentKey(b"w", None, "arn:aws:kms:r:1:key/k", SealedContext(b"t", b"c"))
    bucket = SegmentKey(b"w", None, "arn:aws:kms:r:1:key/k", SealedContext(b"t", b"c"), b"bk")
    for key in (plain, sse_c, kms, bound, bucket):
        assert _segment_key_from_json(_segment_key_json(key)) == key
    # Rows written before SSE-KMS: one or two elements.
    assert _segment_key_json(plain) == [base64.b64encode(b"w").decode()]
    assert _segment_key_from_json([base64.b64encode(b"w").decode()]) == plain
    assert kms.mode.value == "aws:kms" and sse_c.mode.value == "SSE-C"


async def test_multipart_parts_follow_their_uploads_key(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    created = await kit.client.request("POST", "/vault/mp?uploads", b"", {_SSE: "aws:kms"})
    assert created.status == 200
    default_arn = created.headers[_KEY_ID]
    assert default_arn != key.arn  # no key named: the tenant's default key
    upload_id = _upload_id(created.body)
    part = await kit.client.request(
        "PUT", f"/vault/mp?partNumber=1&uploadId={upload_id}", b"part one"
    )
    assert (part.headers[_SSE], part.headers[_KEY_ID]) == ("aws:kms", default_arn)
    done = await kit.client.request(
        "POST",
        f"/vault/mp?uploadId={upload_id}",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
        + part.headers["etag"].encode()
        + b"</ETag></Part></CompleteMultipartUpload>",
    )
    assert done.status == 200, done.body
    assert done.headers[_KEY_ID] == default_arn
    got = await kit.client.request("GET", "/vault/mp")
    assert (got.body, got.headers[_KEY_ID]) == (b"part one", default_arn)
    # An SSE-S3 upload's parts cannot switch to SSE-KMS.
    plain = await kit.client.request("POST", "/vault/plain?uploads")
    plain_id = _upload_id(plain.body)
    switched = await kit.client.request(
        "PUT",
        f"/vault/plain?partNumber=1&uploadId={plain_id}",
        b"x",
        {_SSE: "aws:kms", _KEY_ID: key.arn},
    )
    assert (switched.status, switched.error_code()) == (400, "InvalidArgument")


async def test_the_data_key_is_bound_to_the_stored_context(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    context = _b64json({"project": "apollo"})
    put = await kit.client.request(
        "PUT", "/vault/c", b"bound", {_SSE: "aws:kms", _KEY_ID: key.arn, _CONTEXT: context}
    )
    assert put.status == 200, put.body
    assert put.headers[_CONTEXT] == context
    record = await kit.objects.head_object("vault", "c")
    full = {"project": "apollo", "aws:s3:arn": "arn:aws:s3:::vault/c"}
    assert record.kms_context == full
    segment_key = record.segments[0].key
    assert segment_key is not None and segment_key.context is not None
    # The data key opens only with the context it was bound to.
    with pytest.raises(ObjectCorrupted):
        await kit.cipher.open_data_key(segment_key.wrapped)
    with pytest.raises(ObjectCorrupted):
        await kit.cipher.open_data_key(segment_key.wrapped, {**full, "project": "gemini"})
    assert len(await kit.cipher.open_data_key(segment_key.wrapped, full)) == 32
    # Reads need no context from the client; AWS does not echo it on GET or HEAD.
    for method in ("GET", "HEAD"):
        reply = await kit.client.request(method, "/vault/c")
        assert reply.status == 200 and _CONTEXT not in reply.headers
    assert (await kit.client.request("GET", "/vault/c")).body == b"bound"
    # The context is sealed for this object: moved onto another object's key, it does not open.
    await kit.client.request(
        "PUT", "/vault/d", b"other", {_SSE: "aws:kms", _KEY_ID: key.arn, _CONTEXT: context}
    )
    other = await kit.objects.head_object("vault", "d")
    store = kit.objects._store
    moved_key = dataclasses.replace(other.segments[0].key, context=segment_key.context)  # type: ignore[arg-type]
    moved = dataclasses.replace(
        other, segments=(dataclasses.replace(other.segments[0], key=moved_key),)
    )
    await store.put_object(stored_form(moved))
    reply = await kit.client.request("GET", "/vault/d")
    assert reply.status == 500 and b"other" not in reply.body


async def test_multipart_and_copy_bind_their_context(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    context = _b64json({"project": "apollo"})
    created = await kit.client.request(
        "POST", "/vault/mp?uploads", b"", {_SSE: "aws:kms", _KEY_ID: key.arn, _CONTEXT: context}
    )
    assert created.headers[_CONTEXT] == context
    upload_id = _upload_id(created.body)
    part = await kit.client.request("PUT", f"/vault/mp?partNumber=1&uploadId={upload_id}", b"p1")
    assert part.status == 200 and _CONTEXT not in part.headers
    done = await kit.client.request(
        "POST",
        f"/vault/mp?uploadId={upload_id}",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
        + part.headers["etag"].encode()
        + b"</ETag></Part></CompleteMultipartUpload>",
    )
    assert done.status == 200, done.body
    record = await kit.objects.head_object("vault", "mp")
    assert record.kms_context == {"project": "apollo", "aws:s3:arn": "arn:aws:s3:::vault/mp"}
    assert (await kit.client.request("GET", "/vault/mp")).body == b"p1"
    copy_context = _b64json({"project": "copy"})
    copied = await kit.client.request(
        "PUT",
        "/vault/cp",
        b"",
        {
            "x-amz-copy-source": "/vault/mp",
            _SSE: "aws:kms",
            _KEY_ID: key.arn,
            _CONTEXT: copy_context,
        },
    )
    assert copied.status == 200, copied.body
    assert copied.headers[_CONTEXT] == copy_context
    copy = await kit.objects.head_object("vault", "cp")
    assert copy.kms_context == {"project": "copy", "aws:s3:arn": "arn:aws:s3:::vault/cp"}
    assert (await kit.client.request("GET", "/vault/cp")).body == b"p1"


async def _kms_uses(kit: Kit) -> int:
    await kit.client.audit.flush()
    events = await kit.client.audit_store.list_events(None, after_id=0, limit=10_000)
    return sum(1 for _, e in events if e.action in ("kms:GenerateDataKey", "kms:Decrypt"))


async def test_a_bucket_key_calls_kms_far_less(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    rounds = 20
    counts = {}
    for bucket_key in ("false", "true"):
        audited = await _kms_uses(kit)
        provider = kit.key_service.provider_calls[key.key_id]
        headers = {
            _SSE: "aws:kms",
            _KEY_ID: key.arn,
            "x-amz-server-side-encryption-bucket-key-enabled": bucket_key,
        }
        for n in range(rounds):
            put = await kit.client.request("PUT", f"/vault/{bucket_key}{n}", b"%d" % n, headers)
            assert put.status == 200, put.body
            assert (put.headers.get(_BUCKET_KEY) == "true") is (bucket_key == "true")
        for n in range(rounds):
            got = await kit.client.request("GET", f"/vault/{bucket_key}{n}")
            assert got.body == b"%d" % n
            assert (got.headers.get(_BUCKET_KEY) == "true") is (bucket_key == "true")
        counts[bucket_key] = (
            await _kms_uses(kit) - audited,
            kit.key_service.provider_calls[key.key_id] - provider,
        )
    # Without a bucket key: every PUT and GET is a checked, audited use of the KMS key, and
    # every PUT wraps a data key under its ring (GETs hit the data-key cache).
    assert counts["false"] == (2 * rounds, rounds)
    # With one: one checked use per action, one bucket key made under the ring.
    assert counts["true"] == (2, 1)
    record = await kit.objects.head_object("vault", "true0")
    assert record.bucket_key_enabled
    assert record.kms_context == {"aws:s3:arn": "arn:aws:s3:::vault"}


def test_a_bucket_key_is_remade_after_its_lifetime(tmp_path: Path) -> None:
    now = [0.0]
    keys = KeyService(
        LocalKeyFileProvider(tmp_path / "keys"), bucket_key_ttl_seconds=10, clock=lambda: now[0]
    )
    try:
        keys.create_tenant_key("ring")
        first = keys.new_bucket_data_key("ring", b"bucket", b"object-a")
        again = keys.new_bucket_data_key("ring", b"bucket", b"object-b")
        assert first.bucket_key == again.bucket_key and first.wrapped != again.wrapped
        opened = keys.unwrap_bucket_data_key(
            "ring", first.bucket_key, b"bucket", first.wrapped, b"object-a"
        )
        assert opened == first.plaintext
        fresh = KeyService(LocalKeyFileProvider(tmp_path / "keys"))  # no cache: the real check
        with pytest.raises(IntegrityError):
            fresh.unwrap_bucket_data_key(
                "ring", first.bucket_key, b"bucket", first.wrapped, b"object-b"
            )
        with pytest.raises(IntegrityError):
            fresh.unwrap_bucket_data_key(
                "ring", first.bucket_key, b"other", first.wrapped, b"object-a"
            )
        fresh.close()
        now[0] = 11
        later = keys.new_bucket_data_key("ring", b"bucket", b"object-c")
        assert later.bucket_key != first.bucket_key
        assert keys.new_bucket_data_key("ring", b"other", b"x").bucket_key != later.bucket_key
    finally:
        keys.close()


async def test_the_bucket_default_turns_bucket_keys_on(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    config = (
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        f"<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key.arn}</KMSMasterKeyID>"
        "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>"
        "</Rule></ServerSideEncryptionConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(config, usedforsecurity=False).digest()).decode()
    put_config = await kit.client.request("PUT", "/vault?encryption", config, {"Content-MD5": md5})
    assert put_config.status == 200, put_config.body
    got = await kit.client.request("GET", "/vault?encryption")
    assert b"<BucketKeyEnabled>true</BucketKeyEnabled>" in got.body
    put = await kit.client.request("PUT", "/vault/default", b"d")
    assert (put.headers[_KEY_ID], put.headers[_BUCKET_KEY]) == (key.arn, "true")
    head = await kit.client.request("HEAD", "/vault/default")
    assert head.headers[_BUCKET_KEY] == "true"
    # A request may still turn it off for its object.
    put = await kit.client.request("PUT", "/vault/own", b"o", {_BUCKET_KEY: "false"})
    assert put.headers[_KEY_ID] == key.arn and _BUCKET_KEY not in put.headers


def _upload_id(body: bytes) -> str:
    root = ElementTree.fromstring(body)
    found = [child.text for child in root if child.tag.endswith("UploadId")]
    assert found and found[0]
    return found[0]


async def _put_bucket_default(client: Client, bucket: str, key_ref: str) -> int:
    config = (
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        f"<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key_ref}</KMSMasterKeyID>"
        "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(config, usedforsecurity=False).digest()).decode()
    reply = await client.request("PUT", f"/{bucket}?encryption", config, {"Content-MD5": md5})
    return reply.status


async def test_the_bucket_default_keeps_the_key_as_named_and_follows_its_alias(kit: Kit) -> None:
    first = await kit.keys.create_key(kit.caller)
    second = await kit.keys.create_key(kit.caller)
    await kit.keys.create_alias(kit.caller, "alias/vault", first.key_id)
    # GetBucketEncryption answers what was put, as AWS does (Terraform compares the two).
    for reference in (first.key_id, first.arn, "alias/vault"):
        assert await _put_bucket_default(kit.client, "vault", reference) == 200
        got = await kit.client.request("GET", "/vault?encryption")
        assert f"<KMSMasterKeyID>{reference}</KMSMasterKeyID>".encode() in got.body
    put = await kit.client.request("PUT", "/vault/before", b"before")
    assert put.headers[_KEY_ID] == first.arn
    # The alias is resolved at each write: pointed elsewhere, it takes new objects there.
    await kit.keys.update_alias(kit.caller, "alias/vault", second.key_id)
    put = await kit.client.request("PUT", "/vault/after", b"after")
    assert put.headers[_KEY_ID] == second.arn
    before = await kit.client.request("GET", "/vault/before")
    assert (before.body, before.headers[_KEY_ID]) == (b"before", first.arn)
    # An alias that names nothing is refused at once, not at the first write.
    assert await _put_bucket_default(kit.client, "vault", "alias/nothing") == 400


async def test_the_bucket_default_may_name_the_aws_managed_key_before_it_exists(kit: Kit) -> None:
    assert await _put_bucket_default(kit.client, "vault", AWS_MANAGED_S3_KEY_ALIAS) == 200
    got = await kit.client.request("GET", "/vault?encryption")
    assert b"<KMSMasterKeyID>alias/aws/s3</KMSMasterKeyID>" in got.body
    put = await kit.client.request("PUT", "/vault/o", b"o")
    assert put.status == 200, put.body
    described = await kit.keys.describe_key(kit.caller, AWS_MANAGED_S3_KEY_ALIAS)
    assert put.headers[_KEY_ID] == described.arn
    assert described.key_manager == "AWS"


async def test_a_bucket_defaults_key_name_is_the_bucket_owners_for_every_writer(kit: Kit) -> None:
    """AWS resolves a default's alias in the writer's account, so a writer from another account
    can leave objects under its own key, which the bucket owner does not control. Here the name
    is the bucket owner's: the writer uses the owner's key, as far as its key policy lets it."""
    owners = await kit.keys.create_key(kit.caller)
    await kit.keys.create_alias(kit.caller, "alias/shared", owners.key_id)
    assert await _put_bucket_default(kit.client, "vault", "alias/shared") == 200
    other = await kit.client.other_tenant("writer")
    writer_arn = f"arn:aws:iam::{other.tenant_id}:root"
    writer = Caller(
        other.tenant_id,
        writer_arn,
        Principal(other.tenant_id, None, None, PrincipalKind.ROOT, writer_arn),
    )
    theirs = await kit.keys.create_key(writer)
    await kit.keys.create_alias(writer, "alias/shared", theirs.key_id)
    bucket_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": writer.arn},
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": "arn:aws:s3:::vault/*",
            }
        ],
    }
    policy_body = json.dumps(bucket_policy).encode()
    set_policy = await kit.client.request("PUT", "/vault?policy", policy_body)
    assert set_policy.status == 204, set_policy.body
    # The owner's key policy does not name the writer yet: its key is not the writer's to use.
    refused = await other.request("PUT", "/vault/from-writer", b"w")
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    key_policy = json.loads(default_key_policy(kit.caller.account_id))
    key_policy["Statement"].append(
        {
            "Sid": "the writer may encrypt with it",
            "Effect": "Allow",
            "Principal": {"AWS": writer.arn},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
        }
    )
    await kit.keys.put_key_policy(kit.caller, owners.key_id, "default", json.dumps(key_policy))
    written = await other.request("PUT", "/vault/from-writer", b"w")
    assert written.status == 200, written.body
    assert written.headers[_KEY_ID] == owners.arn != theirs.arn
    read = await kit.client.request("GET", "/vault/from-writer")
    assert (read.body, read.headers[_KEY_ID]) == (b"w", owners.arn)


async def test_a_grant_lets_another_tenant_write_and_read_under_the_owners_key(kit: Kit) -> None:
    owners = await kit.keys.create_key(kit.caller)
    other = await kit.client.other_tenant("granted")
    writer_arn = f"arn:aws:iam::{other.tenant_id}:root"
    assert (await other.request("PUT", "/partner")).status == 200
    headers = {_SSE: "aws:kms", _KEY_ID: owners.arn}
    refused = await other.request("PUT", "/partner/o", b"w", headers)
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    grant = await kit.keys.create_grant(
        kit.caller, owners.key_id, grantee=writer_arn, operations=["GenerateDataKey", "Decrypt"]
    )
    written = await other.request("PUT", "/partner/o", b"w", headers)
    assert written.status == 200, written.body
    assert written.headers[_KEY_ID] == owners.arn
    assert (await other.request("GET", "/partner/o")).body == b"w"
    # Revoked, the grant no longer opens the partner's object: the owner keeps control.
    await kit.keys.revoke_grant(kit.caller, owners.key_id, grant.grant_id)
    read = await other.request("GET", "/partner/o")
    assert (read.status, read.error_code()) == (400, "KMS.NotFoundException")


async def test_a_signing_key_is_refused_for_sse_kms(kit: Kit) -> None:
    signing = await kit.keys.create_key(kit.caller, key_usage="SIGN_VERIFY", key_spec="RSA_2048")
    reply = await kit.client.request(
        "PUT", "/vault/s", b"x", {_SSE: "aws:kms", _KEY_ID: signing.arn}
    )
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")
    assert b"SIGN_VERIFY" in reply.body
    assert await _put_bucket_default(kit.client, "vault", signing.arn) == 400
