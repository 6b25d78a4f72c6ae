"""SSE-KMS in the bucket's own region (decision 0142), in process: an S3 app over a real
CustomerKeyService declaring two regions, with a bucket in each. A key id or alias name
resolves in the bucket's region, a key or alias ARN of the other region is
``KMS.NotFoundException``, ``alias/aws/s3`` is one key per region, ``kms:ViaService`` is the
bucket region's S3, a multi-Region key is usable through its related key of each region, and
S3 replication's replica key must be one of the destination's region."""

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
from botocore.credentials import Credentials

from andromede.app import s3_services, storage_limits
from andromede.audit.model import AuditEvent
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.object_keys import KmsObjectCipher
from andromede.s3.app import S3App
from andromede.settings import Settings
from andromede.sse_kms_keys import ReplicaKmsKeys, S3KmsKeys
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import KmsKeyUnusable
from andromede.storage.model import ContentHeaders
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import BodyIntegrity, ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.keys import key_service_in
from support.s3app import Client, Reply

PARIS, BERLIN = "eu-paris-1", "eu-berlin-1"
_SSE = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"


@dataclasses.dataclass
class Regions:
    client: Client
    keys: CustomerKeyService  # the default region's (Paris) KMS endpoint
    berlin: CustomerKeyService  # Berlin's
    caller: Caller
    replicas: ReplicaKmsKeys
    objects: ObjectService


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Regions]:
    settings = Settings(
        data_dir=tmp_path,
        region=PARIS,
        regions=({"name": PARIS, "jurisdiction": "FR"}, {"name": BERLIN, "jurisdiction": "DE"}),
        allow_insecure_sse=True,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    key_service = key_service_in(tmp_path / "keys")
    objects = ObjectService(
        MemoryMetadataStore(),
        RegionalBlobs({PARIS: MemoryBlobStore(), BERLIN: MemoryBlobStore()}, PARIS),
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        KmsObjectCipher(key_service, inline=True),
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(),
        key_service,
        KmsAuthoriser(identity.policies_for, PARIS),
        region=PARIS,
        regions=(PARIS, BERLIN),
    )
    services = s3_services(settings, objects, identity, S3KmsKeys(customer_keys, audit))
    client = Client(
        S3App(services, identity, audit),
        Credentials(boot.access_key_id, boot.secret_access_key),
        audit_store,
        audit,
        boot.tenant.id,
        identity,
    )
    berlin_location = (
        f"<CreateBucketConfiguration><LocationConstraint>{BERLIN}</LocationConstraint>"
        "</CreateBucketConfiguration>"
    ).encode()
    assert (await client.request("PUT", "/paris", region=PARIS)).status == 200
    assert (await client.request("PUT", "/berlin", berlin_location, region=BERLIN)).status == 200
    account = boot.tenant.id
    root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
    try:
        yield Regions(
            client,
            customer_keys,
            customer_keys.in_region(BERLIN),
            Caller(account, root.arn, root),
            ReplicaKmsKeys(customer_keys, audit),
            objects,
        )
    finally:
        await audit.close()
        key_service.close()


def _region_of(bucket: str) -> str:
    return BERLIN if bucket == "berlin" else PARIS


async def put(
    w: Regions, bucket: str, key: str, key_ref: str | None = None, **headers: str
) -> Reply:
    sent = {_SSE: "aws:kms", **headers}
    if key_ref is not None:
        sent[_KEY_ID] = key_ref
    return await w.client.request(
        "PUT", f"/{bucket}/{key}", b"secret " + key.encode(), sent, region=_region_of(bucket)
    )


async def get(w: Regions, bucket: str, key: str) -> Reply:
    return await w.client.request("GET", f"/{bucket}/{key}", region=_region_of(bucket))


async def events(w: Regions) -> list[AuditEvent]:
    await w.client.audit.flush()
    listed = await w.client.audit_store.list_events(w.client.tenant_id, after_id=0, limit=500)
    return [event for _, event in listed]


async def test_a_key_of_the_buckets_region_and_no_other(world: Regions) -> None:
    """A key of Berlin seals objects of the Berlin bucket, named by id or ARN; a Paris key is
    not found there, by ARN ("Invalid arn <region>", as S3 answers) or by id, and the other
    way round. Reads open with the key of the object's region; the uses are audited with
    it."""
    w = world
    de_key = await w.berlin.create_key(w.caller)
    fr_key = await w.keys.create_key(w.caller)
    assert de_key.arn.startswith(f"arn:aws:kms:{BERLIN}:")
    for ref in (de_key.arn, de_key.key_id):
        written = await put(w, "berlin", f"by-{len(ref)}", ref)
        assert (written.status, written.headers[_KEY_ID]) == (200, de_key.arn), written.body
        got = await get(w, "berlin", f"by-{len(ref)}")
        assert (got.status, got.body) == (200, f"secret by-{len(ref)}".encode())
        assert got.headers[_KEY_ID] == de_key.arn
    refused = await put(w, "berlin", "x", fr_key.arn)
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    assert f"Invalid arn {PARIS}".encode() in refused.body
    refused = await put(w, "berlin", "x", fr_key.key_id)
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    refused = await put(w, "paris", "x", de_key.arn)
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    assert f"Invalid arn {BERLIN}".encode() in refused.body
    assert (await put(w, "paris", "x", fr_key.key_id)).status == 200
    uses = [e for e in await events(w) if e.action == "kms:GenerateDataKey"]
    assert {(e.resource, e.details["region"]) for e in uses if e.outcome.value == "success"} == {
        (de_key.arn, BERLIN),
        (fr_key.arn, PARIS),
    }
    failed = [e for e in uses if e.outcome.value == "failure"]
    assert [(e.details["region"], e.details["error"]) for e in failed] == [
        (BERLIN, "CmkNotFound"),
        (BERLIN, "CmkNotFound"),
        (PARIS, "CmkNotFound"),
    ]
    reads = [e for e in await events(w) if e.action == "kms:Decrypt"]
    assert {(e.resource, e.details["region"]) for e in reads} == {(de_key.arn, BERLIN)}


async def test_an_alias_name_is_the_buckets_regions(world: Regions) -> None:
    w = world
    de_key = await w.berlin.create_key(w.caller)
    fr_key = await w.keys.create_key(w.caller)
    await w.berlin.create_alias(w.caller, "alias/app", de_key.key_id)
    await w.keys.create_alias(w.caller, "alias/app", fr_key.key_id)
    assert (await put(w, "berlin", "a", "alias/app")).headers[_KEY_ID] == de_key.arn
    assert (await put(w, "paris", "a", "alias/app")).headers[_KEY_ID] == fr_key.arn
    de_alias = f"arn:aws:kms:{BERLIN}:{w.caller.account_id}:alias/app"
    assert (await put(w, "berlin", "b", de_alias)).headers[_KEY_ID] == de_key.arn
    refused = await put(w, "paris", "b", de_alias)
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    # An alias only in Paris names nothing for the Berlin bucket.
    await w.keys.create_alias(w.caller, "alias/paris-only", fr_key.key_id)
    refused = await put(w, "berlin", "c", "alias/paris-only")
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")


async def test_aws_s3_is_made_per_region_with_that_regions_via_service(world: Regions) -> None:
    """No key named: the account's ``alias/aws/s3`` of the bucket's region, one per region,
    each made once, each letting the account use it through that region's S3 only."""
    w = world
    de_first = await put(w, "berlin", "a")
    de_second = await put(w, "berlin", "b")
    fr_first = await put(w, "paris", "a")
    assert de_first.status == de_second.status == fr_first.status == 200
    de_arn, fr_arn = de_first.headers[_KEY_ID], fr_first.headers[_KEY_ID]
    assert de_second.headers[_KEY_ID] == de_arn != fr_arn
    assert de_arn.startswith(f"arn:aws:kms:{BERLIN}:")
    assert fr_arn.startswith(f"arn:aws:kms:{PARIS}:")
    for keys, arn, region in ((w.berlin, de_arn, BERLIN), (w.keys, fr_arn, PARIS)):
        described = await keys.describe_key(w.caller, "alias/aws/s3")
        assert (described.arn, described.key_manager) == (arn, "AWS")
        aliases, _ = await keys.list_aliases(w.caller, key_ref=None, limit=10, marker=None)
        assert [(a.name, a.key_id) for a in aliases] == [("alias/aws/s3", described.key_id)]
        policy = await keys.get_key_policy(w.caller, arn, "default")
        assert f"s3.{region}.amazonaws.com" in policy
        other = PARIS if region == BERLIN else BERLIN
        assert f"s3.{other}.amazonaws.com" not in policy
    # Named explicitly, alias/aws/s3 (or its ARN) is the bucket region's too.
    assert (await put(w, "berlin", "c", "alias/aws/s3")).headers[_KEY_ID] == de_arn
    de_alias = f"arn:aws:kms:{BERLIN}:{w.caller.account_id}:alias/aws/s3"
    assert (await put(w, "berlin", "d", de_alias)).headers[_KEY_ID] == de_arn
    made = [e for e in await events(w) if e.action == "kms:CreateKey"]
    assert sorted((e.resource, e.details["region"]) for e in made) == sorted(
        [(de_arn, BERLIN), (fr_arn, PARIS)]
    )


async def test_kms_via_service_is_the_buckets_region(world: Regions) -> None:
    """A key policy that admits S3 of Berlin only: usable by the Berlin bucket; the same
    condition naming Paris's S3 refuses it (AccessDenied)."""
    w = world
    for region, status in ((BERLIN, 200), (PARIS, 403)):
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "manage",
                    "Effect": "Allow",
                    "Principal": {"AWS": w.caller.arn},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:PutKeyPolicy"],
                    "Resource": "*",
                },
                {
                    "Sid": "through-s3",
                    "Effect": "Allow",
                    "Principal": {"AWS": w.caller.arn},
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                },
            ],
        }
        key = await w.berlin.create_key(w.caller, policy=json.dumps(policy))
        reply = await put(w, "berlin", f"via-{region}", key.arn)
        assert (reply.status, reply.error_code() if status != 200 else None) == (
            status,
            None if status == 200 else "AccessDenied",
        )


async def test_the_bucket_default_names_a_key_of_the_buckets_region(world: Regions) -> None:
    w = world
    de_key = await w.berlin.create_key(w.caller)
    fr_key = await w.keys.create_key(w.caller)
    await w.berlin.create_alias(w.caller, "alias/backups", de_key.key_id)
    assert await _put_default(w, "berlin", fr_key.arn) == (400, "KMS.NotFoundException")
    assert await _put_default(w, "berlin", fr_key.key_id) == (400, "KMS.NotFoundException")
    assert await _put_default(w, "berlin", "alias/backups", bucket_key=True) == (200, None)
    written = await w.client.request("PUT", "/berlin/plain", b"defaulted", region=BERLIN)
    assert (written.headers[_KEY_ID], written.headers[_BUCKET_KEY]) == (de_key.arn, "true")
    got = await get(w, "berlin", "plain")
    assert (got.status, got.body) == (200, b"defaulted")
    # The default key of the Paris bucket, named by id, is Paris's.
    assert await _put_default(w, "paris", fr_key.key_id) == (200, None)
    written = await w.client.request("PUT", "/paris/p", b"p", region=PARIS)
    assert written.headers[_KEY_ID] == fr_key.arn


async def _put_default(
    w: Regions, bucket: str, key_ref: str, *, bucket_key: bool = False
) -> tuple[int, str | None]:
    config = (
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        f"<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key_ref}</KMSMasterKeyID>"
        f"</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>{str(bucket_key).lower()}"
        "</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(config, usedforsecurity=False).digest()).decode()
    reply = await w.client.request(
        "PUT", f"/{bucket}?encryption", config, {"Content-MD5": md5}, region=_region_of(bucket)
    )
    return reply.status, reply.error_code() if reply.status != 200 else None


async def test_multipart_and_copy_in_the_buckets_region(world: Regions) -> None:
    w = world
    de_key = await w.berlin.create_key(w.caller)
    created = await w.client.request(
        "POST", "/berlin/mp?uploads", b"", {_SSE: "aws:kms", _KEY_ID: de_key.key_id}, region=BERLIN
    )
    assert (created.status, created.headers[_KEY_ID]) == (200, de_key.arn)
    root = ElementTree.fromstring(created.body)
    upload_id = next(child.text for child in root if child.tag.endswith("UploadId"))
    part = await w.client.request(
        "PUT", f"/berlin/mp?partNumber=1&uploadId={upload_id}", b"part one", region=BERLIN
    )
    assert (part.status, part.headers[_KEY_ID]) == (200, de_key.arn)
    done = await w.client.request(
        "POST",
        f"/berlin/mp?uploadId={upload_id}",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
        + part.headers["etag"].encode()
        + b"</ETag></Part></CompleteMultipartUpload>",
        region=BERLIN,
    )
    assert done.status == 200, done.body
    assert (await get(w, "berlin", "mp")).body == b"part one"
    # A copy from the Berlin bucket into the Paris one: the source opens under Berlin's key,
    # the copy is sealed under Paris's (here the AWS-managed one), never a Berlin key.
    copied = await w.client.request(
        "PUT",
        "/paris/copy",
        b"",
        {"x-amz-copy-source": "/berlin/mp", _SSE: "aws:kms"},
        region=PARIS,
    )
    assert copied.status == 200, copied.body
    assert copied.headers[_KEY_ID].startswith(f"arn:aws:kms:{PARIS}:")
    refused = await w.client.request(
        "PUT",
        "/paris/copy2",
        b"",
        {"x-amz-copy-source": "/berlin/mp", _SSE: "aws:kms", _KEY_ID: de_key.arn},
        region=PARIS,
    )
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")


async def test_a_multi_region_key_is_usable_through_each_regions_related_key(
    world: Regions,
) -> None:
    """One ``mrk-`` id: the Paris bucket's objects under the primary, the Berlin bucket's under
    the replica, each with its own ARN and state; the primary's ARN is no key of Berlin."""
    w = world
    primary = await w.keys.create_key(w.caller, multi_region=True)
    replica, _ = await w.keys.multi_region.replicate_key(w.caller, primary.key_id, BERLIN)
    assert replica.arn == primary.arn.replace(f":{PARIS}:", f":{BERLIN}:")
    assert (await put(w, "paris", "m", primary.key_id)).headers[_KEY_ID] == primary.arn
    assert (await put(w, "berlin", "m", primary.key_id)).headers[_KEY_ID] == replica.arn
    assert (await put(w, "berlin", "n", replica.arn)).headers[_KEY_ID] == replica.arn
    refused = await put(w, "berlin", "o", primary.arn)
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    # The replica's state is Berlin's alone.
    await w.berlin.disable_key(w.caller, replica.arn)
    shut = await get(w, "berlin", "m")
    assert (shut.status, shut.error_code()) == (400, "KMS.DisabledException")
    assert (await get(w, "paris", "m")).body == b"secret m"


async def test_a_replica_key_must_be_of_the_destinations_region(world: Regions) -> None:
    """S3 replication seals a replica under a key of the destination bucket's region: a key of
    another region is refused (and the refusal audited), a multi-Region key's replica of that
    region is taken, its ring the shared one."""
    w = world
    account = w.caller.account_id
    fr_key = await w.keys.create_key(w.caller)
    de_key = await w.berlin.create_key(w.caller)
    with pytest.raises(KmsKeyUnusable):
        await w.replicas.replica_encryption(
            account, fr_key.arn, bucket="berlin", key="k", dual_layer=False, region=BERLIN
        )
    sealed = await w.replicas.replica_encryption(
        account, de_key.arn, bucket="berlin", key="k", dual_layer=False, region=BERLIN
    )
    assert (sealed.kms_key_arn, sealed.kms_key_ring) == (de_key.arn, de_key.key_id)
    primary = await w.keys.create_key(w.caller, multi_region=True)
    replica, _ = await w.keys.multi_region.replicate_key(w.caller, primary.key_id, BERLIN)
    await w.berlin.create_alias(w.caller, "alias/replicas", replica.arn)
    alias = f"arn:aws:kms:{BERLIN}:{account}:alias/replicas"
    for ref in (replica.arn, alias):
        sealed = await w.replicas.replica_encryption(
            account, ref, bucket="berlin", key="k", dual_layer=False, region=BERLIN
        )
        assert (sealed.kms_key_arn, sealed.kms_key_ring) == (replica.arn, primary.key_id)
    with pytest.raises(KmsKeyUnusable):
        await w.replicas.replica_encryption(
            account, primary.arn, bucket="berlin", key="k", dual_layer=False, region=BERLIN
        )
    uses = [e for e in await events(w) if e.details.get("replication") == "replica"]
    assert [(e.outcome.value, e.details["region"], e.details.get("error")) for e in uses] == [
        ("failure", BERLIN, "CmkNotFound"),
        ("success", BERLIN, None),
        ("success", BERLIN, None),
        ("success", BERLIN, None),
        ("failure", BERLIN, "CmkNotFound"),
    ]


async def test_objects_sealed_before_under_the_default_regions_key_stay_readable(
    world: Regions,
) -> None:
    """Before 0142, SSE-KMS took the default region's keys for buckets of every region: such
    an object of the Berlin bucket stores a Paris ARN, and is read through Paris's KMS (its
    key's state and policy still decide)."""
    w = world
    fr_key = await w.keys.create_key(w.caller)
    owner = (await w.objects.get_bucket("berlin")).owner_id

    async def body() -> AsyncIterator[bytes]:
        yield b"sealed before 0142"

    await w.objects.put_object(
        "berlin",
        "old",
        body(),
        size=18,
        headers=ContentHeaders(),
        owner_id=owner,
        integrity=BodyIntegrity(),
        encryption=ObjectEncryption(
            tenant_id=w.caller.account_id,
            kms_key_arn=fr_key.arn,
            kms_key_ring=fr_key.key_id,
            kms_context={"aws:s3:arn": "arn:aws:s3:::berlin/old"},
        ),
    )
    got = await get(w, "berlin", "old")
    assert (got.status, got.body, got.headers[_KEY_ID]) == (200, b"sealed before 0142", fr_key.arn)
    await w.keys.disable_key(w.caller, fr_key.key_id)
    shut = await get(w, "berlin", "old")
    assert (shut.status, shut.error_code()) == (400, "KMS.DisabledException")
