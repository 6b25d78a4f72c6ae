"""Regions on the wire: CreateBucket's LocationConstraint, GetBucketLocation, the signing region
of a bucket's requests, redirects for regions served elsewhere, allow-lists and policies."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest
from botocore.credentials import Credentials

from andromede.app import s3_services, storage_limits
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.s3.app import S3App
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.keys import cipher_in
from support.s3app import Client

PARIS, BERLIN, MADRID = "eu-paris-1", "eu-berlin-1", "eu-madrid-1"


@dataclasses.dataclass
class World:
    client: Client
    identity: IdentityService
    objects: ObjectService
    stores: dict[str, MemoryBlobStore]
    objects_inline_max: int


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        region=PARIS,
        regions=(
            {"name": PARIS, "jurisdiction": "FR"},
            {"name": BERLIN, "jurisdiction": "DE"},
            {"name": MADRID, "jurisdiction": "ES", "endpoint": "https://s3.madrid.example:8443"},
        ),
        served_regions=(PARIS, BERLIN),
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    stores = {PARIS: MemoryBlobStore(), BERLIN: MemoryBlobStore()}
    objects = ObjectService(
        MemoryMetadataStore(),
        RegionalBlobs(stores, PARIS),
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        cipher_in(tmp_path / "keys"),
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    services = s3_services(settings, objects, identity, allowed_regions=identity.allowed_regions)
    app = S3App(services, identity, audit)
    client = Client(
        app,
        Credentials(boot.access_key_id, boot.secret_access_key),
        audit_store,
        audit,
        boot.tenant.id,
        identity,
    )
    try:
        yield World(client, identity, objects, stores, settings.inline_object_max_bytes)
    finally:
        await audit.close()


def configuration(region: str) -> bytes:
    return (
        "<CreateBucketConfiguration><LocationConstraint>"
        f"{region}</LocationConstraint></CreateBucketConfiguration>"
    ).encode()


def element(body: bytes, tag: str) -> str | None:
    root = ElementTree.fromstring(body)
    found = root.find(tag)
    if found is None:
        found = root.find(f"{{http://s3.amazonaws.com/doc/2006-03-01/}}{tag}")
    return None if found is None else found.text


async def location(client: Client, bucket: str) -> str | None:
    reply = await client.request("GET", f"/{bucket}?location", region=PARIS)
    assert reply.status == 200
    return ElementTree.fromstring(reply.body).text


async def test_location_constraint_picks_the_region(world: World) -> None:
    c = world.client
    assert (await c.request("PUT", "/plain", region=PARIS)).status == 200
    assert (await c.request("PUT", "/berlin", configuration(BERLIN), region=PARIS)).status == 200
    assert (await world.objects.get_bucket("plain")).region == PARIS
    assert (await world.objects.get_bucket("berlin")).region == BERLIN
    # GetBucketLocation answers for any bucket, signed for any served region.
    assert await location(c, "plain") == PARIS
    assert await location(c, "berlin") == BERLIN
    listed = await c.request("GET", "/", region=BERLIN)
    assert listed.status == 200
    assert listed.body.count(b"<BucketRegion>") == 2


async def test_objects_go_to_their_buckets_region(world: World) -> None:
    c = world.client
    await c.request("PUT", "/berlin", configuration(BERLIN), region=PARIS)
    data = os.urandom(world.objects_inline_max + 1)  # past the inline limit: in a blob
    reply = await c.request("PUT", "/berlin/k", data, region=BERLIN)
    assert reply.status == 200
    assert len(world.stores[BERLIN].blob_ids()) == 1
    assert world.stores[PARIS].blob_ids() == set()
    got = await c.request("GET", "/berlin/k", region=BERLIN)
    assert (got.status, got.body) == (200, data)


async def test_small_objects_stay_in_their_row(world: World) -> None:
    # The local backend's regions keep small objects in the metadata database (decision 0028):
    # no blob in any region's store, and the bytes read back from the row.
    c = world.client
    await c.request("PUT", "/berlin", configuration(BERLIN), region=PARIS)
    data = os.urandom(world.objects_inline_max)
    assert (await c.request("PUT", "/berlin/k", data, region=BERLIN)).status == 200
    assert world.stores[BERLIN].blob_ids() == world.stores[PARIS].blob_ids() == set()
    got = await c.request("GET", "/berlin/k", region=BERLIN)
    assert (got.status, got.body) == (200, data)


@pytest.mark.parametrize(
    ("constraint", "status", "code"),
    [
        ("us-west-2", 400, "InvalidLocationConstraint"),
        (MADRID, 400, "IllegalLocationConstraintException"),
    ],
)
async def test_refused_constraints(world: World, constraint: str, status: int, code: str) -> None:
    reply = await world.client.request("PUT", "/never", configuration(constraint), region=PARIS)
    assert (reply.status, reply.error_code()) == (status, code)
    assert await world.objects.list_buckets(world.client.tenant_id) == []


async def test_a_bucket_request_must_be_signed_for_the_buckets_region(world: World) -> None:
    c = world.client
    await c.request("PUT", "/berlin", configuration(BERLIN), region=PARIS)
    reply = await c.request("PUT", "/berlin/k", b"data", region=PARIS)
    assert (reply.status, reply.error_code()) == (400, "AuthorizationHeaderMalformed")
    assert reply.headers["x-amz-bucket-region"] == BERLIN
    assert element(reply.body, "Region") == BERLIN
    head = await c.request("HEAD", "/berlin", region=PARIS)
    assert (head.status, head.headers["x-amz-bucket-region"]) == (400, BERLIN)
    assert world.stores[BERLIN].blob_ids() == set()
    # An unknown bucket: the endpoint's regions are accepted, and the answer is NoSuchBucket.
    missing = await c.request("GET", "/nothing-here", region=BERLIN)
    assert (missing.status, missing.error_code()) == (404, "NoSuchBucket")


async def test_a_bucket_of_a_region_served_elsewhere_redirects(world: World) -> None:
    await world.objects.create_bucket(
        "madrid", tenant_id=world.client.tenant_id, owner_id="o", region=MADRID
    )
    for client in (world.client, world.client.as_anonymous()):
        reply = await client.request("GET", "/madrid/k", region=MADRID)
        assert (reply.status, reply.error_code()) == (301, "PermanentRedirect")
        assert reply.headers["x-amz-bucket-region"] == MADRID
        assert element(reply.body, "Endpoint") == "s3.madrid.example:8443"
    head = await world.client.request("HEAD", "/madrid", region=PARIS)
    assert (head.status, head.headers["x-amz-bucket-region"]) == (301, MADRID)
    assert await location(world.client, "madrid") == MADRID


async def test_the_tenant_allow_list(world: World) -> None:
    c = world.client
    await world.identity.set_tenant_regions(c.tenant_id, [PARIS])
    refused = await c.request("PUT", "/berlin", configuration(BERLIN), region=PARIS)
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert (await c.request("PUT", "/paris", configuration(PARIS), region=PARIS)).status == 200
    await world.identity.set_tenant_regions(c.tenant_id, [])  # empty: every region again
    assert (await c.request("PUT", "/berlin", configuration(BERLIN), region=PARIS)).status == 200


async def test_a_policy_on_s3_location_constraint(world: World) -> None:
    identity, tenant = world.identity, world.client.tenant_id
    await identity.create_user(tenant, "dev")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:CreateBucket",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"s3:LocationConstraint": PARIS}},
            },
        ],
    }
    await identity.put_user_policy(tenant, "dev", "paris-only", json.dumps(policy))
    key = await identity.create_access_key(tenant, "dev")
    dev = dataclasses.replace(
        world.client, credentials=Credentials(key.key.access_key_id, key.secret_access_key)
    )
    refused = await dev.request("PUT", "/dev-berlin", configuration(BERLIN), region=PARIS)
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    # No LocationConstraint is the default region, and the key holds it.
    assert (await dev.request("PUT", "/dev-default", region=PARIS)).status == 200
    assert (
        await dev.request("PUT", "/dev-paris", configuration(PARIS), region=PARIS)
    ).status == 200


async def test_aws_requested_region_is_the_buckets(world: World) -> None:
    identity, tenant = world.identity, world.client.tenant_id
    await world.client.request("PUT", "/berlin", configuration(BERLIN), region=PARIS)
    await world.client.request("PUT", "/paris", region=PARIS)
    await identity.create_user(tenant, "fr-only")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": PARIS}},
            },
        ],
    }
    await identity.put_user_policy(tenant, "fr-only", "fr", json.dumps(policy))
    key = await identity.create_access_key(tenant, "fr-only")
    user = dataclasses.replace(
        world.client, credentials=Credentials(key.key.access_key_id, key.secret_access_key)
    )
    assert (await user.request("PUT", "/paris/k", b"x", region=PARIS)).status == 200
    denied = await user.request("PUT", "/berlin/k", b"x", region=BERLIN)
    assert (denied.status, denied.error_code()) == (403, "AccessDenied")
