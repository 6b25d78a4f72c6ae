"""S3 requests authorised through the policy engine: bucket policies, ACLs and Block Public
Access deciding what anonymous callers and other tenants may do (in process, memory twins)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.s3 import authorise
from andromede.storage.model import Bucket
from support.s3app import Client, in_process_client

B = "/shared-data"
K = f"{B}/doc.txt"
NO_BLOCK = (
    b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
    b"<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy>"
    b"<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
)


@dataclass
class World:
    owner: Client
    other: Client
    anonymous: Client


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with in_process_client(tmp_path) as owner:
        assert (await owner.request("PUT", B)).status == 200
        assert (await owner.request("PUT", K, b"hello")).status == 200
        other = await owner.other_tenant("partner")
        yield World(owner, other, owner.as_anonymous())


async def set_block(owner: Client, body: bytes) -> None:

    reply = await owner.request("PUT", f"{B}?publicAccessBlock", body, content_md5(body))
    assert reply.status == 200, reply.body


def content_md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


def policy(*statements: dict[str, object]) -> bytes:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()


async def put_policy(owner: Client, document: bytes) -> None:
    reply = await owner.request("PUT", f"{B}?policy", document)
    assert reply.status == 204, reply.body


def allow(
    principal: object, action: object, resource: object, **extra: object
) -> dict[str, object]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


async def test_a_public_read_policy_opens_objects_to_anonymous_callers(world: World) -> None:
    # "Granting read-only permission to an anonymous user" (S3 bucket policy examples).
    await set_block(world.owner, NO_BLOCK)
    await put_policy(world.owner, policy(allow("*", "s3:GetObject", "arn:aws:s3:::shared-data/*")))
    got = await world.anonymous.request("GET", K, sign=False)
    assert (got.status, got.body) == (200, b"hello")
    # Only what the policy names: listing and writing stay denied.
    assert (await world.anonymous.request("GET", B, sign=False)).status == 403
    assert (await world.anonymous.request("PUT", K, b"x", sign=False)).status == 403


async def test_a_missing_key_is_told_only_to_callers_who_may_list_the_bucket(
    world: World,
) -> None:
    # S3: without s3:ListBucket, GET, HEAD and GetObjectAttributes of a missing key answer
    # 403, so that reading rights do not reveal which keys exist.
    await set_block(world.owner, NO_BLOCK)
    read_only = allow("*", "s3:GetObject", "arn:aws:s3:::shared-data/*")
    await put_policy(world.owner, policy(read_only))
    missing = f"{B}/no-such-page.html"
    attributes = {"x-amz-object-attributes": "ETag"}
    for caller in (world.anonymous, world.other):
        signed = caller is not world.anonymous
        got = await caller.request("GET", missing, sign=signed)
        assert got.status == 403 and b"<Code>AccessDenied</Code>" in got.body, got.body
        assert (await caller.request("HEAD", missing, sign=signed)).status == 403
        got = await caller.request("GET", f"{missing}?attributes", headers=attributes, sign=signed)
        assert got.status == 403, got.body
        assert (await caller.request("GET", K, sign=signed)).status == 200
    # The owner may list: it is told the truth.
    got = await world.owner.request("GET", missing)
    assert got.status == 404 and b"<Code>NoSuchKey</Code>" in got.body
    # Once the policy lets them list, they are told too.
    await put_policy(
        world.owner,
        policy(read_only, allow("*", "s3:ListBucket", "arn:aws:s3:::shared-data")),
    )
    got = await world.anonymous.request("GET", missing, sign=False)
    assert got.status == 404 and b"<Code>NoSuchKey</Code>" in got.body
    assert (await world.other.request("HEAD", missing)).status == 404


async def test_restrict_public_buckets_limits_a_public_policy_to_the_owner(world: World) -> None:
    await set_block(
        world.owner,
        NO_BLOCK.replace(b"<RestrictPublicBuckets>false", b"<RestrictPublicBuckets>true"),
    )
    await put_policy(world.owner, policy(allow("*", "s3:GetObject", "arn:aws:s3:::shared-data/*")))
    assert (await world.anonymous.request("GET", K, sign=False)).status == 403
    assert (await world.other.request("GET", K)).status == 403
    assert (await world.owner.request("GET", K)).status == 200


async def test_a_policy_naming_another_account_lets_its_root_in(world: World) -> None:
    # Cross-account: the resource policy grants the account; its root needs no identity policy.
    other_root = f"arn:aws:iam::{world.other.tenant_id}:root"
    await put_policy(
        world.owner,
        policy(
            allow(
                {"AWS": other_root}, ["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::shared-data/*"
            ),
            allow({"AWS": world.other.tenant_id}, "s3:ListBucket", "arn:aws:s3:::shared-data"),
        ),
    )
    assert (await world.other.request("GET", K)).body == b"hello"
    assert (await world.other.request("GET", f"{B}?list-type=2")).status == 200
    assert (await world.other.request("PUT", f"{B}/from-partner", b"data")).status == 200
    # BucketOwnerEnforced: the bucket owner owns what the partner wrote.
    acl = await world.owner.request("GET", f"{B}/from-partner?acl")
    assert world.owner.tenant_id not in acl.body.decode()  # canonical ids, not account ids
    assert (await world.other.request("DELETE", K)).status == 403
    assert (await world.anonymous.request("GET", K, sign=False)).status == 403


async def test_matching_an_etag_needs_read_permission_too(world: World) -> None:
    # AWS: If-Match on a write or delete needs s3:GetObject beside s3:PutObject/DeleteObject
    # (the answer tells whether the object has that ETag); If-None-Match needs the write alone.
    other_root = f"arn:aws:iam::{world.other.tenant_id}:root"
    writes = ["s3:PutObject", "s3:DeleteObject"]
    objects = "arn:aws:s3:::shared-data/*"
    await put_policy(world.owner, policy(allow({"AWS": other_root}, writes, objects)))
    match = {"If-Match": (await world.owner.request("HEAD", K)).headers["etag"]}
    assert (await world.other.request("PUT", K, b"changed", match)).status == 403
    assert (await world.other.request("DELETE", K, headers=match)).status == 403
    assert (await world.owner.request("GET", K)).body == b"hello"
    created = await world.other.request("PUT", f"{B}/new", b"n", {"If-None-Match": "*"})
    assert created.status == 200
    await put_policy(
        world.owner,
        policy(allow({"AWS": other_root}, [*writes, "s3:GetObject"], objects)),
    )
    assert (await world.other.request("PUT", K, b"changed", match)).status == 200
    assert (await world.owner.request("GET", K)).body == b"changed"


async def test_conditions_are_evaluated_on_request_keys(world: World) -> None:
    other_root = f"arn:aws:iam::{world.other.tenant_id}:root"
    await put_policy(
        world.owner,
        policy(
            allow(
                {"AWS": other_root},
                "s3:ListBucket",
                "arn:aws:s3:::shared-data",
                Condition={"StringEquals": {"s3:prefix": "public/"}},
            )
        ),
    )
    assert (await world.other.request("GET", f"{B}?list-type=2&prefix=public/")).status == 200
    assert (await world.other.request("GET", f"{B}?list-type=2&prefix=private/")).status == 403
    assert (await world.other.request("GET", f"{B}?list-type=2")).status == 403


async def test_an_explicit_deny_binds_even_the_owners_root(world: World) -> None:
    # Explicit deny wins anywhere ("Policy evaluation logic").
    await put_policy(
        world.owner,
        policy(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": "arn:aws:s3:::shared-data/*",
            }
        ),
    )
    assert (await world.owner.request("DELETE", K)).status == 403
    assert (await world.owner.request("GET", K)).status == 200


async def test_a_policy_cannot_lock_its_owner_out_of_the_policy(world: World) -> None:
    await put_policy(
        world.owner,
        policy(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/*"],
            }
        ),
    )
    assert (await world.owner.request("GET", K)).status == 403
    assert (await world.owner.request("GET", f"{B}?policy")).status == 200
    assert (await world.owner.request("DELETE", f"{B}?policy")).status == 204
    assert (await world.owner.request("GET", K)).status == 200


async def test_a_secure_transport_condition_refuses_plain_http(world: World) -> None:
    await put_policy(
        world.owner,
        policy(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::shared-data/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ),
    )
    assert (await world.owner.request("GET", K)).status == 403  # the in-process client is http


async def test_acls_grant_only_when_ownership_and_public_access_allow(world: World) -> None:
    ownership = (
        b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
        b"</OwnershipControls>"
    )

    assert (
        await world.owner.request(
            "PUT", f"{B}?ownershipControls", ownership, content_md5(ownership)
        )
    ).status == 200
    await set_block(world.owner, NO_BLOCK)
    assert (
        await world.owner.request("PUT", f"{K}?acl", headers={"x-amz-acl": "public-read"})
    ).status == 200
    assert (await world.anonymous.request("GET", K, sign=False)).body == b"hello"
    # IgnorePublicAcls: the same ACL now counts for nobody.
    await set_block(
        world.owner, NO_BLOCK.replace(b"<IgnorePublicAcls>false", b"<IgnorePublicAcls>true")
    )
    assert (await world.anonymous.request("GET", K, sign=False)).status == 403
    await set_block(world.owner, NO_BLOCK)
    # A bucket ACL granting WRITE to every authenticated user lets the partner upload.
    assert (await world.other.request("PUT", f"{B}/x", b"1")).status == 403
    assert (
        await world.owner.request(
            "PUT",
            f"{B}?acl",
            headers={
                "x-amz-grant-write": 'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"'
            },
        )
    ).status == 200
    assert (await world.other.request("PUT", f"{B}/x", b"1")).status == 200
    assert (await world.anonymous.request("PUT", f"{B}/y", b"1", sign=False)).status == 403


async def test_delete_objects_authorises_each_key(world: World) -> None:
    other_root = f"arn:aws:iam::{world.other.tenant_id}:root"
    assert (await world.owner.request("PUT", f"{B}/tmp/a", b"1")).status == 200
    await put_policy(
        world.owner,
        policy(allow({"AWS": other_root}, "s3:DeleteObject", "arn:aws:s3:::shared-data/tmp/*")),
    )
    body = b"<Delete><Object><Key>tmp/a</Key></Object><Object><Key>doc.txt</Key></Object></Delete>"

    reply = await world.other.request("POST", f"{B}?delete", body, content_md5(body))
    assert reply.status == 200
    assert b"<Deleted><Key>tmp/a</Key></Deleted>" in reply.body
    assert b"<Key>doc.txt</Key><Code>AccessDenied</Code>" in reply.body
    assert (await world.owner.request("GET", K)).status == 200


def test_parsed_bucket_policies_are_bounded_and_the_oldest_goes_first() -> None:
    def bucket(number: int) -> Bucket:
        statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
        statement["Resource"] = f"arn:aws:s3:::bkt-memo/{number}"
        policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        return Bucket("bkt-memo", "t", "o", "eu", datetime.now(UTC), policy=policy)

    size = authorise._BUCKET_POLICIES_SIZE
    buckets = [bucket(number) for number in range(size + 10)]
    first = authorise.S3Authoriser._bucket_policy(buckets[0], None)
    assert authorise.S3Authoriser._bucket_policy(buckets[0], None) is first  # parsed once
    for each in buckets[1:]:
        authorise.S3Authoriser._bucket_policy(each, None)
    assert len(authorise._bucket_policies) == size
    assert buckets[9].policy not in authorise._bucket_policies
    assert buckets[10].policy in authorise._bucket_policies


def test_conditional_headers_are_condition_keys() -> None:
    # A bucket policy may require conditional deletes and writes with a Null condition on
    # s3:if-match / s3:if-none-match, as AWS documents.
    from andromede.s3.authorise import request_condition_keys
    from andromede.s3.operations import S3Operation

    keys = request_condition_keys(S3Operation.DeleteObject, {}, {"if-match": ' "abc" '})
    assert keys == {"s3:if-match": '"abc"'}
    keys = request_condition_keys(S3Operation.PutObject, {}, {"if-none-match": "*"})
    assert keys == {"s3:if-none-match": "*", "s3:ObjectCreationOperation": True}
    keys = request_condition_keys(S3Operation.UploadPart, {}, {})
    assert keys == {"s3:ObjectCreationOperation": False}
    assert request_condition_keys(S3Operation.DeleteObject, {}, {}) == {}


async def test_a_bucket_policy_can_require_conditional_writes(world: World) -> None:
    # AWS's "Enforce conditional writes" example: the partner may write only with If-None-Match,
    # the steps of a multipart upload exempted by s3:ObjectCreationOperation (decision 0061).
    other_root = f"arn:aws:iam::{world.other.tenant_id}:root"
    objects = "arn:aws:s3:::shared-data/*"
    await put_policy(
        world.owner,
        policy(
            allow(
                {"AWS": other_root},
                "s3:PutObject",
                objects,
                Condition={"Null": {"s3:if-none-match": "false"}},
            ),
            allow(
                {"AWS": other_root},
                "s3:PutObject",
                objects,
                Condition={"Bool": {"s3:ObjectCreationOperation": "false"}},
            ),
        ),
    )
    partner = world.other
    assert (await partner.request("PUT", f"{B}/plain", b"x")).status == 403
    created = await partner.request("PUT", f"{B}/created", b"x", {"If-None-Match": "*"})
    assert created.status == 200
    started = await partner.request("POST", f"{B}/big?uploads")
    assert started.status == 200, started.body
    upload_id = started.body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    part = await partner.request("PUT", f"{B}/big?partNumber=1&uploadId={upload_id}", b"part")
    assert part.status == 200
    etag = part.headers["etag"]
    body = (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
        "</CompleteMultipartUpload>"
    ).encode()
    complete = f"{B}/big?uploadId={upload_id}"
    assert (await partner.request("POST", complete, body)).status == 403
    done = await partner.request("POST", complete, body, {"If-None-Match": "*"})
    assert done.status == 200, done.body
