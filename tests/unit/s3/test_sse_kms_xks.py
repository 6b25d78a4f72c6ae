"""SSE-KMS and EBS disk keys under KMS keys of external key stores (decision 0094), in
process: the S3 app over a real CustomerKeyService whose store's proxy is the in-process XKS
proxy of tests/support/xks_fake.py (it checks every signature with botocore, and keeps the
external keys, which it can disable or lose). What is stored has two layers; reads need the
proxy once per data key and cache lifetime; the customer's kill switch stops reads."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.errors import KeyUnusable
from andromede.compute.model import Volume, VolumeState
from andromede.compute_adapters import KmsDiskKeys
from andromede.http.requester import requester
from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.ciphertext import ExternalLayer
from andromede.kms.custom_key_stores import StoreDefinition
from andromede.kms.errors import ExternalLayerNeeded, InvalidWrappedKey
from andromede.kms.external_keys import ExternalDataKeys, ExternalWrappedKey, is_external_form
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_model import CustomerKey
from andromede.kms.model import context_digest, encode_wrapped_key
from andromede.kms.service import KeyService
from support.server import REGION
from support.sse_kms_kit import Kit, make_kit
from support.xks_fake import ACCESS_KEY_ID, ENDPOINT, SECRET, URI_PATH

_SSE = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[Kit]:
    async with make_kit(tmp_path, allow_insecure_sse=True, xks=True) as made:
        yield made


async def xks_key(kit: Kit, external: str = "key-1") -> CustomerKey:
    stores = kit.keys.external_stores
    assert stores is not None and kit.xks is not None
    existing, _ = await stores.describe(kit.caller, store_id=None, name=None, after=None, limit=10)
    if existing:
        store_id = existing[0].store_id
    else:
        store = await stores.create(
            kit.caller,
            StoreDefinition(
                name="hsm",
                store_type="EXTERNAL_KEY_STORE",
                endpoint=ENDPOINT,
                uri_path=URI_PATH,
                access_key_id=ACCESS_KEY_ID,
                secret=SECRET,
                connectivity="PUBLIC_ENDPOINT",
            ),
        )
        store_id = store.store_id
        await stores.connect(kit.caller, store_id)
    kit.xks.create_key(external)
    return await kit.keys.create_key(
        kit.caller, origin="EXTERNAL_KEY_STORE", custom_key_store_id=store_id, xks_key_id=external
    )


def proxy_uses(kit: Kit, api: str) -> list[tuple[str, str]]:
    assert kit.xks is not None
    return [(c["kmsOperation"], c.get("kmsKeyArn", "")) for c in kit.xks.calls(api)]


def forget_cached_keys(kit: Kit, key: CustomerKey) -> None:
    """What another gateway process, or the end of the cache lifetime, sees: no key cached."""
    kit.key_service._forget_ring(key.key_id)


def a_volume(volume_id: str, tenant_id: str, wrapped: bytes, arn: str) -> Volume:
    return Volume(
        volume_id=volume_id,
        tenant_id=tenant_id,
        size_gib=1,
        availability_zone="eu-west-3a",
        state=VolumeState.AVAILABLE,
        host="local",
        created_at=datetime.now(UTC),
        wrapped_key=wrapped,
        kms_key_arn=arn,
    )


async def wrapped_of(kit: Kit, name: str) -> bytes:
    record = await kit.objects.head_object("vault", name)
    segment_key = record.segments[0].key
    assert segment_key is not None
    return segment_key.wrapped


async def test_put_and_get_under_an_xks_key_need_both_layers(kit: Kit) -> None:
    key = await xks_key(kit)
    data = os.urandom(200_000)
    put = await kit.client.request("PUT", "/vault/o", data, {_SSE: "aws:kms", _KEY_ID: key.key_id})
    assert put.status == 200, put.body
    assert (put.headers[_SSE], put.headers[_KEY_ID]) == ("aws:kms", key.arn)
    wrapped = await wrapped_of(kit, "o")
    assert is_external_form(wrapped)
    assert ExternalWrappedKey.decode(wrapped).ring == key.key_id
    assert proxy_uses(kit, "Encrypt") == [("GenerateDataKey", key.arn)]
    # The key made for the PUT is cached: the GET after it calls no proxy.
    got = await kit.client.request("GET", "/vault/o")
    assert (got.status, got.body) == (200, data)
    assert (got.headers[_SSE], got.headers[_KEY_ID]) == ("aws:kms", key.arn)
    assert proxy_uses(kit, "Decrypt") == []
    forget_cached_keys(kit, key)
    ranged = await kit.client.request("GET", "/vault/o", headers={"Range": "bytes=70000-70009"})
    assert (ranged.status, ranged.body) == (206, data[70000:70010])
    head = await kit.client.request("HEAD", "/vault/o")
    assert head.headers[_KEY_ID] == key.arn
    assert (await kit.client.request("GET", "/vault/o")).body == data
    # One proxy Decrypt for the key, then the cache: not one per GET.
    assert proxy_uses(kit, "Decrypt") == [("Decrypt", key.arn)]
    uses = [c for c in kit.xks_calls if c.operation in ("Encrypt", "Decrypt")]
    assert len(uses) == 2
    assert all(c.metadata.kms_via_service == f"s3.{REGION}.amazonaws.com" for c in uses)
    assert all(c.metadata.kms_request_id and c.failure is None for c in uses)


async def test_small_objects_and_multipart_parts_each_have_their_two_layer_key(kit: Kit) -> None:
    key = await xks_key(kit)
    small = await kit.client.request(
        "PUT", "/vault/s", b"tiny", {_SSE: "aws:kms", _KEY_ID: key.arn}
    )
    assert small.status == 200
    created = await kit.client.request(
        "POST", "/vault/mp?uploads", b"", {_SSE: "aws:kms", _KEY_ID: key.arn}
    )
    upload_id = created.body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    parts = [os.urandom(5 * 1024 * 1024), b"last part"]
    etags = []
    for number, body in enumerate(parts, start=1):
        reply = await kit.client.request(
            "PUT", f"/vault/mp?partNumber={number}&uploadId={upload_id}", body
        )
        assert reply.status == 200 and reply.headers[_KEY_ID] == key.arn
        etags.append(reply.headers["etag"])
    listing = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        for n, etag in enumerate(etags, start=1)
    )
    done = await kit.client.request(
        "POST",
        f"/vault/mp?uploadId={upload_id}",
        f"<CompleteMultipartUpload>{listing}</CompleteMultipartUpload>".encode(),
    )
    assert done.status == 200, done.body
    record = await kit.objects.head_object("vault", "mp")
    wrapped = [segment.key.wrapped for segment in record.segments if segment.key is not None]
    assert len(wrapped) == 2 and len(set(wrapped)) == 2
    assert all(is_external_form(w) for w in wrapped)
    # The small object, the upload (CreateMultipartUpload's key, as on AWS) and each part.
    assert len(proxy_uses(kit, "Encrypt")) == 4
    forget_cached_keys(kit, key)
    assert (await kit.client.request("GET", "/vault/s")).body == b"tiny"
    whole = b"".join(parts)
    across = await kit.client.request(
        "GET", "/vault/mp", headers={"Range": f"bytes={len(parts[0]) - 4}-{len(whole) - 1}"}
    )
    assert across.body == whole[len(parts[0]) - 4 :]
    assert len(proxy_uses(kit, "Decrypt")) == 3


async def test_copies_between_an_xks_key_and_an_aws_kms_key(kit: Kit) -> None:
    xks = await xks_key(kit)
    plain_key = await kit.keys.create_key(kit.caller)
    data = os.urandom(70_000)
    await kit.client.request("PUT", "/vault/src", data, {_SSE: "aws:kms", _KEY_ID: plain_key.arn})
    into = await kit.client.request(
        "PUT",
        "/vault/into-xks",
        b"",
        {"x-amz-copy-source": "/vault/src", _SSE: "aws:kms", _KEY_ID: xks.arn},
    )
    assert into.status == 200, into.body
    assert is_external_form(await wrapped_of(kit, "into-xks"))
    forget_cached_keys(kit, xks)
    out = await kit.client.request(
        "PUT",
        "/vault/out-of-xks",
        b"",
        {"x-amz-copy-source": "/vault/into-xks", _SSE: "aws:kms", _KEY_ID: plain_key.arn},
    )
    assert out.status == 200, out.body
    assert not is_external_form(await wrapped_of(kit, "out-of-xks"))
    assert (await kit.client.request("GET", "/vault/out-of-xks")).body == data
    assert proxy_uses(kit, "Decrypt") == [("Decrypt", xks.arn)]


async def test_bucket_default_and_bucket_key_call_the_proxy_once_per_bucket_key(
    kit: Kit,
) -> None:
    key = await xks_key(kit)
    config = (
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        f"<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key.arn}</KMSMasterKeyID>"
        "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>"
        "</Rule></ServerSideEncryptionConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(config).digest()).decode()  # noqa: S324 (S3's header)
    put_config = await kit.client.request("PUT", "/vault?encryption", config, {"Content-MD5": md5})
    assert put_config.status == 200, put_config.body
    bodies = {f"o{n}": os.urandom(1000 + n) for n in range(5)}
    for name, body in bodies.items():
        reply = await kit.client.request("PUT", f"/vault/{name}", body)
        assert reply.status == 200
        assert (reply.headers[_KEY_ID], reply.headers[_BUCKET_KEY]) == (key.arn, "true")
    assert proxy_uses(kit, "Encrypt") == [("GenerateDataKey", key.arn)]
    record = await kit.objects.head_object("vault", "o3")
    segment_key = record.segments[0].key
    assert segment_key is not None and segment_key.bucket_key is not None
    assert is_external_form(segment_key.bucket_key)
    forget_cached_keys(kit, key)
    for name, body in bodies.items():
        assert (await kit.client.request("GET", f"/vault/{name}")).body == body
    assert proxy_uses(kit, "Decrypt") == [("Decrypt", key.arn)]


async def test_the_customers_kill_switch_stops_reads_not_in_the_cache(kit: Kit) -> None:
    assert kit.xks is not None
    key = await xks_key(kit)
    await kit.client.request("PUT", "/vault/o", b"secret", {_SSE: "aws:kms", _KEY_ID: key.arn})
    kit.xks.disabled.add("key-1")
    # Cached (the PUT made it): served until the cache lifetime ends, as AWS documents.
    assert (await kit.client.request("GET", "/vault/o")).body == b"secret"
    forget_cached_keys(kit, key)
    refused = await kit.client.request("GET", "/vault/o")
    assert (refused.status, refused.error_code()) == (400, "KMS.KMSInvalidStateException")
    assert b"secret" not in refused.body
    put = await kit.client.request("PUT", "/vault/p", b"new", {_SSE: "aws:kms", _KEY_ID: key.arn})
    assert (put.status, put.error_code()) == (400, "KMS.KMSInvalidStateException")
    kit.xks.disabled.discard("key-1")
    assert (await kit.client.request("GET", "/vault/o")).body == b"secret"
    forget_cached_keys(kit, key)
    del kit.xks.keys["key-1"]  # destroyed in the customer's HSM
    gone = await kit.client.request("GET", "/vault/o")
    assert (gone.status, gone.error_code()) == (400, "KMS.KMSInvalidStateException")
    kit.xks.fail_with = "KeyNotFoundException"
    assert (await kit.client.request("GET", "/vault/o")).status == 400


async def test_a_one_layer_key_of_an_xks_ring_is_neither_made_nor_opened(
    kit: Kit, tmp_path: Path
) -> None:
    key = await xks_key(kit)
    await kit.client.request("PUT", "/vault/o", b"x", {_SSE: "aws:kms", _KEY_ID: key.arn})
    bound = context_digest({"aws:s3:arn": "arn:aws:s3:::vault/o"})
    with pytest.raises(ExternalLayerNeeded):
        kit.key_service.new_data_key(key.key_id, bound)
    # Made by a key service that has not met the key (the ring alone): refused once it has.
    unaware = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    one_layer = unaware.new_data_key(key.key_id, bound).wrapped
    unaware.close()
    with pytest.raises(InvalidWrappedKey, match="two layers"):
        kit.key_service.unwrap_data_key(key.key_id, one_layer, bound)
    # The inner form the proxy gives back never passes for a one-layer key either.
    plaintext, version, inner = kit.key_service.new_external_data_key(key.key_id, bound)
    relabelled = ExternalWrappedKey.decode(await wrapped_of(kit, "o"))
    fresh = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    with pytest.raises(InvalidWrappedKey):
        fresh.unwrap_data_key(key.key_id, encode_wrapped_key(key.key_id, version, inner), bound)
    fresh.close()
    assert relabelled.kek_version == version and len(plaintext) == 32


async def test_another_tenant_cannot_use_the_xks_key(kit: Kit) -> None:
    key = await xks_key(kit)
    await kit.client.request("PUT", "/vault/o", b"x", {_SSE: "aws:kms", _KEY_ID: key.arn})
    other = await kit.client.other_tenant("other")
    assert (await other.request("PUT", "/theirs")).status == 200
    reply = await other.request("PUT", "/theirs/o", b"y", {_SSE: "aws:kms", _KEY_ID: key.arn})
    assert reply.status in (400, 403)
    assert reply.error_code() in ("KMS.NotFoundException", "AccessDenied")
    assert proxy_uses(kit, "Encrypt") == [("GenerateDataKey", key.arn)]


async def test_ebs_disk_keys_under_an_xks_key(kit: Kit) -> None:
    assert kit.xks is not None
    key = await xks_key(kit)
    disk_keys = KmsDiskKeys(kit.key_service, inline=True, customer_keys=kit.keys)
    root = kit.caller.principal
    assert isinstance(root, Principal) and root.kind is PrincipalKind.ROOT
    volume_id = "vol-0123456789abcdef0"
    arn = await disk_keys.customer_key(root, kit.caller.account_id, key.arn, volume_id)
    plaintext, wrapped = await disk_keys.new_key(
        kit.caller.account_id, kms_key_arn=arn, resource_id=volume_id
    )
    assert is_external_form(wrapped)
    assert proxy_uses(kit, "Encrypt") == [("GenerateDataKeyWithoutPlaintext", key.arn)]
    volume = a_volume(volume_id, kit.caller.account_id, wrapped, arn)
    assert await disk_keys.open_key(volume) == plaintext
    assert await disk_keys.open_key(volume) == plaintext
    assert proxy_uses(kit, "Decrypt") == [("Decrypt", key.arn)]  # then cached
    forget_cached_keys(kit, key)
    kit.xks.disabled.add("key-1")
    with pytest.raises(KeyUnusable):
        await disk_keys.open_key(volume)
    kit.xks.disabled.discard("key-1")
    assert await disk_keys.open_key(volume) == plaintext
    # Another volume's id is another context: the proxy refuses the layer.
    forget_cached_keys(kit, key)
    moved = a_volume("vol-0fedcba9876543210", kit.caller.account_id, wrapped, arn)
    with pytest.raises(Exception) as caught:
        await disk_keys.open_key(moved)
    assert type(caught.value).__name__ in ("IncorrectState", "KeyUnusable")


def bucket_default_with_a_bucket_key(arn: str) -> tuple[bytes, dict[str, str]]:
    config = (
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        f"<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{arn}</KMSMasterKeyID>"
        "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>"
        "</Rule></ServerSideEncryptionConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(config).digest()).decode()  # noqa: S324 (S3's header)
    return config, {"Content-MD5": md5}


async def test_the_proxy_is_told_who_asked_and_for_which_request(kit: Kit) -> None:
    assert kit.xks is not None and kit.client.identity is not None
    key = await xks_key(kit)
    put = await kit.client.request(
        "PUT", "/vault/o", b"x" * 5000, {_SSE: "aws:kms", _KEY_ID: key.arn}
    )
    assert put.status == 200
    [made] = kit.xks.calls("Encrypt")
    assert made["awsPrincipalArn"] == kit.caller.arn  # the tenant's root, who PUT it
    assert made["kmsRequestId"] == put.headers["x-amz-request-id"]
    # An IAM user of the account reads it: the proxy's Decrypt names that user.
    reader = await kit.client.iam_user("reader")
    allow = {"Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"], "Resource": "*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    await kit.client.identity.put_user_policy(kit.client.tenant_id, "reader", "p", policy)
    forget_cached_keys(kit, key)
    got = await reader.request("GET", "/vault/o")
    assert (got.status, got.body) == (200, b"x" * 5000)
    [opened] = kit.xks.calls("Decrypt")
    assert opened["awsPrincipalArn"] == f"arn:aws:iam::{kit.client.tenant_id}:user/reader"
    assert opened["kmsRequestId"] == got.headers["x-amz-request-id"]
    # The gateway's own record of the call says the same (its audit trail's request id).
    last = kit.xks_calls[-1].metadata
    assert (last.aws_principal_arn, last.kms_request_id) == (
        opened["awsPrincipalArn"],
        opened["kmsRequestId"],
    )
    # Work no request asked for (a background pass): the platform's own, as on AWS; what the
    # requests set ended with them.
    forget_cached_keys(kit, key)
    record = await kit.objects.head_object("vault", "o")
    assert b"".join([c async for c in kit.objects.read_object(record, 0, 99)]) == b"x" * 100
    background = kit.xks.calls("Decrypt")[-1]
    assert background["awsPrincipalArn"] == "AWS Internal"
    assert background["kmsRequestId"] not in (
        put.headers["x-amz-request-id"],
        opened["kmsRequestId"],
    )
    # An ordinary KMS key's request sets nothing for later work either.
    plain = await kit.keys.create_key(kit.caller)
    assert (await reader.request("GET", "/vault/none")).status in (403, 404)
    await kit.client.request("PUT", "/vault/p", b"y", {_SSE: "aws:kms", _KEY_ID: plain.arn})
    assert requester() is None


class GatedProxy:
    """The customer's proxy as the object path calls it, counting the Encrypts (bucket keys
    made) and holding the first until the test lets it go."""

    def __init__(self, inner: ExternalDataKeys) -> None:
        self._inner = inner
        self.wraps = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def wrap_data_key(self, *args: Any, **kwargs: Any) -> ExternalLayer:
        self.wraps += 1
        self.entered.set()
        await self.release.wait()
        return await self._inner.wrap_data_key(*args, **kwargs)

    async def unwrap_data_key(self, *args: Any, **kwargs: Any) -> bytes:
        return await self._inner.unwrap_data_key(*args, **kwargs)


async def test_concurrent_first_puts_into_a_bucket_make_one_bucket_key(kit: Kit) -> None:
    key = await xks_key(kit)
    config, headers = bucket_default_with_a_bucket_key(key.arn)
    assert (await kit.client.request("PUT", "/vault?encryption", config, headers)).status == 200
    gated = GatedProxy(kit.keys)
    kit.cipher.attach_external(gated)
    bodies = {f"c{n}": os.urandom(3000 + n) for n in range(8)}
    puts = [
        asyncio.create_task(kit.client.request("PUT", f"/vault/{name}", body))
        for name, body in bodies.items()
    ]
    await gated.entered.wait()
    # Every other PUT runs until it blocks (a scheduler turn each, no time involved): without
    # the single flight, each would be in the proxy by now.
    for _ in range(500):
        await asyncio.sleep(0)
    gated.release.set()
    replies = await asyncio.gather(*puts)
    assert [r.status for r in replies] == [200] * len(bodies)
    assert gated.wraps == 1
    bucket_keys = set()
    for name in bodies:
        segment_key = (await kit.objects.head_object("vault", name)).segments[0].key
        assert segment_key is not None
        bucket_keys.add(segment_key.bucket_key)
    assert len(bucket_keys) == 1
    for name, body in bodies.items():
        assert (await kit.client.request("GET", f"/vault/{name}")).body == body


async def test_a_failed_making_lets_each_waiting_put_try_itself(kit: Kit) -> None:
    assert kit.xks is not None
    key = await xks_key(kit)
    config, headers = bucket_default_with_a_bucket_key(key.arn)
    assert (await kit.client.request("PUT", "/vault?encryption", config, headers)).status == 200
    kit.xks.disabled.add("key-1")
    replies = await asyncio.gather(
        *(kit.client.request("PUT", f"/vault/f{n}", b"z") for n in range(3))
    )
    assert {(r.status, r.error_code()) for r in replies} == {(400, "KMS.KMSInvalidStateException")}
    kit.xks.disabled.discard("key-1")
    assert (await kit.client.request("PUT", "/vault/ok", b"z")).status == 200


async def test_dsse_kms_under_an_xks_key(kit: Kit) -> None:
    key = await xks_key(kit)
    data = os.urandom(150_000)
    put = await kit.client.request(
        "PUT", "/vault/d", data, {_SSE: "aws:kms:dsse", _KEY_ID: key.arn}
    )
    assert put.status == 200, put.body
    assert (put.headers[_SSE], put.headers[_KEY_ID]) == ("aws:kms:dsse", key.arn)
    segment_key = (await kit.objects.head_object("vault", "d")).segments[0].key
    assert segment_key is not None and segment_key.inner_wrapped is not None
    assert is_external_form(segment_key.wrapped) and is_external_form(segment_key.inner_wrapped)
    assert proxy_uses(kit, "Encrypt") == [("GenerateDataKey", key.arn)] * 2
    forget_cached_keys(kit, key)
    got = await kit.client.request("GET", "/vault/d")
    assert (got.status, got.body, got.headers[_SSE]) == (200, data, "aws:kms:dsse")
    ranged = await kit.client.request("GET", "/vault/d", headers={"Range": "bytes=70000-70009"})
    assert ranged.body == data[70000:70010]
    assert proxy_uses(kit, "Decrypt") == [("Decrypt", key.arn)] * 2


async def test_the_proxy_is_told_s3_of_the_keys_region(kit: Kit) -> None:
    """The object cipher serves every region and names S3 with no region; the KMS writes in
    the key's, which is the bucket's since S3 uses keys of the bucket's region only (decision
    0142). A via-service that names its region (EBS's) is passed on as it is."""
    await xks_key(kit)  # the custom key store, connected
    stores = kit.keys.external_stores
    assert stores is not None and kit.xks is not None
    (store, *_), _ = await stores.describe(
        kit.caller, store_id=None, name=None, after=None, limit=1
    )
    kit.xks.create_key("key-de")
    germany = kit.keys.in_region("eu-de-1")
    key = await germany.create_key(
        kit.caller,
        origin="EXTERNAL_KEY_STORE",
        custom_key_store_id=store.store_id,
        xks_key_id="key-de",
    )
    assert key.arn.startswith("arn:aws:kms:eu-de-1:")
    bound = context_digest({"aws:s3:arn": "arn:aws:s3:::berlin/o"})
    for via, told in (
        ("s3.amazonaws.com", "s3.eu-de-1.amazonaws.com"),
        ("ec2.eu-de-1.amazonaws.com", "ec2.eu-de-1.amazonaws.com"),
    ):
        plaintext, version, inner = kit.key_service.new_external_data_key(key.key_id, bound)
        plaintext[:] = bytes(len(plaintext))
        await kit.keys.wrap_data_key(
            key.key_id, version, inner, bound, operation="GenerateDataKey", via_service=via
        )
        assert kit.xks_calls[-1].metadata.kms_via_service == told
        assert kit.xks_calls[-1].metadata.kms_key_arn == key.arn
