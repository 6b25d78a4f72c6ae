"""Bucket policy and ACL cases in the style of Ceph's s3-tests, derived from AWS's documentation:
who may read, list and write once canned ACLs, bucket policies and identity policies meet.

Each case names the s3-tests function it follows or the AWS page it comes from. Accounts: the
owner's tenant (its root, an IAM user of it), a partner tenant (its root, an IAM user of it)
and anonymous callers, all on one in-process S3 app (memory twins).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from andromede.iam.model import canonical_id as canonical
from support.s3app import Client, in_process_client

BUCKET = "acl-cases"
B = f"/{BUCKET}"
FOO = f"{B}/foo"
BAR = f"{B}/bar"
NO_BLOCK = (
    b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
    b"<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy>"
    b"<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
)


def content_md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


def ownership(rule: str) -> bytes:
    return (
        f"<OwnershipControls><Rule><ObjectOwnership>{rule}</ObjectOwnership></Rule>"
        "</OwnershipControls>"
    ).encode()


def policy(*statements: dict[str, object]) -> bytes:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()


@dataclass
class World:
    owner: Client
    partner: Client
    anonymous: Client

    async def configure(self, rule: str = "ObjectWriter") -> None:
        """Object Ownership ``rule`` and Block Public Access off, as s3-tests' buckets are."""
        body = ownership(rule)
        reply = await self.owner.request("PUT", f"{B}?ownershipControls", body, content_md5(body))
        assert reply.status == 200, reply.body
        reply = await self.owner.request(
            "PUT", f"{B}?publicAccessBlock", NO_BLOCK, content_md5(NO_BLOCK)
        )
        assert reply.status == 200, reply.body

    async def put_policy(self, document: bytes) -> None:
        reply = await self.owner.request("PUT", f"{B}?policy", document)
        assert reply.status == 204, reply.body


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with in_process_client(tmp_path) as owner:
        assert (await owner.request("PUT", B)).status == 200
        partner = await owner.other_tenant("partner")
        yield World(owner, partner, owner.as_anonymous())


async def status(client: Client, method: str, path: str, body: bytes = b"") -> int:
    return (await client.request(method, path, body, sign=client.credentials is not None)).status


CANNED = ["private", "public-read", "public-read-write"]


@pytest.mark.parametrize(
    ("bucket_acl", "object_acl"),
    list(itertools.product(CANNED, CANNED)),
    ids=[f"{b}-{o}" for b, o in itertools.product(CANNED, CANNED)],
)
async def test_access_bucket_acl_object_acl(world: World, bucket_acl: str, object_acl: str) -> None:
    """s3-tests ``test_access_bucket_<bucket acl>_object_<object acl>``: ``foo`` carries the
    object ACL, ``bar`` is private; another account and anonymous callers read what the object
    ACL opens, list what the bucket ACL opens, and write only into a public-read-write bucket
    (WRITE on an object means nothing, "Access control list (ACL) overview").

    One deliberate difference: AWS lets anonymous callers write into a public-read-write bucket
    under ObjectWriter, and the object then belongs to no account ("publicly owned", which AWS
    advises against); here such a write is refused, as anonymous writes land only in buckets
    whose owner owns what is written (BucketOwnerEnforced, the default)."""
    await world.configure()
    assert (await world.owner.request("PUT", FOO, b"foo", {"x-amz-acl": object_acl})).status == 200
    assert (await world.owner.request("PUT", BAR, b"bar")).status == 200
    reply = await world.owner.request("PUT", f"{B}?acl", headers={"x-amz-acl": bucket_acl})
    assert reply.status == 200, reply.body
    readable = object_acl != "private"
    listable = bucket_acl != "private"
    writable = bucket_acl == "public-read-write"
    for caller in (world.partner, world.anonymous):
        writes = writable and caller is world.partner
        assert await status(caller, "GET", FOO) == (200 if readable else 403)
        assert await status(caller, "GET", BAR) == 403
        assert await status(caller, "GET", f"{B}?list-type=2") == (200 if listable else 403)
        assert await status(caller, "PUT", f"{B}/new", b"new") == (200 if writes else 403)
        assert await status(caller, "PUT", BAR, b"overwritten") == (200 if writes else 403)
        assert await status(caller, "GET", f"{FOO}?acl") == 403  # READ_ACP: owner only
    if writable:
        # The partner's overwrite is the partner's object (ObjectWriter): its own to read, and
        # closed to the bucket owner, whom its private ACL grants nothing.
        assert (await world.partner.request("GET", BAR)).body == b"overwritten"
        assert await status(world.owner, "GET", BAR) == 403
    else:
        assert (await world.owner.request("GET", BAR)).body == b"bar"


async def test_authenticated_read_opens_to_signed_callers_only(world: World) -> None:
    """s3-tests ``test_bucket_acl_canned_authenticatedread`` and
    ``test_object_acl_canned_authenticatedread``: AuthenticatedUsers is any AWS account's
    signed request, never an anonymous one."""
    await world.configure()
    headers = {"x-amz-acl": "authenticated-read"}
    assert (await world.owner.request("PUT", FOO, b"foo", headers)).status == 200
    assert (await world.owner.request("PUT", f"{B}?acl", headers=headers)).status == 200
    assert await status(world.partner, "GET", FOO) == 200
    assert await status(world.partner, "GET", f"{B}?list-type=2") == 200
    assert await status(world.anonymous, "GET", FOO) == 403
    assert await status(world.anonymous, "GET", f"{B}?list-type=2") == 403
    assert await status(world.partner, "PUT", f"{B}/new", b"x") == 403


async def test_an_object_another_account_wrote_is_its_own(world: World) -> None:
    """s3-tests ``test_object_acl_canned_bucketownerfullcontrol`` / ``..._bucketownerread``,
    S3 User Guide "Controlling ownership of objects": under ObjectWriter the writer owns the
    object; the bucket owner reads it only if the writer's ACL grants it, and may always delete
    it (deleting is WRITE on the bucket)."""
    await world.configure()
    partner_id = canonical(world.partner.tenant_id)
    grant = {
        "x-amz-grant-write": f'id="{partner_id}"',
        "x-amz-grant-full-control": owner_grant(world),
    }
    assert (await world.owner.request("PUT", f"{B}?acl", headers=grant)).status == 200
    assert await status(world.partner, "PUT", f"{B}/mine", b"partner's") == 200
    assert await status(world.owner, "GET", f"{B}/mine") == 403
    assert await status(world.owner, "GET", f"{B}/mine?acl") == 403
    for acl in ("bucket-owner-read", "bucket-owner-full-control"):
        key = f"{B}/{acl}"
        reply = await world.partner.request("PUT", key, b"shared", {"x-amz-acl": acl})
        assert reply.status == 200
        got = await world.owner.request("GET", key)
        assert (got.status, got.body) == (200, b"shared")
        acl_status = await status(world.owner, "GET", f"{key}?acl")
        assert acl_status == (200 if acl == "bucket-owner-full-control" else 403)
    assert await status(world.owner, "DELETE", f"{B}/mine") == 204
    assert await status(world.owner, "HEAD", f"{B}/mine") == 404


async def test_bucket_owner_preferred_takes_objects_written_with_full_control(
    world: World,
) -> None:
    """S3 User Guide "Controlling ownership of objects": under BucketOwnerPreferred an object
    written with ``bucket-owner-full-control`` belongs to the bucket owner."""
    await world.configure("BucketOwnerPreferred")
    partner_id = canonical(world.partner.tenant_id)
    grant = {
        "x-amz-grant-write": f'id="{partner_id}"',
        "x-amz-grant-full-control": owner_grant(world),
    }
    assert (await world.owner.request("PUT", f"{B}?acl", headers=grant)).status == 200
    headers = {"x-amz-acl": "bucket-owner-full-control"}
    assert (await world.partner.request("PUT", FOO, b"given", headers)).status == 200
    acl = await world.owner.request("GET", f"{FOO}?acl")
    assert acl.status == 200
    owner_element = acl.body.split(b"<Owner>")[1].split(b"</Owner>")[0]
    assert canonical(world.owner.tenant_id).encode() in owner_element
    assert await status(world.partner, "GET", FOO) == 403  # no longer the partner's


async def test_a_policy_naming_the_account_delegates_to_its_identity_policies(
    world: World,
) -> None:
    """ "Determining whether a request is allowed or denied within an account": a bucket policy
    naming the account (its root) grants the account, which passes it on to its IAM users only
    through their identity policies; one naming the user grants that user directly."""
    owner_user = await world.owner.iam_user("reader")
    assert (await world.owner.request("PUT", FOO, b"foo")).status == 200
    account = f"arn:aws:iam::{world.owner.tenant_id}"
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    await world.put_policy(policy({**read, "Principal": {"AWS": f"{account}:root"}}))
    assert await status(owner_user, "GET", FOO) == 403
    await world.put_policy(policy({**read, "Principal": {"AWS": world.owner.tenant_id}}))
    assert await status(owner_user, "GET", FOO) == 403
    await world.put_policy(policy({**read, "Principal": {"AWS": f"{account}:user/reader"}}))
    assert await status(owner_user, "GET", FOO) == 200
    assert await status(owner_user, "GET", f"{B}?list-type=2") == 403  # only what it names


async def test_another_accounts_iam_user_needs_both_sides(world: World) -> None:
    """ "Cross-account policy evaluation logic": the owner's bucket policy must allow the
    partner's account (or user), and the partner's identity policy must allow its user."""
    assert (await world.owner.request("PUT", FOO, b"foo")).status == 200
    partner_user = await world.partner.iam_user("worker")
    assert world.partner.identity is not None
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    assert await status(partner_user, "GET", FOO) == 403  # neither side
    await world.partner.identity.put_user_policy(
        world.partner.tenant_id, "worker", "read", policy(read).decode()
    )
    assert await status(partner_user, "GET", FOO) == 403  # the caller's side only
    await world.put_policy(
        policy({**read, "Principal": {"AWS": f"arn:aws:iam::{world.partner.tenant_id}:root"}})
    )
    assert await status(partner_user, "GET", FOO) == 200  # both sides
    await world.put_policy(
        policy({**read, "Principal": {"AWS": f"arn:aws:iam::{world.partner.tenant_id}:user/x"}})
    )
    assert await status(partner_user, "GET", FOO) == 403  # the owner names another user


async def test_bucket_policy_requires_server_side_encryption(world: World) -> None:
    """s3-tests ``test_bucket_policy_put_obj_enc``; S3 User Guide "Bucket policy examples":
    deny PutObject without ``x-amz-server-side-encryption`` (Null) or with another value."""
    resource = f"arn:aws:s3:::{BUCKET}/*"
    await world.put_policy(
        policy(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": resource,
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": resource,
                "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
            },
        )
    )
    assert await status(world.owner, "PUT", FOO, b"plain") == 403
    sse = {"x-amz-server-side-encryption": "AES256"}
    assert (await world.owner.request("PUT", FOO, b"sealed", sse)).status == 200
    assert (await world.owner.request("GET", FOO)).body == b"sealed"


async def test_bucket_policy_conditions_on_the_canned_acl(world: World) -> None:
    """s3-tests ``test_bucket_policy_put_obj_acl``: a deny on ``s3:x-amz-acl`` matching
    ``public*`` refuses public canned ACLs on upload, and only them."""
    await world.configure()
    await world.put_policy(
        policy(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringLike": {"s3:x-amz-acl": "public*"}},
            }
        )
    )
    for acl, expected in (("public-read", 403), ("public-read-write", 403), ("private", 200)):
        reply = await world.owner.request("PUT", FOO, b"x", {"x-amz-acl": acl})
        assert reply.status == expected, acl
    assert (await world.owner.request("PUT", BAR, b"no acl")).status == 200


async def test_listing_conditions_on_max_keys_and_delimiter(world: World) -> None:
    """S3 User Guide "Bucket policy examples using condition keys": ``s3:max-keys`` with a
    numeric operator, ``s3:delimiter`` with a string one; a request without the key does not
    match."""
    partner = f"arn:aws:iam::{world.partner.tenant_id}:root"
    await world.put_policy(
        policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": partner},
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{BUCKET}",
                "Condition": {
                    "NumericLessThanEquals": {"s3:max-keys": "10"},
                    "StringEquals": {"s3:delimiter": "/"},
                },
            }
        )
    )
    assert await status(world.partner, "GET", f"{B}?list-type=2&max-keys=5&delimiter=/") == 200
    assert await status(world.partner, "GET", f"{B}?list-type=2&max-keys=50&delimiter=/") == 403
    assert await status(world.partner, "GET", f"{B}?list-type=2&max-keys=5") == 403
    assert await status(world.partner, "GET", f"{B}?list-type=2&delimiter=/") == 403
    assert await status(world.partner, "GET", f"{B}?max-keys=10&delimiter=/") == 200  # V1


async def test_a_deny_in_the_policy_beats_a_public_acl(world: World) -> None:
    """s3-tests ``test_bucket_policy_acl``: an explicit deny in the bucket policy wins over an
    ACL grant ("Policy evaluation logic")."""
    await world.configure()
    headers = {"x-amz-acl": "public-read"}
    assert (await world.owner.request("PUT", FOO, b"foo", headers)).status == 200
    assert await status(world.anonymous, "GET", FOO) == 200
    await world.put_policy(
        policy(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
            }
        )
    )
    assert await status(world.anonymous, "GET", FOO) == 403
    assert await status(world.partner, "GET", FOO) == 403


async def test_a_policy_on_one_bucket_opens_nothing_in_another(world: World) -> None:
    """s3-tests ``test_bucket_policy_another_bucket``: a policy grants only the resources it
    names (and S3 refuses a policy naming another bucket's resources)."""
    assert (await world.owner.request("PUT", "/second-bucket")).status == 200
    assert (await world.owner.request("PUT", "/second-bucket/k", b"k")).status == 200
    partner = f"arn:aws:iam::{world.partner.tenant_id}:root"
    await world.put_policy(
        policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": partner},
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            }
        )
    )
    assert await status(world.partner, "GET", f"{B}?list-type=2") == 200
    assert await status(world.partner, "GET", "/second-bucket?list-type=2") == 403
    assert await status(world.partner, "GET", "/second-bucket/k") == 403
    other = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": partner},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::second-bucket/*",
        }
    )
    reply = await world.owner.request("PUT", f"{B}?policy", other)
    assert (reply.status, reply.error_code()) == (400, "MalformedPolicy")


def owner_grant(world: World) -> str:
    return f'id="{canonical(world.owner.tenant_id)}"'


async def test_only_the_owners_account_manages_the_bucket_policy(world: World) -> None:
    """Get/Put/DeleteBucketPolicy references: another account gets 403 without permission and
    405 MethodNotAllowed with it — a policy granting ``s3:*`` does not let the grantee read or
    rewrite the policy that lets it in. The owner's IAM users need only their permission."""
    partner = f"arn:aws:iam::{world.partner.tenant_id}:root"
    everything = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": partner},
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        }
    )
    for method in ("GET", "DELETE"):
        reply = await world.partner.request(method, f"{B}?policy")
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    await world.put_policy(everything)
    rewritten = everything.replace(b"s3:*", b"s3:GetObject")
    for method, body in (("GET", b""), ("PUT", rewritten), ("DELETE", b"")):
        reply = await world.partner.request(method, f"{B}?policy", body)
        assert (reply.status, reply.error_code()) == (405, "MethodNotAllowed"), method
    assert (await world.owner.request("GET", f"{B}?policy")).body == everything
    assert await status(world.partner, "GET", f"{B}?list-type=2") == 200  # the grant works
    admin = await world.owner.iam_user("admin")
    assert world.owner.identity is not None
    await world.owner.identity.put_user_policy(
        world.owner.tenant_id,
        "admin",
        "policy",
        policy(
            {"Effect": "Allow", "Action": "s3:*BucketPolicy", "Resource": f"arn:aws:s3:::{BUCKET}"}
        ).decode(),
    )
    assert (await admin.request("GET", f"{B}?policy")).body == everything
    assert await status(admin, "DELETE", f"{B}?policy") == 204


async def test_home_folders_through_the_username_variable(world: World) -> None:
    """IAM User Guide, "IAM policy elements: Variables and tags" (and the S3 example "Allow IAM
    users access to their own home folder"): one policy on a group serves every user, each
    limited to ``home/${aws:username}/`` for objects and for listing (``s3:prefix``)."""
    identity = world.owner.identity
    assert identity is not None
    tenant = world.owner.tenant_id
    home = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*",
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{BUCKET}",
                "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
            },
        ],
    }
    await identity.create_group(tenant, "staff")
    await identity.put_group_policy(tenant, "staff", "home", json.dumps(home))
    alice = await world.owner.iam_user("alice")
    bob = await world.owner.iam_user("bob")
    for name in ("alice", "bob"):
        await identity.add_user_to_group(tenant, "staff", name)
    assert await status(alice, "PUT", f"{B}/home/alice/notes", b"mine") == 200
    assert await status(alice, "PUT", f"{B}/home/bob/notes", b"not mine") == 403
    assert await status(bob, "GET", f"{B}/home/alice/notes") == 403
    assert await status(alice, "GET", f"{B}?list-type=2&prefix=home/alice/") == 200
    assert await status(alice, "GET", f"{B}?list-type=2&prefix=home/bob/") == 403
    assert await status(alice, "GET", f"{B}?list-type=2") == 403


async def test_enforcing_bucket_ownership_turns_existing_acls_off(world: World) -> None:
    """S3 User Guide, "Controlling ownership of objects and disabling ACLs": once the bucket is
    set to BucketOwnerEnforced, ACLs no longer affect permissions — a public-read object ACL
    written before stops counting, and counts again if ACLs are re-enabled."""
    await world.configure()
    headers = {"x-amz-acl": "public-read"}
    assert (await world.owner.request("PUT", FOO, b"foo", headers)).status == 200
    assert await status(world.anonymous, "GET", FOO) == 200
    enforced = ownership("BucketOwnerEnforced")
    reply = await world.owner.request(
        "PUT", f"{B}?ownershipControls", enforced, content_md5(enforced)
    )
    assert reply.status == 200, reply.body
    assert await status(world.anonymous, "GET", FOO) == 403
    assert await status(world.partner, "GET", FOO) == 403
    await world.configure()
    assert await status(world.anonymous, "GET", FOO) == 200


async def test_source_ip_conditions_follow_the_client_address(world: World) -> None:
    """S3 User Guide, "Bucket policy examples using condition keys" (``aws:SourceIp``): an allow
    limited to a network lets in only callers from it; a request whose address is unknown does
    not match ``IpAddress`` (the key is absent), and a deny with ``NotIpAddress`` keeps even
    the owner's account out from elsewhere."""
    assert (await world.owner.request("PUT", FOO, b"foo")).status == 200
    await world.configure()
    await world.put_policy(
        policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}},
            },
        )
    )

    async def anonymous_get(source_ip: str | None) -> int:
        reply = await world.anonymous.request("GET", FOO, sign=False, source_ip=source_ip)
        return reply.status

    assert await anonymous_get("192.0.2.77") == 200
    assert await anonymous_get("198.51.100.7") == 403
    assert await anonymous_get(None) == 403
    for source_ip, expected in (("192.0.2.1", 200), ("2001:db8::5", 200), ("203.0.113.9", 403)):
        reply = await world.owner.request("PUT", BAR, b"bar", source_ip=source_ip)
        assert reply.status == expected, source_ip
