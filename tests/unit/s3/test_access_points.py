"""Requests through an S3 access point's alias (decision 0157), in process on memory twins:
the access point's policy AND the bucket's must allow (a Deny in either wins), the
``s3:DataAccessPoint*`` keys let a bucket policy delegate, another tenant needs both, the
access point's Block Public Access applies, only AWS's access point operations pass."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from andromede.storage.access_points import AccessPoint, MemoryAccessPointStore, new_alias
from andromede.storage.model import PublicAccessBlock
from support.s3app import REGION, Client, in_process_client

BUCKET = "shared-data"
NO_BLOCK = PublicAccessBlock(False, False, False, False)


@dataclass
class World:
    owner: Client
    user: Client  # an IAM user of the owner's account, without any policy of its own
    other: Client  # another tenant's root
    anonymous: Client
    points: MemoryAccessPointStore
    alias: str
    arn: str

    async def set_point_policy(self, *statements: dict[str, object]) -> None:
        assert await self.points.set_policy(self.owner.tenant_id, "app", _doc(*statements))

    async def set_bucket_policy(self, *statements: dict[str, object]) -> None:
        reply = await self.owner.request("PUT", f"/{BUCKET}?policy", _doc(*statements).encode())
        assert reply.status == 204, reply.body


def _doc(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _statement(effect: str, principal: object, action: object, resource: object,
               **extra: object) -> dict[str, object]:  # fmt: skip
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource,
            **extra}  # fmt: skip


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    points = MemoryAccessPointStore()
    async with in_process_client(tmp_path, access_points=points) as owner:
        assert (await owner.request("PUT", f"/{BUCKET}")).status == 200
        assert (await owner.request("PUT", f"/{BUCKET}/doc.txt", b"hello")).status == 200
        user = await owner.iam_user("app-reader")
        other = await owner.other_tenant("partner")
        point = AccessPoint(
            tenant_id=owner.tenant_id,
            name="app",
            bucket=BUCKET,
            bucket_account=owner.tenant_id,
            alias=new_alias("app"),
            public_access_block=PublicAccessBlock(),
            created_at=datetime.now(UTC),
        )
        await points.create(point, quota=10)
        yield World(owner, user, other, owner.as_anonymous(), points, point.alias,
                    point.arn(REGION))  # fmt: skip


def _delegation(world: World) -> dict[str, object]:
    # AWS's "delegating access control to access points" bucket policy.
    return _statement(
        "Allow",
        {"AWS": "*"},
        "*",
        [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        Condition={"StringEquals": {"s3:DataAccessPointAccount": world.owner.tenant_id}},
    )


def _user_arn(world: World) -> str:
    return f"arn:aws:iam::{world.owner.tenant_id}:user/app-reader"


async def test_the_owner_reads_writes_and_lists_through_the_alias(world: World) -> None:
    owner, alias = world.owner, world.alias
    got = await owner.request("GET", f"/{alias}/doc.txt")
    assert (got.status, got.body) == (200, b"hello")
    assert (await owner.request("PUT", f"/{alias}/new.txt", b"new")).status == 200
    assert (await owner.request("GET", f"/{BUCKET}/new.txt")).body == b"new"
    listed = await owner.request("GET", f"/{alias}?list-type=2")
    assert listed.status == 200
    assert b"<Key>new.txt</Key>" in listed.body
    assert (await owner.request("HEAD", f"/{alias}")).status == 200
    assert (await owner.request("GET", f"/{alias}?location")).status == 200
    assert (await owner.request("DELETE", f"/{alias}/new.txt")).status == 204


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "?policy"), ("PUT", "?policy"), ("DELETE", ""), ("GET", "?acl"), ("PUT", "?tagging")],
)
async def test_bucket_configuration_is_refused_through_the_alias(
    world: World, method: str, path: str
) -> None:
    reply = await world.owner.request(method, f"/{world.alias}{path}", b"{}")
    assert reply.status == 400
    assert reply.error_code() == "InvalidRequest"


async def test_an_unknown_alias_is_no_bucket(world: World) -> None:
    reply = await world.owner.request("GET", "/app-zzzzzzzzzzzzzz-s3alias/doc.txt")
    assert reply.error_code() == "NoSuchBucket"


async def test_a_user_allowed_only_by_the_access_point_reads_only_through_it(
    world: World,
) -> None:
    await world.set_bucket_policy(_delegation(world))
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:GetObject", f"{world.arn}/object/*")
    )
    assert (await world.user.request("GET", f"/{world.alias}/doc.txt")).status == 200
    # Not directly: the delegation holds only for requests through the account's access points.
    assert (await world.user.request("GET", f"/{BUCKET}/doc.txt")).status == 403
    # Not what the access point's policy does not grant.
    assert (await world.user.request("PUT", f"/{world.alias}/x", b"x")).status == 403
    assert (await world.user.request("GET", f"/{world.alias}?list-type=2")).status == 403


async def test_the_bucket_must_allow_too(world: World) -> None:
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:GetObject", f"{world.arn}/object/*")
    )
    # No bucket policy, no identity policy on the bucket: the bucket's side refuses.
    assert (await world.user.request("GET", f"/{world.alias}/doc.txt")).status == 403


async def test_a_deny_in_the_access_point_policy_overrides_a_bucket_allow(world: World) -> None:
    await world.set_bucket_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")
    )
    await world.set_point_policy(
        _statement("Deny", {"AWS": "*"}, "s3:GetObject", f"{world.arn}/object/*")
    )
    assert (await world.user.request("GET", f"/{BUCKET}/doc.txt")).status == 200
    assert (await world.user.request("GET", f"/{world.alias}/doc.txt")).status == 403
    # The owner's root too: an explicit Deny binds everyone.
    assert (await world.owner.request("GET", f"/{world.alias}/doc.txt")).status == 403


async def test_a_deny_in_the_bucket_policy_binds_the_access_point(world: World) -> None:
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:GetObject", f"{world.arn}/object/*")
    )
    await world.set_bucket_policy(
        _delegation(world),
        _statement(
            "Deny",
            "*",
            "s3:GetObject",
            f"arn:aws:s3:::{BUCKET}/*",
            Condition={"StringEquals": {"s3:DataAccessPointArn": world.arn}},
        ),
    )
    assert (await world.user.request("GET", f"/{world.alias}/doc.txt")).status == 403


async def test_handler_authorised_calls_go_through_the_access_point_too(world: World) -> None:
    await world.set_bucket_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "*", f"arn:aws:s3:::{BUCKET}/*")
    )
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "*", f"{world.arn}/object/*"),
        _statement("Deny", {"AWS": "*"}, "s3:DeleteObject", f"{world.arn}/object/doc.txt"),
    )
    body = b"<Delete><Object><Key>doc.txt</Key></Object><Object><Key>gone</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    reply = await world.user.request("POST", f"/{world.alias}?delete", body, {"Content-MD5": md5})
    assert reply.status == 200
    assert b"<Code>AccessDenied</Code>" in reply.body
    assert b"<Deleted><Key>gone</Key>" in reply.body
    assert (await world.owner.request("GET", f"/{BUCKET}/doc.txt")).status == 200


async def test_another_tenant_needs_both_policies(world: World) -> None:
    other, alias = world.other, world.alias
    assert (await other.request("GET", f"/{alias}/doc.txt")).status == 403
    await world.set_bucket_policy(_delegation(world))
    assert (await other.request("GET", f"/{alias}/doc.txt")).status == 403  # no point policy
    partner = f"arn:aws:iam::{other.tenant_id}:root"
    await world.set_point_policy(
        _statement("Allow", {"AWS": partner}, "s3:GetObject", f"{world.arn}/object/*")
    )
    assert (await other.request("GET", f"/{alias}/doc.txt")).status == 200
    assert (await other.request("GET", f"/{BUCKET}/doc.txt")).status == 403
    # The bucket's delegation withdrawn: the access point's grant alone is not enough.
    assert (await world.owner.request("DELETE", f"/{BUCKET}?policy")).status == 204
    assert (await other.request("GET", f"/{alias}/doc.txt")).status == 403


async def test_the_access_points_block_public_access_applies(world: World) -> None:
    await world.set_bucket_policy(_delegation(world))
    await world.set_point_policy(_statement("Allow", "*", "s3:GetObject", f"{world.arn}/object/*"))
    # All four switches on (the default): a public access point policy grants no stranger.
    assert (await world.anonymous.request("GET", f"/{world.alias}/doc.txt")).status == 403
    assert (await world.other.request("GET", f"/{world.alias}/doc.txt")).status == 403
    # An access point created with its switches off lets its public policy grant.
    opened = AccessPoint(
        tenant_id=world.owner.tenant_id,
        name="open",
        bucket=BUCKET,
        bucket_account=world.owner.tenant_id,
        alias=new_alias("open"),
        public_access_block=NO_BLOCK,
        created_at=datetime.now(UTC),
        policy=_doc(_statement("Allow", "*", "s3:GetObject", f"{opened_arn(world)}/object/*")),
    )
    await world.points.create(opened, quota=10)
    assert (await world.anonymous.request("GET", f"/{opened.alias}/doc.txt")).status == 200
    # Virtual-hosted too: the alias as the host's bucket.
    hosted = await world.anonymous.request("GET", "/doc.txt", host=f"{opened.alias}.s3.localhost")
    assert (hosted.status, hosted.body) == (200, b"hello")
    # Never directly, nor through the access point that blocks.
    assert (await world.anonymous.request("GET", f"/{BUCKET}/doc.txt")).status == 403
    assert (await world.anonymous.request("GET", f"/{world.alias}/doc.txt")).status == 403


def opened_arn(world: World) -> str:
    return world.arn.rsplit("/", 1)[0] + "/open"


async def test_a_deleted_bucket_leaves_its_access_point(world: World) -> None:
    assert (await world.owner.request("DELETE", f"/{BUCKET}/doc.txt")).status == 204
    assert (await world.owner.request("DELETE", f"/{BUCKET}")).status == 204
    assert await world.points.get(world.owner.tenant_id, "app") is not None
    reply = await world.owner.request("GET", f"/{world.alias}/doc.txt")
    assert reply.error_code() == "NoSuchBucket"


async def test_a_copy_source_named_by_alias_reads_through_the_access_point(world: World) -> None:
    await world.set_bucket_policy(_delegation(world))
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:GetObject", f"{world.arn}/object/*"),
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:PutObject", f"{world.arn}/object/*"),
    )
    copied = await world.user.request(
        "PUT", f"/{world.alias}/copy.txt", headers={"x-amz-copy-source": f"{world.alias}/doc.txt"}
    )
    assert copied.status == 200, copied.body
    assert (await world.owner.request("GET", f"/{BUCKET}/copy.txt")).body == b"hello"
    # The access point's Deny on the source binds the copy.
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:*", f"{world.arn}/object/*"),
        _statement("Deny", "*", "s3:GetObject", f"{world.arn}/object/doc.txt"),
    )
    refused = await world.user.request(
        "PUT", f"/{world.alias}/copy2.txt", headers={"x-amz-copy-source": f"{world.alias}/doc.txt"}
    )
    assert refused.status == 403
    # By its ARN, as botocore sends a CopySource whose Bucket is one (decision 0391): the
    # same door, the same Deny.
    by_arn = {"x-amz-copy-source": quote(f"{world.arn}/object/doc.txt", safe="/-._~")}
    refused = await world.user.request("PUT", f"/{world.alias}/copy3.txt", headers=by_arn)
    assert refused.status == 403
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:*", f"{world.arn}/object/*"),
    )
    copied = await world.user.request("PUT", f"/{world.alias}/copy3.txt", headers=by_arn)
    assert copied.status == 200, copied.body
    elsewhere = {"x-amz-copy-source": by_arn["x-amz-copy-source"].replace(REGION, "eu-xx-9")}
    missing = await world.user.request("PUT", f"/{world.alias}/copy4.txt", headers=elsewhere)
    assert (missing.status, missing.error_code()) == (404, "NoSuchAccessPoint")


async def test_another_accounts_access_point_on_the_bucket(world: World) -> None:
    # Account B's access point onto A's bucket: B's policy opens it, A's bucket must delegate
    # to B's account.
    other = world.other
    point = AccessPoint(
        tenant_id=other.tenant_id,
        name="partner",
        bucket=BUCKET,
        bucket_account=world.owner.tenant_id,
        alias=new_alias("partner"),
        public_access_block=PublicAccessBlock(),
        created_at=datetime.now(UTC),
    )
    await world.points.create(point, quota=10)
    assert (await other.request("GET", f"/{point.alias}/doc.txt")).status == 403
    await world.set_bucket_policy(
        _statement(
            "Allow",
            {"AWS": "*"},
            "s3:GetObject",
            f"arn:aws:s3:::{BUCKET}/*",
            Condition={"StringEquals": {"s3:DataAccessPointAccount": other.tenant_id}},
        )
    )
    got = await other.request("GET", f"/{point.alias}/doc.txt")
    assert (got.status, got.body) == (200, b"hello")
    # The delegation is to B's access points, not to B's direct requests.
    assert (await other.request("GET", f"/{BUCKET}/doc.txt")).status == 403


# The host botocore builds from the access point's ARN and a custom endpoint (decision 0381).


def _arn_host(world: World, name: str = "app") -> str:
    return f"{name}-{world.owner.tenant_id}.s3.localhost"


async def test_the_arn_host_goes_through_the_access_point(world: World) -> None:
    owner, host = world.owner, _arn_host(world)
    got = await owner.request("GET", "/doc.txt", host=host)
    assert (got.status, got.body) == (200, b"hello")
    assert (await owner.request("PUT", "/new.txt", b"new", host=host)).status == 200
    assert (await owner.request("GET", f"/{BUCKET}/new.txt")).body == b"new"
    listed = await owner.request("GET", "/?list-type=2", host=host)
    assert listed.status == 200
    assert b"<Key>new.txt</Key>" in listed.body
    assert (await owner.request("HEAD", "/new.txt", host=host)).status == 200
    assert (await owner.request("DELETE", "/new.txt", host=host)).status == 204
    refused = await owner.request("GET", "/?policy", host=host)
    assert refused.error_code() == "InvalidRequest"


async def test_the_arn_host_is_authorised_as_the_access_point(world: World) -> None:
    # The user has no policy: only the access point's policy, under the bucket's delegation,
    # lets it read — the same decision as through the alias.
    host = _arn_host(world)
    assert (await world.user.request("GET", "/doc.txt", host=host)).status == 403
    await world.set_bucket_policy(_delegation(world))
    await world.set_point_policy(
        _statement("Allow", {"AWS": _user_arn(world)}, "s3:GetObject", f"{world.arn}/object/*")
    )
    assert (await world.user.request("GET", "/doc.txt", host=host)).status == 200
    assert (await world.user.request("GET", f"/{BUCKET}/doc.txt")).status == 403


async def test_an_arn_host_of_no_access_point_stays_a_bucket_name(world: World) -> None:
    reply = await world.owner.request("GET", "/doc.txt", host=_arn_host(world, "nothing"))
    assert reply.error_code() == "NoSuchBucket"


async def test_a_bucket_of_the_same_account_keeps_its_host(world: World) -> None:
    owner = world.owner
    name = f"app-{owner.tenant_id}"
    assert (await owner.request("PUT", f"/{name}")).status == 200
    assert (await owner.request("PUT", f"/{name}/mine.txt", b"bucket")).status == 200
    got = await owner.request("GET", "/mine.txt", host=_arn_host(world))
    assert (got.status, got.body) == (200, b"bucket")


async def test_a_bucket_of_another_account_beside_the_access_point_is_refused(
    world: World,
) -> None:
    # Another tenant's bucket named like the owner's access point host: neither wins.
    name = f"app-{world.owner.tenant_id}"
    assert (await world.other.request("PUT", f"/{name}")).status == 200
    reply = await world.owner.request("PUT", "/x.txt", b"secret", host=_arn_host(world))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


async def test_the_access_point_endpoint_host_goes_through_it(world: World) -> None:
    host = f"app-{world.owner.tenant_id}.s3-accesspoint.{REGION}.localhost"
    got = await world.owner.request("GET", "/doc.txt", host=host)
    assert (got.status, got.body) == (200, b"hello")
    unknown = await world.owner.request(
        "GET", "/doc.txt", host=f"nothing-{world.owner.tenant_id}.s3-accesspoint.{REGION}.localhost"
    )
    assert (unknown.status, unknown.error_code()) == (404, "NoSuchAccessPoint")
    # Access points are regional: none of that name in another Region.
    elsewhere = await world.owner.request(
        "GET", "/doc.txt", host=f"app-{world.owner.tenant_id}.s3-accesspoint.us-west-2.localhost"
    )
    assert elsewhere.error_code() == "NoSuchAccessPoint"
