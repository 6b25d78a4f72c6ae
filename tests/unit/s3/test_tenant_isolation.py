"""The tenant-isolation matrix: every implemented S3 operation, attempted against a tenant's
bucket and object by another tenant's root user, by an anonymous caller and by an IAM user of
the owner's own tenant that has no policy — signed, or signed in to the web console, which
calls S3 in process as them — fails with AccessDenied and changes nothing.

The recipe table must cover every implemented operation (a test checks), so a new operation
cannot ship without its isolation case.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from andromede.s3.operations import S3Operation as O
from support.s3app import Client, Reply, in_process_client

VICTIM_BUCKET = "victim-data"
SECRET_KEY = "secret.txt"
SECRET = b"the victim's secret"
ACL_XML = (
    b'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<AccessControlList/></AccessControlPolicy>"
)
DELETE_XML = b"<Delete><Object><Key>secret.txt</Key></Object></Delete>"
OWNERSHIP_XML = (
    b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
    b"</OwnershipControls>"
)
PAB_XML = b"<PublicAccessBlockConfiguration/>"
ABAC_XML = b"<AbacStatus><Status>Enabled</Status></AbacStatus>"
# A request metrics configuration an intruder would add (decision 0187).
METRICS_XML = (
    b'<MetricsConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Id>stolen</Id></MetricsConfiguration>"
)
# An S3 Inventory configuration an intruder would add to the victim's bucket (decision 0154).
INVENTORY_XML = (
    b'<InventoryConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Id>stolen</Id><IsEnabled>true</IsEnabled><Destination><S3BucketDestination>"
    b"<Bucket>arn:aws:s3:::intruder-own</Bucket><Format>CSV</Format></S3BucketDestination>"
    b"</Destination><IncludedObjectVersions>All</IncludedObjectVersions>"
    b"<Schedule><Frequency>Daily</Frequency></Schedule></InventoryConfiguration>"
)
SELECT_XML = (
    b'<SelectObjectContentRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Expression>SELECT * FROM S3Object</Expression><ExpressionType>SQL</ExpressionType>"
    b"<InputSerialization><CSV/></InputSerialization>"
    b"<OutputSerialization><CSV/></OutputSerialization></SelectObjectContentRequest>"
)
TAGS_XML = b"<Tagging><TagSet><Tag><Key>owner</Key><Value>intruder</Value></Tag></TagSet></Tagging>"
SSE_XML = (
    b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
    b"<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
    b"</ServerSideEncryptionConfiguration>"
)
RETENTION_XML = (
    b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate>"
    b"</Retention>"
)
LEGAL_HOLD_XML = b"<LegalHold><Status>ON</Status></LegalHold>"
REPLICATION_XML = (
    b"<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule><Status>Enabled"
    b"</Status><Destination><Bucket>arn:aws:s3:::x</Bucket></Destination></Rule>"
    b"</ReplicationConfiguration>"
)
OBJECT_LOCK_XML = (
    b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
    b"</ObjectLockConfiguration>"
)
LIFECYCLE_XML = (
    b"<LifecycleConfiguration><Rule><ID>r</ID><Filter/><Status>Enabled</Status>"
    b"<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"
)
WEBSITE_XML = (
    b"<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
    b"</WebsiteConfiguration>"
)
CORS_XML = (
    b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
    b"<AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>"
)
POST_BOUNDARY = "isolation-form"
POST_FORM = (
    f'--{POST_BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nsecret.txt\r\n'
    f'--{POST_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    f"overwritten\r\n--{POST_BOUNDARY}--\r\n"
).encode()
POLICY = (
    b'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
    b'"Action":"s3:GetObject","Resource":"arn:aws:s3:::victim-data/*"}]}'
)


def md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


@dataclass(frozen=True)
class Recipe:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


VERSIONING_XML = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
B = f"/{VICTIM_BUCKET}"
K = f"{B}/{SECRET_KEY}"
UPLOAD = "{upload}"  # replaced by the victim's pending upload id

RECIPES: dict[O, Recipe] = {
    O.HeadBucket: Recipe("HEAD", B),
    O.DeleteBucket: Recipe("DELETE", B),
    O.GetBucketLocation: Recipe("GET", f"{B}?location"),
    O.ListObjects: Recipe("GET", B),
    O.ListObjectsV2: Recipe("GET", f"{B}?list-type=2"),
    O.ListMultipartUploads: Recipe("GET", f"{B}?uploads"),
    O.ListParts: Recipe("GET", f"{K}?uploadId={UPLOAD}"),
    O.PutObject: Recipe("PUT", K, b"overwritten"),
    O.GetObject: Recipe("GET", K),
    O.HeadObject: Recipe("HEAD", K),
    O.DeleteObject: Recipe("DELETE", K),
    O.DeleteObjects: Recipe("POST", f"{B}?delete", DELETE_XML, tuple(md5(DELETE_XML).items())),
    O.CopyObject: Recipe("PUT", f"{B}/copy", headers=(("x-amz-copy-source", K),)),
    O.CreateMultipartUpload: Recipe("POST", f"{K}?uploads"),
    O.UploadPart: Recipe("PUT", f"{K}?partNumber=1&uploadId={UPLOAD}", b"part"),
    O.UploadPartCopy: Recipe(
        "PUT", f"{K}?partNumber=1&uploadId={UPLOAD}", headers=(("x-amz-copy-source", K),)
    ),
    O.CompleteMultipartUpload: Recipe(
        "POST", f"{K}?uploadId={UPLOAD}", b"<CompleteMultipartUpload/>"
    ),
    O.AbortMultipartUpload: Recipe("DELETE", f"{K}?uploadId={UPLOAD}"),
    O.GetBucketPolicy: Recipe("GET", f"{B}?policy"),
    O.PutBucketPolicy: Recipe("PUT", f"{B}?policy", POLICY),
    O.DeleteBucketPolicy: Recipe("DELETE", f"{B}?policy"),
    O.GetBucketPolicyStatus: Recipe("GET", f"{B}?policyStatus"),
    O.GetBucketAcl: Recipe("GET", f"{B}?acl"),
    O.PutBucketAcl: Recipe("PUT", f"{B}?acl", headers=(("x-amz-acl", "public-read"),)),
    O.GetObjectAcl: Recipe("GET", f"{K}?acl"),
    O.PutObjectAcl: Recipe("PUT", f"{K}?acl", ACL_XML),
    O.GetBucketOwnershipControls: Recipe("GET", f"{B}?ownershipControls"),
    O.PutBucketOwnershipControls: Recipe(
        "PUT", f"{B}?ownershipControls", OWNERSHIP_XML, tuple(md5(OWNERSHIP_XML).items())
    ),
    O.DeleteBucketOwnershipControls: Recipe("DELETE", f"{B}?ownershipControls"),
    O.GetBucketAbac: Recipe("GET", f"{B}?abac"),
    O.PutBucketAbac: Recipe("PUT", f"{B}?abac", ABAC_XML),
    O.GetPublicAccessBlock: Recipe("GET", f"{B}?publicAccessBlock"),
    O.PutPublicAccessBlock: Recipe(
        "PUT", f"{B}?publicAccessBlock", PAB_XML, tuple(md5(PAB_XML).items())
    ),
    O.DeletePublicAccessBlock: Recipe("DELETE", f"{B}?publicAccessBlock"),
    O.GetBucketEncryption: Recipe("GET", f"{B}?encryption"),
    O.PutBucketEncryption: Recipe("PUT", f"{B}?encryption", SSE_XML, tuple(md5(SSE_XML).items())),
    O.DeleteBucketEncryption: Recipe("DELETE", f"{B}?encryption"),
    O.GetBucketTagging: Recipe("GET", f"{B}?tagging"),
    O.PutBucketTagging: Recipe("PUT", f"{B}?tagging", TAGS_XML, tuple(md5(TAGS_XML).items())),
    O.DeleteBucketTagging: Recipe("DELETE", f"{B}?tagging"),
    O.GetObjectTagging: Recipe("GET", f"{K}?tagging"),
    O.PutObjectTagging: Recipe("PUT", f"{K}?tagging", TAGS_XML, tuple(md5(TAGS_XML).items())),
    O.DeleteObjectTagging: Recipe("DELETE", f"{K}?tagging"),
    O.GetBucketVersioning: Recipe("GET", f"{B}?versioning"),
    O.PutBucketVersioning: Recipe("PUT", f"{B}?versioning", VERSIONING_XML),
    O.ListObjectVersions: Recipe("GET", f"{B}?versions"),
    O.GetBucketCors: Recipe("GET", f"{B}?cors"),
    O.PutBucketCors: Recipe("PUT", f"{B}?cors", CORS_XML, tuple(md5(CORS_XML).items())),
    O.DeleteBucketCors: Recipe("DELETE", f"{B}?cors"),
    O.GetBucketLifecycleConfiguration: Recipe("GET", f"{B}?lifecycle"),
    O.PutBucketLifecycleConfiguration: Recipe(
        "PUT", f"{B}?lifecycle", LIFECYCLE_XML, tuple(md5(LIFECYCLE_XML).items())
    ),
    O.DeleteBucketLifecycle: Recipe("DELETE", f"{B}?lifecycle"),
    O.GetBucketLogging: Recipe("GET", f"{B}?logging"),
    O.PutBucketLogging: Recipe("PUT", f"{B}?logging", b"<BucketLoggingStatus/>"),
    O.GetBucketNotificationConfiguration: Recipe("GET", f"{B}?notification"),
    O.PutBucketNotificationConfiguration: Recipe(
        "PUT", f"{B}?notification", b"<NotificationConfiguration/>"
    ),
    O.GetBucketReplication: Recipe("GET", f"{B}?replication"),
    O.PutBucketReplication: Recipe(
        "PUT", f"{B}?replication", REPLICATION_XML, tuple(md5(REPLICATION_XML).items())
    ),
    O.DeleteBucketReplication: Recipe("DELETE", f"{B}?replication"),
    O.GetObjectLockConfiguration: Recipe("GET", f"{B}?object-lock"),
    O.PutObjectLockConfiguration: Recipe(
        "PUT", f"{B}?object-lock", OBJECT_LOCK_XML, tuple(md5(OBJECT_LOCK_XML).items())
    ),
    O.GetObjectRetention: Recipe("GET", f"{K}?retention"),
    O.PutObjectRetention: Recipe("PUT", f"{K}?retention", RETENTION_XML),
    O.GetObjectLegalHold: Recipe("GET", f"{K}?legal-hold"),
    O.PutObjectLegalHold: Recipe("PUT", f"{K}?legal-hold", LEGAL_HOLD_XML),
    O.GetBucketAccelerateConfiguration: Recipe("GET", f"{B}?accelerate"),
    O.GetBucketRequestPayment: Recipe("GET", f"{B}?requestPayment"),
    O.PutBucketRequestPayment: Recipe(
        "PUT",
        f"{B}?requestPayment",
        b"<RequestPaymentConfiguration><Payer>BucketOwner</Payer></RequestPaymentConfiguration>",
    ),
    O.GetBucketWebsite: Recipe("GET", f"{B}?website"),
    O.PutBucketWebsite: Recipe("PUT", f"{B}?website", WEBSITE_XML, tuple(md5(WEBSITE_XML).items())),
    O.DeleteBucketWebsite: Recipe("DELETE", f"{B}?website"),
    O.PostObject: Recipe(
        "POST",
        B,
        POST_FORM,
        (("Content-Type", f"multipart/form-data; boundary={POST_BOUNDARY}"),),
    ),
    O.GetObjectAttributes: Recipe(
        "GET", f"{K}?attributes", headers=(("x-amz-object-attributes", "ETag,ObjectSize"),)
    ),
    O.PutBucketInventoryConfiguration: Recipe("PUT", f"{B}?inventory&id=stolen", INVENTORY_XML),
    O.GetBucketInventoryConfiguration: Recipe("GET", f"{B}?inventory&id=stolen"),
    O.DeleteBucketInventoryConfiguration: Recipe("DELETE", f"{B}?inventory&id=stolen"),
    O.ListBucketInventoryConfigurations: Recipe("GET", f"{B}?inventory"),
    # Request metrics configurations (decision 0187).
    O.PutBucketMetricsConfiguration: Recipe("PUT", f"{B}?metrics&id=stolen", METRICS_XML),
    O.GetBucketMetricsConfiguration: Recipe("GET", f"{B}?metrics&id=stolen"),
    O.DeleteBucketMetricsConfiguration: Recipe("DELETE", f"{B}?metrics&id=stolen"),
    O.ListBucketMetricsConfigurations: Recipe("GET", f"{B}?metrics"),
    # S3 Select (decision 0234): reading the object through SQL is reading it.
    O.SelectObjectContent: Recipe("POST", f"{K}?select&select-type=2", SELECT_XML),
}
# Not bucket-addressed: covered by their own tests below.
SERVICE_LEVEL = {O.ListBuckets, O.CreateBucket}


def test_every_implemented_operation_has_an_isolation_case() -> None:
    implemented = {op for op in O if op.implemented}
    assert implemented - SERVICE_LEVEL == set(RECIPES)


@dataclass
class World:
    victim: Client
    intruder: Client
    anonymous: Client
    powerless: Client  # an IAM user of the victim's tenant with an access key and no policy
    upload_id: str
    # The same two signed in to the web console, which calls S3 in process as them (0111).
    intruder_console: Client
    powerless_console: Client

    def caller(self, name: str) -> Client:
        callers = {
            "intruder": self.intruder,
            "anonymous": self.anonymous,
            "powerless": self.powerless,
            "intruder-console": self.intruder_console,
            "powerless-console": self.powerless_console,
        }
        return callers[name]


async def snapshot(victim: Client, upload_id: str) -> list[tuple[int, bytes]]:
    """Everything an intruder could change, read back by the owner."""
    reads = [
        ("GET", "/"),
        ("GET", f"{B}?list-type=2"),
        ("GET", K),
        ("GET", f"{B}?acl"),
        ("GET", f"{K}?acl"),
        ("GET", f"{K}?tagging"),
        ("GET", f"{B}?ownershipControls"),
        ("GET", f"{B}?publicAccessBlock"),
        ("GET", f"{B}?policy"),
        ("GET", f"{B}?cors"),
        ("GET", f"{B}?website"),
        ("GET", f"{B}?lifecycle"),
        ("GET", f"{B}?replication"),
        ("GET", f"{B}?inventory"),
        ("GET", f"{B}?uploads"),
        ("GET", f"{K}?uploadId={upload_id}"),
    ]
    found = []
    for method, path in reads:
        reply = await victim.request(method, path)
        # Request ids differ on every answer: keep the documents without them.
        body = reply.body.split(b"<RequestId>")[0]
        found.append((reply.status, body))
    return found


@asynccontextmanager
async def new_world(data_dir: Path) -> AsyncIterator[World]:
    """The victim's bucket, its tagged secret and an upload in progress; the callers."""
    async with in_process_client(data_dir) as victim:
        assert (await victim.request("PUT", B)).status == 200
        tagged = {"x-amz-tagging": "classification=secret"}
        assert (await victim.request("PUT", K, SECRET, tagged)).status == 200
        created = await victim.request("POST", f"{K}?uploads")
        upload_id = created.body.split(b"<UploadId>")[1].split(b"<")[0].decode()
        intruder = await victim.other_tenant("intruder")
        assert (await intruder.request("PUT", "/intruder-own")).status == 200
        powerless = await victim.iam_user("powerless")
        yield World(
            victim,
            intruder,
            victim.as_anonymous(),
            powerless,
            upload_id,
            await intruder.as_console_user("root"),
            await victim.as_console_user("powerless"),
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A world of the test's own, for the tests whose callers succeed at something."""
    async with new_world(tmp_path) as made:
        yield made


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def refused_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """Built once for the matrix of refused callers: every attempt is refused, so the world
    is only read. Each case still reads the victim's state before and after its own attempt,
    so a refusal that changed something fails that case, not a later one (a world per case
    was half of this file's CPU)."""
    async with new_world(tmp_path_factory.mktemp("refused")) as made:
        yield made


async def attempt(client: Client, recipe: Recipe, upload_id: str) -> Reply:
    return await client.request(
        recipe.method,
        recipe.path.replace(UPLOAD, upload_id),
        recipe.body,
        dict(recipe.headers),
        sign=client.credentials is not None and client.console_principal is None,
    )


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    "caller", ["intruder", "anonymous", "powerless", "intruder-console", "powerless-console"]
)
@pytest.mark.parametrize("operation", list(RECIPES), ids=lambda op: op.name)
async def test_other_tenants_anonymous_and_users_without_policy_are_denied(
    refused_world: World, caller: str, operation: O
) -> None:
    world = refused_world
    before = await snapshot(world.victim, world.upload_id)
    client = world.caller(caller)
    reply = await attempt(client, RECIPES[operation], world.upload_id)
    assert reply.status == 403, (operation, reply.status, reply.body[:300])
    if reply.body:
        assert reply.error_code() == "AccessDenied"
    assert await snapshot(world.victim, world.upload_id) == before


@pytest.mark.parametrize("copy_op", [O.CopyObject, O.UploadPartCopy])
async def test_copying_another_tenants_object_into_ones_own_bucket_is_denied(
    world: World, copy_op: O
) -> None:
    """Exfiltration through a copy whose destination the intruder owns."""
    if copy_op is O.CopyObject:
        path = "/intruder-own/stolen"
    else:
        created = await world.intruder.request("POST", "/intruder-own/stolen?uploads")
        upload = created.body.split(b"<UploadId>")[1].split(b"<")[0].decode()
        path = f"/intruder-own/stolen?partNumber=1&uploadId={upload}"
    reply = await world.intruder.request("PUT", path, headers={"x-amz-copy-source": K})
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert (await world.intruder.request("GET", "/intruder-own/stolen")).status == 404


async def test_data_events_of_a_bucket_go_to_its_owner_alone(world: World) -> None:
    """A bucket's data events (decision 0109): the intruder's reads are in the victim's log,
    never in its own, and its own bucket's setting says nothing of the victim's."""
    objects = world.victim.objects
    assert objects is not None
    await objects.set_bucket_data_reads_logged(VICTIM_BUCKET, True)
    assert (await world.intruder.request("GET", K)).status == 403
    assert (await world.intruder.request("GET", "/intruder-own")).status == 200  # off: no event
    audit = world.victim.audit
    await audit.flush()
    store = world.victim.audit_store
    theirs = [e for _, e in await store.list_events(world.intruder.tenant_id, after_id=0, limit=50)]
    assert [e.action for e in theirs] == ["s3:CreateBucket"]
    victims = [e for _, e in await store.list_events(world.victim.tenant_id, after_id=0, limit=50)]
    assert [(e.action, e.outcome.value) for e in victims if e.action == "s3:GetObject"] == [
        ("s3:GetObject", "failure")
    ]
    assert not (await objects.get_bucket("intruder-own")).data_reads_logged


async def test_another_tenants_bucket_is_no_replication_destination(world: World) -> None:
    """Replication would copy into the victim's bucket what the intruder chose (0112)."""
    enabled = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    victim_versioned = await world.victim.request("PUT", f"{B}?versioning", enabled)
    assert victim_versioned.status == 200
    own_versioned = await world.intruder.request("PUT", "/intruder-own?versioning", enabled)
    assert own_versioned.status == 200
    config = REPLICATION_XML.replace(b"arn:aws:s3:::x", f"arn:aws:s3:::{VICTIM_BUCKET}".encode())
    reply = await world.intruder.request("PUT", "/intruder-own?replication", config, md5(config))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    assert (await world.intruder.request("GET", "/intruder-own?replication")).status == 404


async def test_list_buckets_shows_only_ones_own(world: World) -> None:
    mine = await world.intruder.request("GET", "/")
    assert mine.status == 200
    assert b"intruder-own" in mine.body and VICTIM_BUCKET.encode() not in mine.body
    anonymous = await world.anonymous.request("GET", "/", sign=False)
    assert (anonymous.status, anonymous.error_code()) == (403, "AccessDenied")


async def test_creating_a_taken_bucket_name_changes_nothing(world: World) -> None:
    before = await snapshot(world.victim, world.upload_id)
    taken = await world.intruder.request("PUT", B)
    assert (taken.status, taken.error_code()) == (409, "BucketAlreadyExists")
    anonymous = await world.anonymous.request("PUT", B, sign=False)
    assert (anonymous.status, anonymous.error_code()) == (403, "AccessDenied")
    assert await snapshot(world.victim, world.upload_id) == before


async def test_a_user_without_policy_can_neither_list_nor_create_buckets(world: World) -> None:
    """ListBuckets and CreateBucket need s3:ListAllMyBuckets and s3:CreateBucket, which an IAM
    user gets only from a policy (the root user of its account needs none)."""
    before = await snapshot(world.victim, world.upload_id)
    listed = await world.powerless.request("GET", "/")
    assert (listed.status, listed.error_code()) == (403, "AccessDenied")
    created = await world.powerless.request("PUT", "/powerless-own")
    assert (created.status, created.error_code()) == (403, "AccessDenied")
    assert await snapshot(world.victim, world.upload_id) == before
    assert (await world.victim.request("HEAD", "/powerless-own")).status == 404


async def test_the_user_without_policy_is_refused_for_want_of_a_policy(world: World) -> None:
    """The control of the matrix: the same user's key works once a policy allows it, so its
    refusals above come from authorisation, not from a key that does not work."""
    assert world.victim.identity is not None
    read_secret = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{K[1:]}"}
        ],
    }
    await world.victim.identity.put_user_policy(
        world.victim.tenant_id, "powerless", "read-secret", json.dumps(read_secret)
    )
    reply = await world.powerless.request("GET", K)
    assert (reply.status, reply.body) == (200, SECRET)


async def test_versions_of_another_tenants_objects_are_out_of_reach(world: World) -> None:
    """Decision 0099: the calls that name a version (tagging, ACL, attributes, a copy source
    ``?versionId=``) are denied to other tenants, anonymous callers and users without policy,
    and change nothing of the victim's noncurrent version."""
    victim = world.victim
    assert (await victim.request("PUT", f"{B}?versioning", VERSIONING_XML)).status == 200
    old = (await victim.request("PUT", K, b"old secret")).headers["x-amz-version-id"]
    assert (await victim.request("PUT", K, SECRET)).status == 200
    V = f"{K}?versionId={old}"
    source = (("x-amz-copy-source", f"{K}?versionId={old}"),)
    recipes = [
        Recipe("GET", f"{K}?tagging&versionId={old}"),
        Recipe("PUT", f"{K}?tagging&versionId={old}", TAGS_XML, tuple(md5(TAGS_XML).items())),
        Recipe("DELETE", f"{K}?tagging&versionId={old}"),
        Recipe("GET", f"{K}?acl&versionId={old}"),
        Recipe("PUT", f"{K}?acl&versionId={old}", ACL_XML),
        Recipe(
            "GET", f"{K}?attributes&versionId={old}", headers=(("x-amz-object-attributes", "ETag"),)
        ),
        Recipe("GET", V),
        Recipe("DELETE", V),
        Recipe("PUT", f"{B}/copy", headers=source),
    ]

    async def version_state() -> list[tuple[int, bytes]]:
        found = []
        for path in (V, f"{K}?tagging&versionId={old}", f"{K}?acl&versionId={old}"):
            reply = await victim.request("GET", path)
            found.append((reply.status, reply.body.split(b"<RequestId>")[0]))
        return found

    before = await version_state()
    for caller in ("intruder", "anonymous", "powerless"):
        client = world.caller(caller)
        for recipe in recipes:
            reply = await attempt(client, recipe, world.upload_id)
            assert reply.status == 403, (caller, recipe, reply.status, reply.body[:300])
    exfiltrate = await world.intruder.request("PUT", "/intruder-own/stolen", headers=dict(source))
    assert (exfiltrate.status, exfiltrate.error_code()) == (403, "AccessDenied")
    assert await version_state() == before


@pytest.mark.parametrize("caller", ["intruder", "anonymous", "powerless"])
async def test_nobody_else_lifts_or_bypasses_a_lock(world: World, caller: str) -> None:
    """Object Lock (decision 0102) in a bucket of the victim's that has it: every lock call,
    and a delete of the version with the bypass header, is 403 for another tenant, anonymous
    and a user without policy, and the version keeps its retention and hold."""
    victim = world.victim
    locked = "/victim-locked"
    assert (
        await victim.request("PUT", locked, headers={"x-amz-bucket-object-lock-enabled": "true"})
    ).status == 200
    headers = {
        **md5(SECRET),
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z",
        "x-amz-object-lock-legal-hold": "ON",
    }
    written = await victim.request("PUT", f"{locked}/k", SECRET, headers)
    assert written.status == 200, written.body
    vid = written.headers["x-amz-version-id"]
    no_retention = b"<Retention/>"
    no_hold = b"<LegalHold><Status>OFF</Status></LegalHold>"
    bypass = {"x-amz-bypass-governance-retention": "true"}
    attempts = [
        ("GET", f"{locked}?object-lock", b"", {}),
        ("PUT", f"{locked}?object-lock", OBJECT_LOCK_XML, md5(OBJECT_LOCK_XML)),
        ("GET", f"{locked}/k?retention&versionId={vid}", b"", {}),
        (
            "PUT",
            f"{locked}/k?retention&versionId={vid}",
            no_retention,
            {**md5(no_retention), **bypass},
        ),
        ("GET", f"{locked}/k?legal-hold&versionId={vid}", b"", {}),
        ("PUT", f"{locked}/k?legal-hold&versionId={vid}", no_hold, md5(no_hold)),
        ("DELETE", f"{locked}/k?versionId={vid}", b"", bypass),
        # Decision 0104: a multipart upload asking for a lock, and the same retention asked
        # without Content-MD5 or with a malformed body (refused before the body is judged).
        ("POST", f"{locked}/k?uploads", b"", {k: v for k, v in headers.items() if "lock" in k}),
        ("PUT", f"{locked}/k?retention&versionId={vid}", no_retention, bypass),
        ("PUT", f"{locked}/k?legal-hold&versionId={vid}", b"<LegalHold>", {}),
    ]
    client = world.caller(caller)
    for method, path, body, extra in attempts:
        reply = await client.request(
            method, path, body, dict(extra), sign=client.credentials is not None
        )
        assert (reply.status, reply.error_code()) == (403, "AccessDenied"), (method, path)
    head = await victim.request("HEAD", f"{locked}/k?versionId={vid}")
    assert head.status == 200
    assert head.headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    assert head.headers["x-amz-object-lock-legal-hold"] == "ON"
    uploads = await victim.request("GET", f"{locked}?uploads")
    assert uploads.status == 200 and b"<Upload>" not in uploads.body


async def operator_of(tenant: Client) -> Client:
    """A platform operator with read-write access to every bucket of ``tenant`` and its SSE-KMS
    objects, approved by its root (decisions 0107, 0114): the widest approval there is."""
    from botocore.credentials import Credentials

    from andromede.audit.access import AccessMode, Actor

    assert tenant.identity is not None and tenant.operator_access is not None
    created = await tenant.identity.create_operator("support")
    operator = created.operator
    service = tenant.operator_access
    opened = await service.open(
        Actor(operator.arn, operator_id=operator.id, operator_name=operator.name),
        tenant.tenant_id,
        buckets=None,
        mode=AccessMode.READ_WRITE,
        reason="isolation",
        duration_seconds=600,
        request_id="R",
        include_kms=True,
    )
    root = Actor(f"arn:aws:iam::{tenant.tenant_id}:root", tenant_id=tenant.tenant_id)
    approved = await service.approve(root, opened.id, request_id="R")
    assert approved.expires_at is not None
    issued = await tenant.identity.issue_operator_access_credentials(
        tenant.tenant_id, operator.id, approved.id, approved.expires_at
    )
    return dataclasses.replace(
        tenant,
        credentials=Credentials(
            issued.access_key_id, issued.secret_access_key, issued.session_token
        ),
    )


@pytest.mark.parametrize("operation", list(RECIPES), ids=lambda op: op.name)
async def test_an_operator_approved_by_another_tenant_is_denied(world: World, operation: O) -> None:
    """Operator access the intruder tenant approved reaches nothing of the victim's."""
    before = await snapshot(world.victim, world.upload_id)
    operator = await operator_of(world.intruder)
    reply = await attempt(operator, RECIPES[operation], world.upload_id)
    assert reply.status == 403, (operation, reply.status, reply.body[:300])
    if reply.body:
        assert reply.error_code() == "AccessDenied"
    assert await snapshot(world.victim, world.upload_id) == before
