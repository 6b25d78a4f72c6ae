"""Bucket replication in process (decision 0112): Get/Put/DeleteBucketReplication — the
document as S3 reads and shows it, the checks of the buckets it names, the tenant's region
allow-list, the audit event naming the regions, versioning held Enabled on a source — and the
replication itself: versions queued PENDING as they are written, copied by the worker into the
destination's region with their id, bytes, ETag and metadata, COMPLETED and REPLICA, retried
and then FAILED, delete markers as the rule says, SSE-C and replicas never copied."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.app import replication_grants, s3_services, storage_limits
from andromede.audit.model import AuditEvent
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.object_keys import KmsObjectCipher
from andromede.s3.app import S3App
from andromede.s3.handlers.replication import parse_replication
from andromede.settings import Settings
from andromede.sse_kms_keys import ReplicaKmsKeys, S3KmsKeys
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.errors import BlobError
from andromede.storage.regions import RegionalBlobs
from andromede.storage.replication import ReplicationConfiguration
from andromede.storage.replication_queue import MemoryReplicationQueue
from andromede.storage.replicator import Replicator
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.wakeup import Doorbell
from support.keys import key_service_in
from support.s3app import Client, Reply

PARIS, BERLIN = "eu-paris-1", "eu-berlin-1"
ENABLED = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
SUSPENDED = b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"


def md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


def location(region: str) -> bytes:
    return (
        f"<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint>"
        "</CreateBucketConfiguration>"
    ).encode()


def v2_rule(
    destination: str = "backup",
    *,
    rule_id: str = "all",
    priority: int = 1,
    filter_xml: str = "<Filter><Prefix>docs/</Prefix></Filter>",
    markers: str | None = "Enabled",
    extra: str = "",
) -> str:
    marker_xml = (
        ""
        if markers is None
        else f"<DeleteMarkerReplication><Status>{markers}</Status></DeleteMarkerReplication>"
    )
    return (
        f"<Rule><ID>{rule_id}</ID><Priority>{priority}</Priority>{filter_xml}"
        f"<Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::{destination}</Bucket>"
        f"{extra}</Destination>{marker_xml}</Rule>"
    )


def document(*rules: str, role: str = "<Role>arn:aws:iam::1:role/replication</Role>") -> bytes:
    return f"<ReplicationConfiguration>{role}{''.join(rules)}</ReplicationConfiguration>".encode()


def with_criteria(rule: str, criteria: str) -> str:
    """``rule`` with a ``SourceSelectionCriteria`` holding ``criteria``."""
    return rule.replace(
        "<Status>Enabled</Status><Destination>",
        f"<Status>Enabled</Status><SourceSelectionCriteria>{criteria}"
        "</SourceSelectionCriteria><Destination>",
    )


def kms_rule(replica_key: str, destination: str = "backup", *, selected: str = "Enabled") -> str:
    """A rule over every key that selects versions under a KMS key (``selected``) and seals
    their replicas under ``replica_key``."""
    return with_criteria(
        v2_rule(
            destination,
            filter_xml="<Filter><Prefix></Prefix></Filter>",
            extra=f"<EncryptionConfiguration><ReplicaKmsKeyID>{replica_key}"
            "</ReplicaKmsKeyID></EncryptionConfiguration>",
        ),
        f"<SseKmsEncryptedObjects><Status>{selected}</Status></SseKmsEncryptedObjects>",
    )


SSE_KMS_SELECTED = "<SseKmsEncryptedObjects><Status>Enabled</Status></SseKmsEncryptedObjects>"
REPLICA_KEY_XML = (
    "<EncryptionConfiguration><ReplicaKmsKeyID>{}</ReplicaKmsKeyID></EncryptionConfiguration>"
)


class FlakyBlobStore(MemoryBlobStore):
    """A region's store that refuses writes while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def create(self, blob_id: str):  # type: ignore[no-untyped-def]
        if self.down:
            raise BlobError("the region's store is away")
        return await super().create(blob_id)


@dataclasses.dataclass
class World:
    client: Client
    identity: IdentityService
    replicator: Replicator
    queue: MemoryReplicationQueue
    berlin: FlakyBlobStore
    objects: ObjectService
    keys: CustomerKeyService  # the tenants' KMS keys (SSE-KMS, replica keys)
    caller: Caller  # the bootstrap tenant's root, for the key service's own calls
    billing: BillingService  # what the replica keys' uses count into (decision 0150)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        region=PARIS,
        regions=({"name": PARIS, "jurisdiction": "FR"}, {"name": BERLIN, "jurisdiction": "DE"}),
        max_replication_rules=3,
        allow_insecure_sse=True,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    berlin = FlakyBlobStore()
    store = MemoryMetadataStore()
    key_service = key_service_in(tmp_path / "keys")
    objects = ObjectService(
        store,
        RegionalBlobs({PARIS: MemoryBlobStore(), BERLIN: berlin}, PARIS),
        dataclasses.replace(storage_limits(settings), deletion_grace=0, inline_object_max_bytes=0),
        KmsObjectCipher(key_service, inline=True),
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=PARIS, instance_types=[])
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(),
        key_service,
        KmsAuthoriser(identity.policies_for, PARIS),
        region=PARIS,
    )
    # The store's own queue: it writes a version's task in the step that commits the version.
    queue = store.replication_queue
    grants = replication_grants(settings, identity, audit)
    replicator = Replicator(
        objects,
        queue,
        max_attempts=2,
        retry_base=0.000001,
        replica_keys=ReplicaKmsKeys(customer_keys, audit, billing),
        grants=grants,
    )
    services = s3_services(
        settings,
        objects,
        identity,
        S3KmsKeys(customer_keys, audit),
        allowed_regions=identity.allowed_regions,
        replicator=replicator,
        replication_grants=grants,
    )
    client = Client(
        S3App(services, identity, audit),
        Credentials(boot.access_key_id, boot.secret_access_key),
        audit_store,
        audit,
        boot.tenant.id,
        identity,
    )
    for path, body in (("/source", None), ("/backup", location(BERLIN))):
        assert (await client.request("PUT", path, body, region=PARIS)).status == 200
        region = BERLIN if body else PARIS
        reply = await client.request("PUT", f"{path}?versioning", ENABLED, region=region)
        assert reply.status == 200
    account = boot.tenant.id
    root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
    try:
        yield World(
            client,
            identity,
            replicator,
            queue,
            berlin,
            objects,
            customer_keys,
            Caller(account, root.arn, root),
            billing,
        )
    finally:
        await audit.close()
        key_service.close()


async def put(client: Client, body: bytes, bucket: str = "source") -> Reply:
    return await client.request("PUT", f"/{bucket}?replication", body, md5(body), region=PARIS)


async def get(client: Client, bucket: str = "source") -> Reply:
    return await client.request("GET", f"/{bucket}?replication", region=PARIS)


async def events(client: Client) -> list[AuditEvent]:
    await client.audit.flush()
    listed = await client.audit_store.list_events(client.tenant_id, after_id=0, limit=500)
    return [event for _, event in listed]


async def test_a_configuration_is_put_read_back_and_deleted(world: World) -> None:
    c = world.client
    missing = await get(c)
    assert (missing.status, missing.error_code()) == (404, "ReplicationConfigurationNotFoundError")
    tagged = (
        "<Filter><And><Prefix>logs/</Prefix><Tag><Key>keep</Key><Value>yes</Value></Tag>"
        "</And></Filter>"
    )
    body = document(
        v2_rule(extra="<StorageClass>STANDARD</StorageClass>"),
        v2_rule(rule_id="tagged", priority=2, filter_xml=tagged, markers="Disabled"),
    )
    assert (await put(c, body)).status == 200
    shown = await get(c)
    assert shown.status == 200
    assert b"<Role>arn:aws:iam::1:role/replication</Role>" in shown.body
    assert (
        b"<Rule><ID>all</ID><Priority>1</Priority><Filter><Prefix>docs/</Prefix></Filter>"
        b"<Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::backup</Bucket>"
        b"<StorageClass>STANDARD</StorageClass></Destination><DeleteMarkerReplication>"
        b"<Status>Enabled</Status></DeleteMarkerReplication></Rule>"
    ) in shown.body
    assert (
        b"<Filter><And><Prefix>logs/</Prefix><Tag><Key>keep</Key><Value>yes</Value></Tag>"
        b"</And></Filter>"
    ) in shown.body
    deleted = await c.request("DELETE", "/source?replication", region=PARIS)
    assert deleted.status == 204
    assert (await get(c)).status == 404


async def test_v1_rules_and_a_rule_without_id_get_one(world: World) -> None:
    c = world.client
    body = (
        b"<ReplicationConfiguration><Rule><Prefix>a/</Prefix><Status>Enabled</Status>"
        b"<Destination><Bucket>arn:aws:s3:::backup</Bucket></Destination></Rule>"
        b"</ReplicationConfiguration>"
    )
    assert (await put(c, body)).status == 200
    shown = (await get(c)).body
    assert b"<Prefix>a/</Prefix><Status>Enabled</Status>" in shown
    rule_id = shown.split(b"<ID>")[1].split(b"</ID>")[0]
    assert len(rule_id) > 10
    assert b"<Role>" not in shown


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"<ReplicationConfiguration/>", 400, "MalformedXML", b""),
        (b"<Replication/>", 400, "MalformedXML", b""),
        (document(v2_rule(markers=None)), 400, "InvalidRequest", b"DeleteMarkerReplication"),
        (
            document(v2_rule(filter_xml="<Filter><Tag><Key>k</Key><Value>v</Value></Tag>"
                                        "</Filter>")),
            400, "InvalidRequest", b"Tag filter",
        ),
        (document(v2_rule(), v2_rule(rule_id="two")), 400, "InvalidRequest", b"priority"),
        (document(v2_rule(), v2_rule(priority=2)), 400, "InvalidRequest", b"unique"),
        (document(*(v2_rule(rule_id=f"r{n}", priority=n) for n in range(4))),
         400, "InvalidRequest", b"at most 3 rules"),
        (document(v2_rule(rule_id="x" * 256)), 400, "InvalidArgument", b"255"),
        (document(v2_rule().replace("arn:aws:s3:::backup", "backup")),
         400, "InvalidArgument", b"ARN"),
        (document(v2_rule().replace("<Status>Enabled</Status><Destination>",
                                    "<Status>On</Status><Destination>")),
         400, "MalformedXML", b""),
        (document(v2_rule(filter_xml="<Filter><Prefix>a</Prefix><Tag><Key>k</Key>"
                                     "<Value>v</Value></Tag></Filter>", markers="Disabled")),
         400, "MalformedXML", b""),
        (document(v2_rule(extra="<StorageClass>GLACIER</StorageClass>")),
         501, "NotImplemented", b"GLACIER"),
        (document(v2_rule(extra="<StorageClass>COLD</StorageClass>")), 400, "MalformedXML", b""),
        (document(v2_rule(extra="<ReplicationTime><Status>Enabled</Status></ReplicationTime>")),
         501, "NotImplemented", b"ReplicationTime"),
        # Existing objects are copied (increment 7), by V2 rules only, as on S3.
        (document("<Rule><ID>r</ID><Prefix>docs/</Prefix><Status>Enabled</Status>"
                  "<ExistingObjectReplication><Status>Enabled</Status>"
                  "</ExistingObjectReplication><Destination>"
                  "<Bucket>arn:aws:s3:::backup</Bucket></Destination></Rule>"),
         400, "InvalidRequest", b"ExistingObjectReplication cannot be used"),
        (document(with_criteria(v2_rule(), "")), 400, "InvalidRequest", b"cannot be empty"),
        (document(with_criteria(v2_rule(), SSE_KMS_SELECTED)),
         400, "InvalidRequest", b"ReplicaKmsKeyID must be specified"),
        (document(v2_rule(extra=REPLICA_KEY_XML.format(
            "arn:aws:kms:eu-paris-1:111122223333:key/k"))),
         400, "InvalidRequest", b"SseKmsEncryptedObjects must be specified"),
        (document(kms_rule("alias/mine")), 400, "InvalidArgument", b"Invalid ReplicaKmsKeyID ARN"),
        (document(kms_rule("arn:aws:kms:eu-paris-1:111122223333:secret/k")),
         400, "InvalidArgument", b"Invalid ReplicaKmsKeyID ARN"),
        (document(kms_rule("arn:aws:kms:eu-paris-1:111122223333:key/k", selected="On")),
         400, "MalformedXML", b""),
        (document(kms_rule("arn:aws:kms:eu-paris-1:111122223333:key/k")),
         400, "InvalidRequest", b"destination bucket's owner"),
        # Replica modification sync (decision 0127): V2 rules only, Enabled or Disabled.
        (document(with_criteria(v2_rule(), "<ReplicaModifications><Status>On</Status>"
                                           "</ReplicaModifications>")),
         400, "MalformedXML", b""),
        (document(with_criteria(
            "<Rule><ID>v1</ID><Prefix>a/</Prefix><Status>Enabled</Status><Destination>"
            "<Bucket>arn:aws:s3:::backup</Bucket></Destination></Rule>",
            "<ReplicaModifications><Status>Enabled</Status></ReplicaModifications>")),
         400, "InvalidRequest", b"ReplicaModifications cannot be used"),
        (document(with_criteria(
            "<Rule><ID>v1</ID><Prefix>a/</Prefix><Status>Enabled</Status><Destination>"
            "<Bucket>arn:aws:s3:::backup</Bucket></Destination></Rule>",
            "<ReplicaModifications><Status>Disabled</Status></ReplicaModifications>")),
         400, "InvalidRequest", b"ReplicaModifications cannot be used"),
        (document(v2_rule("source")), 400, "InvalidRequest", b"same as the source"),
        (document(v2_rule("no-such-bucket")), 400, "InvalidRequest", b"must exist"),
        (document(v2_rule("plain")), 400, "InvalidRequest", b"must have versioning enabled"),
    ],
)  # fmt: skip
async def test_bad_configurations_are_refused_and_change_nothing(
    world: World, body: bytes, status: int, code: str, words: bytes
) -> None:
    c = world.client
    assert (await c.request("PUT", "/plain", region=PARIS)).status == 200
    reply = await put(c, body)
    assert (reply.status, reply.error_code()) == (status, code), reply.body
    assert words in reply.body
    assert (await get(c)).status == 404


async def test_a_source_without_versioning_enabled_is_refused(world: World) -> None:
    c = world.client
    assert (await c.request("PUT", "/unversioned", region=PARIS)).status == 200
    reply = await put(c, document(v2_rule()), bucket="unversioned")
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    assert b"Versioning must be 'Enabled'" in reply.body
    assert (await get(c, "unversioned")).status == 404


async def test_another_tenants_bucket_is_no_destination(world: World) -> None:
    other = await world.client.other_tenant("elsewhere")
    assert (await other.request("PUT", "/their-copy", region=PARIS)).status == 200
    assert (await other.request("PUT", "/their-copy?versioning", ENABLED, region=PARIS)).status
    reply = await put(world.client, document(v2_rule("their-copy")))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    assert b"must be owned by the source bucket's owner, or allow" in reply.body
    assert (await get(world.client)).status == 404


async def test_the_tenants_region_allow_list_bounds_the_destinations(world: World) -> None:
    c = world.client
    await world.identity.set_tenant_regions(c.tenant_id, [PARIS])
    refused = await put(c, document(v2_rule()))
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert (await get(c)).status == 404
    await world.identity.set_tenant_regions(c.tenant_id, [PARIS, BERLIN])
    assert (await put(c, document(v2_rule()))).status == 200


async def test_the_audit_event_names_the_regions_data_moves_between(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    put_events = [e for e in await events(c) if e.action == "s3:PutReplicationConfiguration"]
    assert len(put_events) == 1
    assert put_events[0].details["source_region"] == PARIS
    assert put_events[0].details["destination_regions"] == BERLIN


async def test_a_source_keeps_versioning_enabled_while_configured(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    refused = await c.request("PUT", "/source?versioning", SUSPENDED, region=PARIS)
    assert (refused.status, refused.error_code()) == (409, "InvalidBucketState")
    assert b"replication configuration is present" in refused.body
    # The destination may be suspended: its replicas then fail, as on S3.
    assert (await c.request("PUT", "/backup?versioning", SUSPENDED, region=BERLIN)).status == 200
    assert (await c.request("DELETE", "/source?replication", region=PARIS)).status == 204
    assert (await c.request("PUT", "/source?versioning", SUSPENDED, region=PARIS)).status == 200


def test_the_rule_a_version_falls_under() -> None:
    config = parse_replication(
        document(
            v2_rule(rule_id="docs", priority=1),
            v2_rule(
                rule_id="tagged",
                priority=5,
                filter_xml="<Filter><And><Prefix>docs/</Prefix><Tag><Key>k</Key>"
                "<Value>v</Value></Tag></And></Filter>",
                markers="Disabled",
            ),
        ),
        10,
    )
    stored = ReplicationConfiguration.from_text(config.to_text())
    assert stored == config
    docs = stored.rule_for("docs/a", ())
    assert docs is not None and docs.rule_id == "docs"
    tagged = stored.rule_for("docs/a", (("k", "v"), ("other", "x")))
    assert tagged is not None and tagged.rule_id == "tagged"
    assert stored.rule_for("photos/a", ()) is None
    marker_rule = stored.rule_for_marker("docs/a")
    assert marker_rule is not None and marker_rule.rule_id == "docs"
    v1 = parse_replication(
        b"<ReplicationConfiguration><Rule><ID>v1</ID><Prefix></Prefix><Status>Enabled</Status>"
        b"<Destination><Bucket>arn:aws:s3:::b</Bucket></Destination></Rule>"
        b"</ReplicationConfiguration>",
        10,
    )
    assert v1.rule_for_marker("anything") is not None  # V1 replicates markers
    disabled = parse_replication(
        document(v2_rule().replace("<Status>Enabled</Status><Destination>",
                                   "<Status>Disabled</Status><Destination>")),
        10,
    )  # fmt: skip
    assert disabled.rule_for("docs/a", ()) is None


async def replicate(world: World) -> None:
    """Run the worker until no task is due (retries included)."""
    for _ in range(10):
        await world.replicator.run_once()
        if await world.queue.pending() == 0:
            return
    raise AssertionError("replication tasks left")


async def head(c: Client, bucket: str, key: str, version: str | None = None) -> Reply:
    query = "" if version is None else f"?versionId={version}"
    region = BERLIN if bucket in ("backup", "vault") else PARIS
    return await c.request("HEAD", f"/{bucket}/{key}{query}", region=region)


async def test_new_versions_are_copied_with_their_id_bytes_and_metadata(world: World) -> None:
    c = world.client
    assert (
        await put(c, document(v2_rule(filter_xml="<Filter><Prefix></Prefix></Filter>")))
    ).status == 200
    body = os.urandom(200_000)
    written = await c.request(
        "PUT",
        "/source/docs/a.bin",
        body,
        {"x-amz-meta-colour": "blue", "Content-Type": "image/png", "x-amz-tagging": "k=v"},
        region=PARIS,
    )
    assert written.status == 200
    version = written.headers["x-amz-version-id"]
    pending = await head(c, "source", "docs/a.bin")
    assert pending.headers["x-amz-replication-status"] == "PENDING"
    await replicate(world)
    assert (await head(c, "source", "docs/a.bin")).headers[
        "x-amz-replication-status"
    ] == "COMPLETED"
    replica = await c.request("GET", f"/backup/docs/a.bin?versionId={version}", region=BERLIN)
    assert replica.status == 200
    assert replica.body == body
    assert replica.headers["x-amz-version-id"] == version
    assert replica.headers["etag"] == written.headers["etag"]
    assert replica.headers["x-amz-meta-colour"] == "blue"
    assert replica.headers["content-type"] == "image/png"
    assert replica.headers["x-amz-replication-status"] == "REPLICA"
    assert world.berlin.blob_ids()  # the bytes went to the destination's region
    # Metering samples stored bytes by bucket region: the replica counts in Berlin.
    stored = await world.objects.stored_bytes_by_tenant_and_region()
    assert stored[(c.tenant_id, BERLIN)] == len(body)
    assert stored[(c.tenant_id, PARIS)] == len(body)
    tags = await c.request("GET", f"/backup/docs/a.bin?tagging&versionId={version}", region=BERLIN)
    assert b"<Key>k</Key><Value>v</Value>" in tags.body


async def test_a_completed_upload_is_copied_with_its_multipart_etag(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    started = await c.request("POST", "/source/docs/big?uploads", region=PARIS)
    upload = started.body.split(b"<UploadId>")[1].split(b"<")[0].decode()
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    etags = []
    for number, part in enumerate(parts, 1):
        reply = await c.request(
            "PUT", f"/source/docs/big?partNumber={number}&uploadId={upload}", part, region=PARIS
        )
        etags.append(reply.headers["etag"])
    completion = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        for n, etag in enumerate(etags, 1)
    )
    done = await c.request(
        "POST",
        f"/source/docs/big?uploadId={upload}",
        f"<CompleteMultipartUpload>{completion}</CompleteMultipartUpload>".encode(),
        region=PARIS,
    )
    assert done.status == 200
    version = done.headers["x-amz-version-id"]
    await replicate(world)
    replica = await c.request("GET", f"/backup/docs/big?versionId={version}", region=BERLIN)
    assert replica.body == b"".join(parts)
    assert replica.headers["etag"].endswith('-2"')
    assert replica.headers["etag"] == (await head(c, "source", "docs/big")).headers["etag"]


async def test_keys_outside_the_rules_and_sse_c_objects_are_not_replicated(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    assert (await c.request("PUT", "/source/photos/x", b"x", region=PARIS)).status == 200
    key = os.urandom(32)
    sse_c = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(
            hashlib.md5(key, usedforsecurity=False).digest()
        ).decode(),
    }
    assert (await c.request("PUT", "/source/docs/secret", b"s", sse_c, region=PARIS)).status == 200
    assert await world.queue.pending() == 0
    assert "x-amz-replication-status" not in (await head(c, "source", "photos/x")).headers


async def test_delete_markers_go_when_the_rule_says_so(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    written = await c.request("PUT", "/source/docs/a", b"1", region=PARIS)
    await replicate(world)
    deleted = await c.request("DELETE", "/source/docs/a", region=PARIS)
    assert deleted.headers["x-amz-delete-marker"] == "true"
    await replicate(world)
    gone = await c.request("GET", "/backup/docs/a", region=BERLIN)
    assert (gone.status, gone.headers.get("x-amz-delete-marker")) == (404, "true")
    # The replicated marker keeps its source's id, as on S3.
    assert gone.headers["x-amz-version-id"] == deleted.headers["x-amz-version-id"]
    # Deleting a version for good is not replicated (S3 neither).
    version = written.headers["x-amz-version-id"]
    removed = await c.request("DELETE", f"/source/docs/a?versionId={version}", region=PARIS)
    assert removed.status == 204
    assert await world.queue.pending() == 0
    kept = await c.request("GET", f"/backup/docs/a?versionId={version}", region=BERLIN)
    assert (kept.status, kept.body) == (200, b"1")
    # DeleteMarkerReplication Disabled: the marker stays on the source.
    assert (await put(c, document(v2_rule(markers="Disabled")))).status == 200
    await c.request("PUT", "/source/docs/b", b"2", region=PARIS)
    await replicate(world)
    await c.request("DELETE", "/source/docs/b", region=PARIS)
    assert await world.queue.pending() == 0
    assert (await c.request("GET", "/backup/docs/b", region=BERLIN)).status == 200


async def test_a_replica_is_never_replicated_again(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    back = document(v2_rule("source"))
    reply = await c.request("PUT", "/backup?replication", back, md5(back), region=BERLIN)
    assert reply.status == 200
    assert (await c.request("PUT", "/source/docs/a", b"1", region=PARIS)).status == 200
    await replicate(world)
    await world.replicator.run_once()
    assert await world.queue.pending() == 0
    listed = await c.request("GET", "/source?versions", region=PARIS)
    assert listed.body.count(b"<Version>") == 1


async def test_a_copy_is_retried_then_failed(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    world.berlin.down = True
    assert (await c.request("PUT", "/source/docs/a", b"1", region=PARIS)).status == 200
    await world.replicator.run_once()
    assert await world.queue.pending() == 1  # a retry is due after its backoff
    assert (await head(c, "source", "docs/a")).headers["x-amz-replication-status"] == "PENDING"
    await replicate(world)  # max_attempts=2: the second failure is the last
    assert (await head(c, "source", "docs/a")).headers["x-amz-replication-status"] == "FAILED"
    world.berlin.down = False
    assert (await c.request("GET", "/backup/docs/a", region=BERLIN)).status == 404


async def test_a_destination_whose_versioning_is_suspended_fails_the_copy(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    assert (await c.request("PUT", "/backup?versioning", SUSPENDED, region=BERLIN)).status == 200
    assert (await c.request("PUT", "/source/docs/a", b"1", region=PARIS)).status == 200
    await world.replicator.run_once()
    assert await world.queue.pending() == 0
    assert (await head(c, "source", "docs/a")).headers["x-amz-replication-status"] == "FAILED"
    assert (await c.request("GET", "/backup/docs/a", region=BERLIN)).status == 404


async def test_a_version_committed_is_queued_even_if_the_gateway_fails_right_after(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Increment 2 of decision 0112: the task is written in the version's own commit. A
    failure right after that commit (here: queueing the replaced blobs' deletion) leaves the
    version PENDING with its task, which the worker then copies; before, the task was queued
    after the commit, and such a failure left the version unreplicated, with no status."""
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200

    async def gateway_dies(*_: object) -> None:
        raise RuntimeError("the gateway died after the commit")

    monkeypatch.setattr(world.objects, "_queue_deletion", gateway_dies)
    failed = await c.request("PUT", "/source/docs/a", b"1", region=PARIS)
    assert failed.status == 500
    monkeypatch.undo()
    assert await world.queue.pending() == 1
    pending = await head(c, "source", "docs/a")
    assert pending.headers["x-amz-replication-status"] == "PENDING"
    await replicate(world)
    assert (await head(c, "source", "docs/a")).headers["x-amz-replication-status"] == "COMPLETED"
    copied = await c.request("GET", "/backup/docs/a", region=BERLIN)
    assert (copied.status, copied.body) == (200, b"1")


# --- versions under a KMS key (decision 0112, increment 3) --------------------------------

SSE = "x-amz-server-side-encryption"
SSE_KEY = "x-amz-server-side-encryption-aws-kms-key-id"


def under(key_arn: str, algorithm: str = "aws:kms") -> dict[str, str]:
    return {SSE: algorithm, SSE_KEY: key_arn}


async def test_a_kms_rule_is_put_checked_and_shown_back(world: World) -> None:
    c = world.client
    # The replicas are sealed in the destination's region, by a key of that region (0142).
    berlin = world.keys.in_region(BERLIN)
    replica_key = await berlin.create_key(world.caller)
    await berlin.create_alias(world.caller, "alias/replicas", replica_key.key_id)
    alias = replica_key.arn.replace(f"key/{replica_key.key_id}", "alias/replicas")
    body = document(
        kms_rule(alias).replace(
            SSE_KMS_SELECTED,
            SSE_KMS_SELECTED
            + "<ReplicaModifications><Status>Disabled</Status></ReplicaModifications>",
        )
    )
    assert (await put(c, body)).status == 200
    shown = (await get(c)).body
    assert (
        b"<Destination><Bucket>arn:aws:s3:::backup</Bucket><EncryptionConfiguration>"
        b"<ReplicaKmsKeyID>" + alias.encode() + b"</ReplicaKmsKeyID></EncryptionConfiguration>"
        b"</Destination><SourceSelectionCriteria><SseKmsEncryptedObjects><Status>Enabled"
        b"</Status></SseKmsEncryptedObjects><ReplicaModifications><Status>Disabled</Status>"
        b"</ReplicaModifications></SourceSelectionCriteria>"
    ) in shown
    # A key of the owner's account that does not exist, or one the caller may not describe,
    # is refused now, with KMS's error as S3 passes it on.
    missing = replica_key.arn.replace(replica_key.key_id, "0" * 32)
    refused = await put(c, document(kms_rule(missing)))
    assert (refused.status, refused.error_code()) == (400, "KMS.NotFoundException")
    assert (await get(c)).body == shown


async def test_versions_under_a_kms_key_go_only_where_a_rule_selects_them(world: World) -> None:
    """As on S3: a rule without ``SseKmsEncryptedObjects`` Enabled leaves them (no status, no
    task); a rule with it seals their replicas under its ``ReplicaKmsKeyID``, never under the
    platform's keys, while an SSE-S3 version's replica stays SSE-S3 whatever the
    destination's default encryption. Each use of the replica key is audited."""
    c = world.client
    source_key = await world.keys.create_key(world.caller)
    replica_key = await world.keys.in_region(BERLIN).create_key(world.caller)
    assert (await put(c, document(v2_rule(filter_xml="<Filter><Prefix></Prefix></Filter>")))).status
    kms_body = os.urandom(70_000)
    left = await c.request("PUT", "/source/left", kms_body, under(source_key.arn), region=PARIS)
    assert left.status == 200
    assert await world.queue.pending() == 0
    assert "x-amz-replication-status" not in (await head(c, "source", "left")).headers

    assert (await put(c, document(kms_rule(replica_key.arn)))).status == 200
    # The destination's default key, of its region, which replicas do not take.
    backup_default = await world.keys.in_region(BERLIN).create_key(world.caller)
    default_kms = (
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        "<SSEAlgorithm>aws:kms</SSEAlgorithm>"
        f"<KMSMasterKeyID>{backup_default.arn}</KMSMasterKeyID>"
        "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"
    ).encode()
    reply = await c.request(
        "PUT", "/backup?encryption", default_kms, md5(default_kms), region=BERLIN
    )
    assert reply.status == 200
    written = {
        "kms": (under(source_key.arn), "aws:kms"),
        "dsse": (under(source_key.arn, "aws:kms:dsse"), "aws:kms:dsse"),
        "plain": ({SSE: "AES256"}, "AES256"),
    }
    versions = {}
    for key, (headers, _) in written.items():
        reply = await c.request("PUT", f"/source/{key}", kms_body, headers, region=PARIS)
        assert reply.status == 200, reply.body
        versions[key] = reply.headers["x-amz-version-id"]
    assert await world.queue.pending() == 3
    await replicate(world)
    for key, (_, algorithm) in written.items():
        assert (await head(c, "source", key)).headers["x-amz-replication-status"] == "COMPLETED"
        replica = await c.request("GET", f"/backup/{key}?versionId={versions[key]}", region=BERLIN)
        assert (replica.status, replica.body) == (200, kms_body), key
        assert replica.headers[SSE] == algorithm, key
        if algorithm == "AES256":
            assert SSE_KEY not in replica.headers
        else:
            assert replica.headers[SSE_KEY] == replica_key.arn, key
    assert (await head(c, "source", "kms")).headers[SSE_KEY] == source_key.arn
    uses = [
        e
        for e in await events(c)
        if e.principal == "s3.amazonaws.com" and e.action == "kms:GenerateDataKey"
    ]
    assert sorted(e.details["aws:s3:arn"] for e in uses) == [
        "arn:aws:s3:::backup/dsse",
        "arn:aws:s3:::backup/kms",
    ]
    assert {e.resource for e in uses} == {replica_key.arn}
    # Each source read is a Decrypt under the source's key, audited as S3's (decision 0150's
    # addendum): one per copy.
    reads = [
        e
        for e in await events(c)
        if e.principal == "s3.amazonaws.com" and e.action == "kms:Decrypt"
    ]
    assert sorted(e.details["aws:s3:arn"] for e in reads) == [
        "arn:aws:s3:::source/dsse",
        "arn:aws:s3:::source/kms",
    ]
    assert {(e.resource, e.details["replication"], e.tenant_id) for e in reads} == {
        (source_key.arn, "source", world.caller.account_id)
    }
    # Each sealing and each source read is a KMS request of the replicating bucket's owner,
    # in the key's region: the replica key's, the source key's (decision 0150).
    assert await kms_requests(world) == {(BERLIN, 2), (PARIS, 2)}
    # The replica is under the customer's key: disabled, its bytes are unreadable.
    await world.keys.in_region(BERLIN).disable_key(world.caller, replica_key.key_id)
    shut = await c.request("GET", f"/backup/kms?versionId={versions['kms']}", region=BERLIN)
    assert (shut.status, shut.error_code()) == (400, "KMS.DisabledException")


async def kms_requests(world: World) -> set[tuple[str, int]]:
    """The bootstrap tenant's ``kms.requests`` this month, as (region, count)."""
    await world.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await world.billing.usage_report(world.caller.account_id, month)
    return {(x.region, x.quantity) for x in report.lines if x.meter == "kms.requests"}


async def test_the_source_read_is_a_decrypt_counted_once_per_copy(world: World) -> None:
    """The replicator's read of a source version under a KMS key decrypts it under that key:
    one ``kms:Decrypt`` of S3 for the source bucket's owner per copy made, billed as the
    sealing is (decision 0150's addendum). A change brought to an existing replica (its tags)
    copies no byte: no Decrypt. A copy the replica key refuses reads nothing: no Decrypt. A
    disabled source key fails the copy, audited, not billed."""
    c = world.client
    source_key = await world.keys.create_key(world.caller)
    replica_key = await world.keys.in_region(BERLIN).create_key(world.caller)
    assert (await put(c, document(kms_rule(replica_key.arn)))).status == 200
    for n in range(3):
        reply = await c.request(
            "PUT", f"/source/k{n}", b"s%d" % n, under(source_key.arn), region=PARIS
        )
        assert reply.status == 200, reply.body
    await replicate(world)
    for n in range(3):
        assert (await c.request("GET", f"/backup/k{n}", region=BERLIN)).body == b"s%d" % n
    assert await kms_requests(world) == {(PARIS, 3), (BERLIN, 3)}
    tagging = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    tagged = await c.request("PUT", "/source/k0?tagging", tagging, md5(tagging), region=PARIS)
    assert tagged.status == 200, tagged.body
    await replicate(world)
    assert await kms_requests(world) == {(PARIS, 3), (BERLIN, 3)}

    # The replica key disabled: refused before the source is read.
    await world.keys.in_region(BERLIN).disable_key(world.caller, replica_key.key_id)
    assert (
        await c.request("PUT", "/source/r", b"r", under(source_key.arn), region=PARIS)
    ).status == 200
    await replicate(world)
    assert (await head(c, "source", "r")).headers["x-amz-replication-status"] == "FAILED"
    assert await kms_requests(world) == {(PARIS, 3), (BERLIN, 3)}
    await world.keys.in_region(BERLIN).enable_key(world.caller, replica_key.key_id)

    # The source key disabled: the copy fails (as the role's Decrypt would on AWS), each
    # attempt an audited failed use, none billed; the replica's sealing before it was.
    assert (
        await c.request("PUT", "/source/d", b"d", under(source_key.arn), region=PARIS)
    ).status == 200
    await world.keys.disable_key(world.caller, source_key.key_id)
    await replicate(world)
    assert (await head(c, "source", "d")).headers["x-amz-replication-status"] == "FAILED"
    assert (await c.request("GET", "/backup/d", region=BERLIN)).status == 404
    failed = [
        e
        for e in await events(c)
        if e.action == "kms:Decrypt" and e.details.get("error") == "CmkDisabled"
    ]
    assert [e.details["aws:s3:arn"] for e in failed] == ["arn:aws:s3:::source/d"] * 2
    assert await kms_requests(world) == {(PARIS, 3), (BERLIN, 5)}


async def test_a_replica_key_that_cannot_be_used_fails_the_copy(world: World) -> None:
    """Disabled, the replica key fails the copy after its retries (audited as a failed use);
    a configuration no longer naming one fails it at once. Nothing is written under other
    keys."""
    c = world.client
    source_key = await world.keys.create_key(world.caller)
    replica_key = await world.keys.in_region(BERLIN).create_key(world.caller)
    assert (await put(c, document(kms_rule(replica_key.arn)))).status == 200
    await world.keys.in_region(BERLIN).disable_key(world.caller, replica_key.key_id)
    reply = await c.request("PUT", "/source/a", b"secret", under(source_key.arn), region=PARIS)
    assert reply.status == 200
    await replicate(world)
    assert (await head(c, "source", "a")).headers["x-amz-replication-status"] == "FAILED"
    assert (await c.request("GET", "/backup/a", region=BERLIN)).status == 404
    failures = [
        e
        for e in await events(c)
        if e.principal == "s3.amazonaws.com" and e.details.get("error") == "CmkDisabled"
    ]
    assert len(failures) == 2  # max_attempts=2
    assert not world.berlin.blob_ids()

    await world.keys.in_region(BERLIN).enable_key(world.caller, replica_key.key_id)
    reply = await c.request("PUT", "/source/b", b"secret", under(source_key.arn), region=PARIS)
    assert await world.queue.pending() == 1
    assert (await c.request("DELETE", "/source?replication", region=PARIS)).status == 204
    await world.replicator.run_once()
    assert await world.queue.pending() == 0
    assert (await head(c, "source", "b")).headers["x-amz-replication-status"] == "FAILED"
    assert (await c.request("GET", "/backup/b", region=BERLIN)).status == 404


def test_a_rule_selects_versions_under_a_kms_key_only_when_it_says_so() -> None:
    key = "arn:aws:kms:eu-paris-1:111122223333:key/k"
    config = parse_replication(
        document(
            v2_rule(rule_id="plain", priority=9, filter_xml="<Filter><Prefix></Prefix></Filter>"),
            kms_rule(key).replace(
                "<ID>all</ID><Priority>1</Priority>", "<ID>kms</ID><Priority>1</Priority>"
            ),
            kms_rule(key, selected="Disabled").replace(
                "<ID>all</ID><Priority>1</Priority>", "<ID>off</ID><Priority>2</Priority>"
            ),
        ),
        10,
    )
    plain = config.rule_for("docs/a", ())
    assert plain is not None and plain.rule_id == "plain"
    kms = config.rule_for("docs/a", (), kms_encrypted=True)
    assert kms is not None and kms.rule_id == "kms"
    assert kms.replica_kms_key_id == key
    again = ReplicationConfiguration.from_text(config.to_text())
    assert again == config
    assert again.rule("off") is not None and again.rule("off").sse_kms_objects is False  # type: ignore[union-attr]


# --- another tenant's bucket (decision 0112, increment 4) ---------------------------------

TRUSTS_S3 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def replicate_into(bucket: str, principal: str, actions: list[str]) -> str:
    """A policy letting ``principal`` do ``actions`` on ``bucket``'s objects."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": actions,
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


REPLICATE = ["s3:ReplicateObject", "s3:ReplicateDelete"]


async def backup_tenant(world: World) -> Client:
    """Another tenant with a versioned bucket ``their-copy`` in Berlin."""
    other = await world.client.other_tenant("backup-co")
    assert (await other.request("PUT", "/their-copy", location(BERLIN), region=PARIS)).status
    assert (await other.request("PUT", "/their-copy?versioning", ENABLED, region=BERLIN)).status
    return other


async def replication_role(world: World, *, trust: str = TRUSTS_S3, allowed: bool = True) -> str:
    """A role of the source tenant for S3 to replicate as; its ARN."""
    role = await world.identity.create_role(world.client.tenant_id, "replication", trust)
    if allowed:
        await world.identity.put_role_policy(
            world.client.tenant_id,
            "replication",
            "replicate",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": REPLICATE, "Resource": "*"}],
                }
            ),
        )
    return role.arn


def with_role(role_arn: str, *rules: str) -> bytes:
    return document(*rules, role=f"<Role>{role_arn}</Role>")


async def test_another_tenant_consents_through_its_bucket_policy(world: World) -> None:
    """The destination's owner grants the source's role; the copies are theirs, under their
    keys, recorded in their trail; the source tenant reads nothing of them; revoked, the grant
    fails the next copy."""
    c = world.client
    other = await backup_tenant(world)
    role = await replication_role(world)
    rule = v2_rule("their-copy", filter_xml="<Filter><Prefix></Prefix></Filter>")
    refused = await put(c, with_role(role, rule))
    assert (refused.status, refused.error_code()) == (400, "InvalidRequest")
    policy = replicate_into("their-copy", role, REPLICATE).encode()
    granted = await other.request("PUT", "/their-copy?policy", policy, region=BERLIN)
    assert granted.status == 204
    assert (await put(c, with_role(role, rule))).status == 200

    written = await c.request("PUT", "/source/ledger", b"entries", region=PARIS)
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    assert (await head(c, "source", "ledger")).headers["x-amz-replication-status"] == "COMPLETED"
    replica = await other.request("GET", f"/their-copy/ledger?versionId={version}", region=BERLIN)
    assert (replica.status, replica.body) == (200, b"entries")
    assert replica.headers["x-amz-replication-status"] == "REPLICA"
    assert replica.headers["x-amz-server-side-encryption"] == "AES256"
    theirs = await c.request("GET", "/their-copy/ledger", region=BERLIN)
    assert (theirs.status, theirs.error_code()) == (403, "AccessDenied")
    listed = await other.request("GET", "/their-copy?versions", region=BERLIN)
    assert listed.body.count(b"<Version>") == 1
    # Closing the source tenant would not shred the copy: it is under the destination's keys.
    stored = await world.objects.stored_bytes_by_tenant_and_region()
    assert stored[(other.tenant_id, BERLIN)] == len(b"entries")
    arrivals = [e for e in await events(other) if e.action == "s3:ReplicateObject"]
    assert [(e.principal, e.resource, e.details["source_account"]) for e in arrivals] == [
        (
            f"arn:aws:sts::{c.tenant_id}:assumed-role/replication/s3-replication",
            "arn:aws:s3:::their-copy/ledger",
            c.tenant_id,
        )
    ]
    # A delete marker needs s3:ReplicateDelete, granted too.
    assert (await c.request("DELETE", "/source/ledger", region=PARIS)).status == 204
    await replicate(world)
    gone = await other.request("GET", "/their-copy/ledger", region=BERLIN)
    assert (gone.status, gone.headers.get("x-amz-delete-marker")) == (404, "true")

    # The owner takes the grant back: the next copy fails, and nothing is written.
    assert (await other.request("DELETE", "/their-copy?policy", region=BERLIN)).status == 204
    assert (await c.request("PUT", "/source/later", b"x", region=PARIS)).status == 200
    await replicate(world)
    assert (await head(c, "source", "later")).headers["x-amz-replication-status"] == "FAILED"
    assert (await other.request("GET", "/their-copy/later", region=BERLIN)).status == 404
    refusals = [e for e in await events(other) if e.outcome.value == "failure"]
    assert [e.resource for e in refusals] == ["arn:aws:s3:::their-copy/later"]


@pytest.mark.parametrize(
    "case",
    ["everyone agrees", "no role", "another tenant's role", "role not trusting S3",
     "role without permission", "policy for another prefix", "policy for another principal"],
)  # fmt: skip
async def test_every_owner_must_agree_before_a_copy_into_another_tenant(
    world: World, case: str
) -> None:
    c = world.client
    other = await backup_tenant(world)
    trust = TRUSTS_S3.replace("s3.amazonaws.com", "ec2.amazonaws.com")
    role = await replication_role(
        world,
        trust=trust if case == "role not trusting S3" else TRUSTS_S3,
        allowed=case != "role without permission",
    )
    named = role
    if case == "another tenant's role":
        theirs = await world.identity.create_role(other.tenant_id, "replication", TRUSTS_S3)
        named = theirs.arn
    granted_to = f"arn:aws:iam::{other.tenant_id}:root" if case.endswith("principal") else named
    resource_bucket = "their-copy/other-prefix" if case.endswith("prefix") else "their-copy"
    policy = replicate_into(resource_bucket, granted_to, REPLICATE).encode()
    assert (await other.request("PUT", "/their-copy?policy", policy, region=BERLIN)).status == 204
    rule = v2_rule("their-copy", filter_xml="<Filter><Prefix>docs/</Prefix></Filter>")
    body = document(rule, role="") if case == "no role" else with_role(named, rule)
    reply = await put(c, body)
    if case == "everyone agrees":  # the control: the same set-up with nothing missing
        assert reply.status == 200, reply.body
        return
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest"), reply.body
    assert (await get(c)).status == 404


async def test_a_replica_key_of_the_destination_owner_is_checked_through_its_policy(
    world: World,
) -> None:
    """Another tenant's replica key must be theirs, and its key policy must let the caller
    describe it; then SSE-KMS versions are copied under it."""
    c = world.client
    other = await backup_tenant(world)
    role = await replication_role(world)
    policy = replicate_into("their-copy", role, REPLICATE).encode()
    assert (await other.request("PUT", "/their-copy?policy", policy, region=BERLIN)).status == 204
    owner_root = Principal(
        other.tenant_id, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{other.tenant_id}:root"
    )
    owner = Caller(other.tenant_id, owner_root.arn, owner_root)
    private = await world.keys.in_region(BERLIN).create_key(owner)
    own_key = await world.keys.create_key(world.caller)
    # The source's own key is no key of the destination's owner; the owner's private key is
    # one the caller may not see (KMS answers as for a key that is not there).
    for key_arn, code in ((own_key.arn, "InvalidRequest"), (private.arn, "KMS.NotFoundException")):
        refused = await put(c, with_role(role, kms_rule(key_arn, "their-copy")))
        assert (refused.status, refused.error_code()) == (400, code)
    shared_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": owner_root.arn}, "Action": "kms:*",
                 "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{c.tenant_id}:root"},
                 "Action": ["kms:DescribeKey", "kms:GenerateDataKey"], "Resource": "*"},
            ],
        }
    )  # fmt: skip
    shared = await world.keys.in_region(BERLIN).create_key(owner, policy=shared_policy)
    assert (await put(c, with_role(role, kms_rule(shared.arn, "their-copy")))).status == 200
    written = await c.request("PUT", "/source/k", b"kms", under(own_key.arn), region=PARIS)
    assert written.status == 200
    await replicate(world)
    replica = await other.request("GET", "/their-copy/k", region=BERLIN)
    assert (replica.status, replica.body) == (200, b"kms")
    assert replica.headers[SSE_KEY] == shared.arn


async def test_two_buckets_replicating_to_each_other_converge(world: World) -> None:
    """A replica older than the destination's newest version goes among its noncurrent
    versions, at its place, as on S3: with writes to one key on both sides before either copy
    is made, both buckets end with the same versions in the same order, the newest current."""
    c = world.client
    everything = "<Filter><Prefix></Prefix></Filter>"
    assert (await put(c, document(v2_rule(filter_xml=everything)))).status == 200
    back = document(v2_rule("source", filter_xml=everything))
    reply = await c.request("PUT", "/backup?replication", back, md5(back), region=BERLIN)
    assert reply.status == 200
    first = await c.request("PUT", "/source/shared", b"from paris", region=PARIS)
    second = await c.request("PUT", "/backup/shared", b"from berlin", region=BERLIN)
    await replicate(world)
    ids = [first.headers["x-amz-version-id"], second.headers["x-amz-version-id"]]
    for bucket, region in (("source", PARIS), ("backup", BERLIN)):
        listed = await c.request("GET", f"/{bucket}?versions", region=region)
        shown = re.findall(
            rb"<VersionId>([^<]+)</VersionId><IsLatest>(\w+)</IsLatest>", listed.body
        )
        assert shown == [(ids[1].encode(), b"true"), (ids[0].encode(), b"false")], bucket
        current = await c.request("GET", f"/{bucket}/shared", region=region)
        assert current.body == b"from berlin", bucket
        older = await c.request("GET", f"/{bucket}/shared?versionId={ids[0]}", region=region)
        assert older.body == b"from paris", bucket
    for bucket, key_id in (("source", ids[0]), ("backup", ids[1])):
        status = await head(c, bucket, "shared", key_id)
        assert status.headers["x-amz-replication-status"] == "COMPLETED", bucket


async def test_an_iam_user_needs_iam_pass_role_on_the_configurations_role(
    world: World,
) -> None:
    """As AWS asks of whoever puts a replication configuration: s3:PutReplicationConfiguration
    alone does not let a user make S3 act as a role; ``iam:PassRole`` on it, to S3, does."""
    c = world.client
    role = await replication_role(world)
    user = await c.iam_user("ops")
    s3_all = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}

    async def allow(*statements: dict[str, object]) -> None:
        document_text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        await world.identity.put_user_policy(c.tenant_id, "ops", "ops", document_text)

    body = with_role(role, v2_rule())
    await allow(s3_all)
    refused = await put(user, body)
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert f"iam:PassRole on resource: {role}".encode() in refused.body
    to_ec2_only = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role,
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    await allow(s3_all, to_ec2_only)
    assert (await put(user, body)).status == 403
    assert (await get(c)).error_code() == "ReplicationConfigurationNotFoundError"
    to_s3 = {
        **to_ec2_only,
        "Condition": {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}},
    }
    await allow(s3_all, to_s3)
    assert (await put(user, body)).status == 200
    assert (await put(c, body)).status == 200  # the root passes its own roles


# -- increment 6: metadata changes reach the replica -----------------------------------------


async def _tags_of(c: Client, bucket: str, key: str, version: str) -> bytes:
    region = BERLIN if bucket in ("backup", "vault") else PARIS
    reply = await c.request("GET", f"/{bucket}/{key}?tagging&versionId={version}", region=region)
    assert reply.status == 200
    return reply.body


async def _status(c: Client, bucket: str, key: str, version: str) -> str:
    return (await head(c, bucket, key, version)).headers["x-amz-replication-status"]


async def test_tag_changes_reach_the_replica_without_copying_the_bytes(world: World) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    written = await c.request(
        "PUT", "/source/docs/a", b"payload", {"x-amz-tagging": "k=v"}, region=PARIS
    )
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    blobs = set(world.berlin.blob_ids())
    tagging = b"<Tagging><TagSet><Tag><Key>team</Key><Value>ops</Value></Tag></TagSet></Tagging>"
    reply = await c.request(
        "PUT", f"/source/docs/a?tagging&versionId={version}", tagging, md5(tagging), region=PARIS
    )
    assert reply.status == 200
    # Queued with the change: PENDING until the replica has it.
    assert await _status(c, "source", "docs/a", version) == "PENDING"
    await replicate(world)
    assert await _status(c, "source", "docs/a", version) == "COMPLETED"
    replica_tags = await _tags_of(c, "backup", "docs/a", version)
    assert (
        b"<Key>team</Key><Value>ops</Value>" in replica_tags and b"<Key>k</Key>" not in replica_tags
    )
    # No byte copied again, no version added.
    assert set(world.berlin.blob_ids()) == blobs
    listed = await c.request("GET", "/backup?versions", region=BERLIN)
    assert listed.body.count(b"<Version>") == 1
    # Tags removed from the current version (no versionId): removed from the replica too.
    assert (await c.request("DELETE", "/source/docs/a?tagging", region=PARIS)).status == 204
    await replicate(world)
    assert b"<Tag>" not in await _tags_of(c, "backup", "docs/a", version)


async def test_changes_of_unreplicated_versions_and_of_replicas_queue_nothing(
    world: World,
) -> None:
    c = world.client
    assert (await put(c, document(v2_rule()))).status == 200
    tagging = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    # Outside the rule's prefix: never replicated, so its tags go nowhere either (as on S3).
    assert (await c.request("PUT", "/source/other/a", b"x", region=PARIS)).status == 200
    reply = await c.request("PUT", "/source/other/a?tagging", tagging, md5(tagging), region=PARIS)
    assert reply.status == 200
    assert await world.queue.pending() == 0
    # A replica's own tags change on the replica alone.
    written = await c.request("PUT", "/source/docs/a", b"x", region=PARIS)
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    path = f"/backup/docs/a?tagging&versionId={version}"
    reply = await c.request("PUT", path, tagging, md5(tagging), region=BERLIN)
    assert reply.status == 200
    assert await world.queue.pending() == 0
    assert b"<Tag>" not in await _tags_of(c, "source", "docs/a", version)


def _retention(mode: str, days: int) -> bytes:
    until = (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return (
        f"<Retention><Mode>{mode}</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>"
    ).encode()


async def _lock_fields(c: Client, bucket: str, key: str, version: str) -> tuple[str, str]:
    region = BERLIN if bucket == "vault" else PARIS
    retention = await c.request(
        "GET", f"/{bucket}/{key}?retention&versionId={version}", region=region
    )
    hold = await c.request("GET", f"/{bucket}/{key}?legal-hold&versionId={version}", region=region)
    mode = re.search(rb"<Mode>(\w+)</Mode>", retention.body)
    until = re.search(rb"<RetainUntilDate>([^<]+)</RetainUntilDate>", retention.body)
    status = re.search(rb"<Status>(\w+)</Status>", hold.body)
    assert mode and until
    return (
        f"{mode.group(1).decode()} {until.group(1).decode()[:10]}",
        status.group(1).decode() if status else "none",
    )


async def test_retention_and_legal_hold_changes_reach_the_replica(world: World) -> None:
    c = world.client
    locked = {"x-amz-bucket-object-lock-enabled": "true"}
    for name, region, body in (("ledger", PARIS, None), ("vault", BERLIN, location(BERLIN))):
        reply = await c.request("PUT", f"/{name}", body, locked, region=region)
        assert reply.status == 200
    config = document(v2_rule("vault", filter_xml="<Filter><Prefix></Prefix></Filter>"))
    reply = await c.request("PUT", "/ledger?replication", config, md5(config), region=PARIS)
    assert reply.status == 200
    retention = _retention("GOVERNANCE", 1)
    written = await c.request("PUT", "/ledger/k", b"entry", region=PARIS)
    version = written.headers["x-amz-version-id"]
    path = f"/ledger/k?retention&versionId={version}"
    assert (await c.request("PUT", path, retention, md5(retention), region=PARIS)).status == 200
    await replicate(world)
    first = await _lock_fields(c, "vault", "k", version)
    assert first == await _lock_fields(c, "ledger", "k", version)
    # Extended, then held: each change reaches the replica.
    longer = _retention("GOVERNANCE", 3)
    assert (await c.request("PUT", path, longer, md5(longer), region=PARIS)).status == 200
    hold = b"<LegalHold><Status>ON</Status></LegalHold>"
    hold_path = f"/ledger/k?legal-hold&versionId={version}"
    assert (await c.request("PUT", hold_path, hold, md5(hold), region=PARIS)).status == 200
    await replicate(world)
    synced = await _lock_fields(c, "vault", "k", version)
    assert synced == await _lock_fields(c, "ledger", "k", version)
    assert synced[1] == "ON" and synced != first
    # A COMPLIANCE retention the replica's owner set further out is never shortened by a
    # change of the source.
    further = _retention("COMPLIANCE", 30)
    vault_path = f"/vault/k?retention&versionId={version}"
    reply = await c.request("PUT", vault_path, further, md5(further), region=BERLIN)
    assert reply.status == 200
    nearer = _retention("COMPLIANCE", 10)
    assert (await c.request("PUT", path, nearer, md5(nearer), region=PARIS)).status == 200
    await replicate(world)
    kept = await _lock_fields(c, "vault", "k", version)
    assert (
        kept[0].startswith("COMPLIANCE")
        and kept[0] != (await _lock_fields(c, "ledger", "k", version))[0]
    )


# -- increment 7: existing objects -----------------------------------------------------------

EXISTING = "<ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>"


def with_existing(rule: str, status: str = "Enabled") -> str:
    element = f"<ExistingObjectReplication><Status>{status}</Status></ExistingObjectReplication>"
    return rule.replace("<Destination>", element + "<Destination>", 1)


async def test_existing_versions_are_copied_when_a_rule_says_so(world: World) -> None:
    c = world.client
    written: dict[str, list[str]] = {}
    for key in ("docs/a", "docs/b", "docs/c"):
        for body in (b"one", b"two"):
            reply = await c.request("PUT", f"/source/{key}", body, region=PARIS)
            written.setdefault(key, []).append(reply.headers["x-amz-version-id"])
    assert (await c.request("PUT", "/source/other/x", b"x", region=PARIS)).status == 200
    assert (await c.request("DELETE", "/source/docs/c", region=PARIS)).status == 204
    # A configuration without the element copies nothing that was there.
    assert (await put(c, document(v2_rule()))).status == 200
    assert await world.replicator.backfill_once() == 0
    assert await world.queue.pending() == 0
    # With it Enabled: shown back as put, and a pass over the versions starts.
    config = document(with_existing(v2_rule()))
    assert (await put(c, config)).status == 200
    assert EXISTING.encode() in (await get(c)).body
    # Two versions a step: the pass keeps its place between steps.
    stepping = Replicator(world.objects, world.queue, batch=2)
    assert await stepping.backfill_once() == 2
    [(_, standing)] = await world.objects.replication_backfills(None, 10)
    assert (standing.after_key, standing.queued) == ("docs/a", 2)
    for _ in range(8):
        await stepping.backfill_once()
    await replicate(world)
    for key, versions in written.items():
        for version in versions:
            assert await _status(c, "source", key, version) == "COMPLETED", (key, version)
            reply = await c.request("GET", f"/backup/{key}?versionId={version}", region=BERLIN)
            assert reply.status == 200 and reply.headers["x-amz-version-id"] == version
    listed = await c.request("GET", "/backup?versions", region=BERLIN)
    assert listed.body.count(b"<Version>") == 6  # not other/x; no marker of an existing one
    assert b"<DeleteMarker>" not in listed.body
    # Done: the pass is gone, and a new step queues nothing.
    assert await world.objects.replication_backfills(None, 10) == []
    assert await world.replicator.backfill_once() == 0


async def test_existing_object_replication_is_a_v2_element(world: World) -> None:
    c = world.client
    v1 = with_existing(
        "<Rule><ID>r</ID><Prefix>docs/</Prefix><Status>Enabled</Status>"
        "<Destination><Bucket>arn:aws:s3:::backup</Bucket></Destination></Rule>"
    )
    reply = await put(c, document(v1))
    assert reply.status == 400 and b"<Code>InvalidRequest</Code>" in reply.body
    bad = await put(c, document(with_existing(v2_rule(), "Maybe")))
    assert bad.status == 400 and b"<Code>MalformedXML</Code>" in bad.body
    # Disabled is accepted and shown back; it starts no pass.
    disabled = document(with_existing(v2_rule(), "Disabled"))
    assert (await put(c, disabled)).status == 200
    assert b"<Status>Disabled</Status></ExistingObjectReplication>" in (await get(c)).body
    assert await world.objects.replication_backfills(None, 10) == []
    # Removing the configuration ends a pass under way.
    assert (await c.request("PUT", "/source/docs/a", b"1", region=PARIS)).status == 200
    assert (await put(c, document(with_existing(v2_rule())))).status == 200
    assert len(await world.objects.replication_backfills(None, 10)) == 1
    assert (await c.request("DELETE", "/source?replication", region=PARIS)).status == 204
    assert await world.objects.replication_backfills(None, 10) == []


# -- decision 0127: replica modification sync --------------------------------------------------

EVERYTHING = "<Filter><Prefix></Prefix></Filter>"


def modifications(rule: str, status: str = "Enabled") -> str:
    """``rule`` with ``ReplicaModifications`` at ``status``."""
    return with_criteria(
        rule, f"<ReplicaModifications><Status>{status}</Status></ReplicaModifications>"
    )


async def two_way(
    c: Client,
    back: str = "Enabled",
    *,
    there: tuple[str, str] = ("source", PARIS),
    here: tuple[str, str] = ("backup", BERLIN),
    back_filter: str = EVERYTHING,
) -> None:
    """``there`` replicates to ``here`` and ``here`` back to ``there``, both rules over every
    key with ``ReplicaModifications`` Enabled on the first and ``back`` on the second."""
    for (name, region), (destination, _), status, filter_xml in (
        (there, here, "Enabled", EVERYTHING),
        (here, there, back, back_filter),
    ):
        config = document(modifications(v2_rule(destination, filter_xml=filter_xml), status))
        reply = await c.request("PUT", f"/{name}?replication", config, md5(config), region=region)
        assert reply.status == 200, reply.body


def _tag_set(key: str, value: str) -> bytes:
    return (
        f"<Tagging><TagSet><Tag><Key>{key}</Key><Value>{value}</Value></Tag></TagSet></Tagging>"
    ).encode()


async def _retag(c: Client, bucket: str, key: str, version: str, tagging: bytes) -> None:
    region = BERLIN if bucket in ("backup", "vault") else PARIS
    path = f"/{bucket}/{key}?tagging&versionId={version}"
    assert (await c.request("PUT", path, tagging, md5(tagging), region=region)).status == 200


async def test_replica_modifications_are_put_and_shown_back(world: World) -> None:
    c = world.client
    for status in ("Enabled", "Disabled"):
        body = document(modifications(v2_rule(), status))
        assert (await put(c, body)).status == 200
        shown = (await get(c)).body
        assert (
            b"<SourceSelectionCriteria><ReplicaModifications><Status>"
            + status.encode()
            + b"</Status></ReplicaModifications></SourceSelectionCriteria>"
        ) in shown
    config = ReplicationConfiguration.from_text(
        parse_replication(document(modifications(v2_rule(filter_xml=EVERYTHING))), 3).to_text()
    )
    target = config.modification_target_for("docs/a", (), PARIS)
    assert target is not None and target.replica_modification
    assert target.queued_status == "REPLICA-PENDING"
    assert config.target_for("docs/a", (), PARIS) == dataclasses.replace(
        target, replica_modification=False
    )


async def test_a_change_made_on_a_replica_goes_back_to_its_source_once(world: World) -> None:
    """Two-way replication with ``ReplicaModifications`` Enabled: a tag change on the replica
    reaches the version it came from, without a byte copied and without coming back; the
    replica shows PENDING while it travels, then REPLICA; the source stays COMPLETED. A tag
    change on the source reaches the replica and is not sent back either."""
    c = world.client
    await two_way(c)
    written = await c.request("PUT", "/source/docs/a", b"payload", region=PARIS)
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    assert await _status(c, "backup", "docs/a", version) == "REPLICA"
    blobs = (set(world.berlin.blob_ids()), await world.objects.stored_bytes_by_tenant_and_region())

    await _retag(c, "backup", "docs/a", version, _tag_set("from", "berlin"))
    assert await _status(c, "backup", "docs/a", version) == "PENDING"
    assert await world.queue.status("backup", "docs/a", version) == "REPLICA-PENDING"
    assert await _status(c, "source", "docs/a", version) == "COMPLETED"
    assert await world.queue.pending() == 1
    # One task, one round: what it applies on the source queues nothing to send back.
    assert await world.replicator.run_once() == 1
    assert await world.queue.pending() == 0
    assert b"<Key>from</Key><Value>berlin</Value>" in await _tags_of(c, "source", "docs/a", version)
    assert await _status(c, "backup", "docs/a", version) == "REPLICA"
    assert await _status(c, "source", "docs/a", version) == "COMPLETED"
    assert await world.replicator.run_once() == 0
    assert (
        set(world.berlin.blob_ids()),
        await world.objects.stored_bytes_by_tenant_and_region(),
    ) == blobs
    for bucket, region in (("source", PARIS), ("backup", BERLIN)):
        listed = await c.request("GET", f"/{bucket}?versions", region=region)
        assert listed.body.count(b"<Version>") == 1, bucket

    # The other way: a change on the source reaches the replica, and stops there.
    await _retag(c, "source", "docs/a", version, _tag_set("from", "paris"))
    assert await world.queue.pending() == 1
    assert await world.replicator.run_once() == 1
    assert await world.queue.pending() == 0
    assert b"<Value>paris</Value>" in await _tags_of(c, "backup", "docs/a", version)
    assert await world.replicator.run_once() == 0
    assert await _status(c, "backup", "docs/a", version) == "REPLICA"
    assert await _status(c, "source", "docs/a", version) == "COMPLETED"
    # Removing the replica's tags (DeleteObjectTagging of the current version) goes back too.
    assert (await c.request("DELETE", "/backup/docs/a?tagging", region=BERLIN)).status == 204
    await replicate(world)
    assert b"<Tag>" not in await _tags_of(c, "source", "docs/a", version)


@pytest.mark.parametrize("case", ["disabled", "not given", "filter not matching"])
async def test_a_replicas_change_stays_there_unless_its_rule_says_so(
    world: World, case: str
) -> None:
    c = world.client
    if case == "not given":
        assert (await put(c, document(v2_rule(filter_xml=EVERYTHING)))).status == 200
        back = document(v2_rule("source", filter_xml=EVERYTHING))
        reply = await c.request("PUT", "/backup?replication", back, md5(back), region=BERLIN)
        assert reply.status == 200
    else:
        other = "<Filter><Prefix>other/</Prefix></Filter>"
        await two_way(
            c,
            "Disabled" if case == "disabled" else "Enabled",
            back_filter=other if case == "filter not matching" else EVERYTHING,
        )
    written = await c.request("PUT", "/source/docs/a", b"payload", region=PARIS)
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    await _retag(c, "backup", "docs/a", version, _tag_set("from", "berlin"))
    assert await world.queue.pending() == 0
    assert await _status(c, "backup", "docs/a", version) == "REPLICA"
    assert b"<Tag>" not in await _tags_of(c, "source", "docs/a", version)
    assert b"<Value>berlin</Value>" in await _tags_of(c, "backup", "docs/a", version)


async def test_a_replicas_change_whose_source_is_gone_fails(world: World) -> None:
    """The version the replica came from deleted for good: the change is FAILED on the
    replica, and nothing is copied back (the replica's bucket is not its source)."""
    c = world.client
    await two_way(c)
    written = await c.request("PUT", "/source/docs/a", b"payload", region=PARIS)
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    gone = await c.request("DELETE", f"/source/docs/a?versionId={version}", region=PARIS)
    assert gone.status == 204
    await _retag(c, "backup", "docs/a", version, _tag_set("from", "berlin"))
    await replicate(world)
    assert await _status(c, "backup", "docs/a", version) == "FAILED"
    assert await world.queue.status("backup", "docs/a", version) == "REPLICA-FAILED"
    assert b"<Version>" not in (await c.request("GET", "/source?versions", region=PARIS)).body
    # Still a replica: never copied by its own bucket's rule, and a later change that finds
    # its source again would go back.
    assert await world.queue.pending() == 0


async def test_lock_changes_made_on_a_replica_go_back(world: World) -> None:
    c = world.client
    locked = {"x-amz-bucket-object-lock-enabled": "true"}
    for name, region, body in (("ledger", PARIS, None), ("vault", BERLIN, location(BERLIN))):
        reply = await c.request("PUT", f"/{name}", body, locked, region=region)
        assert reply.status == 200
    await two_way(c, there=("ledger", PARIS), here=("vault", BERLIN))
    written = await c.request("PUT", "/ledger/k", b"entry", region=PARIS)
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    # Retention and legal hold set on the replica reach the source.
    retention, hold = _retention("GOVERNANCE", 3), b"<LegalHold><Status>ON</Status></LegalHold>"
    for sub, body in (("retention", retention), ("legal-hold", hold)):
        path = f"/vault/k?{sub}&versionId={version}"
        assert (await c.request("PUT", path, body, md5(body), region=BERLIN)).status == 200
    assert await _status(c, "vault", "k", version) == "PENDING"
    await replicate(world)
    assert await _lock_fields(c, "ledger", "k", version) == await _lock_fields(
        c, "vault", "k", version
    )
    assert (await _lock_fields(c, "ledger", "k", version))[1] == "ON"
    assert await _status(c, "vault", "k", version) == "REPLICA"
    assert await world.queue.pending() == 0
    # A COMPLIANCE retention the source's owner set further out (while the source did not
    # replicate, so the replica kept its own) is never shortened by a change made on the
    # replica.
    assert (await c.request("DELETE", "/ledger?replication", region=PARIS)).status == 204
    further = _retention("COMPLIANCE", 30)
    ledger_path = f"/ledger/k?retention&versionId={version}"
    assert (await c.request("PUT", ledger_path, further, md5(further), region=PARIS)).status == 200
    assert await world.queue.pending() == 0
    nearer = _retention("COMPLIANCE", 10)
    vault_path = f"/vault/k?retention&versionId={version}"
    bypass = {**md5(nearer), "x-amz-bypass-governance-retention": "true"}
    assert (await c.request("PUT", vault_path, nearer, bypass, region=BERLIN)).status == 200
    await replicate(world)
    kept = await _lock_fields(c, "ledger", "k", version)
    assert kept[0] == f"COMPLIANCE {(datetime.now(UTC) + timedelta(days=30)):%Y-%m-%d}"
    assert (await _lock_fields(c, "vault", "k", version))[0].startswith("COMPLIANCE")
    assert await _status(c, "vault", "k", version) == "REPLICA"


OBJECT_WRITER = (
    b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
    b"</OwnershipControls>"
)


async def _acl_of(c: Client, bucket: str, key: str, version: str) -> bytes:
    region = BERLIN if bucket == "backup" else PARIS
    reply = await c.request("GET", f"/{bucket}/{key}?acl&versionId={version}", region=region)
    assert reply.status == 200
    return reply.body


async def _set_acl(c: Client, bucket: str, key: str, version: str | None, canned: str) -> None:
    region = BERLIN if bucket == "backup" else PARIS
    query = "?acl" if version is None else f"?acl&versionId={version}"
    reply = await c.request(
        "PUT", f"/{bucket}/{key}{query}", None, {"x-amz-acl": canned}, region=region
    )
    assert reply.status == 200, reply.body


async def test_acl_changes_go_both_ways_within_a_tenant(world: World) -> None:
    """S3 replicates object ACLs (with the copy and their changes, and back from a replica
    under ``ReplicaModifications``) where both buckets take ACLs; a bucket enforcing the
    owner's ownership, or blocking public ACLs, keeps its own."""
    c = world.client
    for bucket, region in (("source", PARIS), ("backup", BERLIN)):
        path = f"/{bucket}?ownershipControls"
        reply = await c.request("PUT", path, OBJECT_WRITER, md5(OBJECT_WRITER), region=region)
        assert reply.status == 200
        # New buckets block public ACLs, as on AWS: these take them.
        reply = await c.request("DELETE", f"/{bucket}?publicAccessBlock", region=region)
        assert reply.status == 204
    await two_way(c)
    written = await c.request(
        "PUT", "/source/docs/a", b"payload", {"x-amz-acl": "authenticated-read"}, region=PARIS
    )
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    assert b"AuthenticatedUsers" in await _acl_of(c, "backup", "docs/a", version)
    # A change of the source's ACL (the current version, no versionId) reaches the replica.
    await _set_acl(c, "source", "docs/a", None, "public-read")
    assert await _status(c, "source", "docs/a", version) == "PENDING"
    await replicate(world)
    assert b"AllUsers" in await _acl_of(c, "backup", "docs/a", version)
    # A change of the replica's goes back, and not again.
    await _set_acl(c, "backup", "docs/a", version, "private")
    assert await _status(c, "backup", "docs/a", version) == "PENDING"
    await replicate(world)
    assert b"<Grant>" in (shown := await _acl_of(c, "source", "docs/a", version))
    assert b"AllUsers" not in shown and b"AuthenticatedUsers" not in shown
    assert await world.queue.pending() == 0
    # The replica's bucket now blocks public ACLs: a public one stays out of it.
    block = (
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
        b"</PublicAccessBlockConfiguration>"
    )
    reply = await c.request("PUT", "/backup?publicAccessBlock", block, md5(block), region=BERLIN)
    assert reply.status == 200
    await _set_acl(c, "source", "docs/a", version, "public-read")
    await replicate(world)
    assert b"AllUsers" not in await _acl_of(c, "backup", "docs/a", version)
    assert await _status(c, "source", "docs/a", version) == "COMPLETED"


async def test_a_sync_back_into_another_tenant_is_authorised_as_the_forward_copy(
    world: World,
) -> None:
    """Another tenant holds the replicas and sends its changes back under its own rule: its
    role, which the source's bucket policy must grant, as for any copy into another tenant's
    bucket (decision 0112, increment 4); the arrival is in the source tenant's trail; the
    grant taken back, the next change fails and nothing lands. ACLs do not cross tenants."""
    c = world.client
    other = await backup_tenant(world)
    role = await replication_role(world)
    policy = replicate_into("their-copy", role, REPLICATE).encode()
    assert (await other.request("PUT", "/their-copy?policy", policy, region=BERLIN)).status == 204
    forth = modifications(v2_rule("their-copy", filter_xml=EVERYTHING))
    assert (await put(c, with_role(role, forth))).status == 200
    theirs = await world.identity.create_role(other.tenant_id, "replication", TRUSTS_S3)
    await world.identity.put_role_policy(
        other.tenant_id,
        "replication",
        "replicate",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": REPLICATE, "Resource": "*"}],
            }
        ),
    )
    back = with_role(theirs.arn, modifications(v2_rule("source", filter_xml=EVERYTHING)))
    path = "/their-copy?replication"
    refused = await other.request("PUT", path, back, md5(back), region=BERLIN)
    assert (refused.status, refused.error_code()) == (400, "InvalidRequest")
    grant = replicate_into("source", theirs.arn, REPLICATE).encode()
    assert (await c.request("PUT", "/source?policy", grant, region=PARIS)).status == 204
    assert (await other.request("PUT", path, back, md5(back), region=BERLIN)).status == 200

    written = await c.request("PUT", "/source/ledger", b"entries", region=PARIS)
    version = written.headers["x-amz-version-id"]
    await replicate(world)
    tagging = _tag_set("audited", "yes")
    tag_path = f"/their-copy/ledger?tagging&versionId={version}"
    reply = await other.request("PUT", tag_path, tagging, md5(tagging), region=BERLIN)
    assert reply.status == 200
    await replicate(world)
    assert b"<Value>yes</Value>" in await _tags_of(c, "source", "ledger", version)
    arrivals = [e for e in await events(c) if e.action == "s3:ReplicateObject"]
    assert [(e.principal, e.resource) for e in arrivals] == [
        (
            f"arn:aws:sts::{other.tenant_id}:assumed-role/replication/s3-replication",
            "arn:aws:s3:::source/ledger",
        )
    ]
    assert await world.queue.pending() == 0

    # The source's owner takes the grant back: the next change fails, nothing lands.
    assert (await c.request("DELETE", "/source?policy", region=PARIS)).status == 204
    again = _tag_set("audited", "twice")
    reply = await other.request("PUT", tag_path, again, md5(again), region=BERLIN)
    assert reply.status == 200
    await replicate(world)
    replica = await other.request("HEAD", f"/their-copy/ledger?versionId={version}", region=BERLIN)
    assert replica.headers["x-amz-replication-status"] == "FAILED"
    assert b"<Value>yes</Value>" in await _tags_of(c, "source", "ledger", version)


async def test_a_worker_polling_every_minute_copies_at_once_when_rung(world: World) -> None:
    """Decision 0206: rung (as the SQL store's commit of the version rings it, see
    tests/contract/test_queue_doorbells.py), a worker whose pause is a minute copies at once;
    unrung, the version waits for its next poll."""
    c = world.client
    assert (
        await put(c, document(v2_rule(filter_xml="<Filter><Prefix></Prefix></Filter>")))
    ).status == 200
    bell = Doorbell()
    worker = Replicator(world.objects, world.queue, interval=60, idle_poll_max=60, doorbell=bell)
    task = asyncio.create_task(worker.run_forever())
    try:
        await asyncio.sleep(0.2)  # its first pass found nothing: it now waits a minute
        assert (await c.request("PUT", "/source/a", b"x", region=PARIS)).status == 200
        await asyncio.sleep(0.3)
        assert (await head(c, "source", "a")).headers["x-amz-replication-status"] == "PENDING"
        bell.ring()
        started = time.monotonic()
        while (await head(c, "source", "a")).headers["x-amz-replication-status"] != "COMPLETED":
            assert time.monotonic() - started < 5, "the rung worker did not copy"
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
