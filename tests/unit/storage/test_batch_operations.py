"""Batch Operations' other operations (decision 0152's second addendum) over a real SQLite
database and the real object service: S3PutObjectAcl (canned and grants, Block Public Access
and BucketOwnerEnforced as PutObjectAcl), S3PutObjectRetention (GOVERNANCE kept unless bypassed
by a role allowed to), S3PutObjectLegalHold, S3ReplicateObject (queued for the bucket's rule,
copied by replication's worker); their CreateJob shapes and refusals."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import botocore.session
import pytest
from botocore.parsers import create_parser

from andromede.s3control import jobs as batch
from andromede.s3control.errors import S3ControlError
from andromede.s3control.jobs import parse_create
from andromede.storage.acl import ALL_USERS, Permission
from andromede.storage.batch_jobs import JobStatus
from andromede.storage.errors import ObjectLocked
from andromede.storage.model import ObjectOwnership, PublicAccessBlock, VersioningStatus
from andromede.storage.object_lock import LockMode, ObjectLockConfiguration
from andromede.storage.replication import (
    ReplicationConfiguration,
    ReplicationRule,
    ReplicationStatus,
)
from andromede.storage.replicator import Replicator
from support.batch_world import (
    NOW,
    REGION,
    RoleGrants,
    World,
    batch_world,
    drain,
    manifest,
    new_job,
    put,
    request,
)

_TOKENS = itertools.count(2)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with batch_world(tmp_path) as found:
        yield found


async def run(
    world: World, operation: str, lines: list[str], grants: RoleGrants | None = None
) -> list[tuple[str, str | None, int]]:
    """Run a job of ``operation`` over ``lines``: each task's (status, error, HTTP status)."""
    etag = await manifest(world, lines)
    token = f"t-{next(_TOKENS)}".encode()
    body = request(etag, operation=operation).replace(b">t-1<", b">" + token + b"<")
    job = await new_job(world, body)
    await drain(world.runner(grants=grants))
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None and done.status is JobStatus.COMPLETE
    results = await world.jobs.results(job.job_id, failed_only=False, after=-1, limit=100)
    return [(r.status, r.error_code, r.http_status) for _, r in results]


def acl(canned: str) -> str:
    return (
        "<S3PutObjectAcl><AccessControlPolicy>"
        f"<CannedAccessControlList>{canned}</CannedAccessControlList>"
        "</AccessControlPolicy></S3PutObjectAcl>"
    )


async def test_put_object_acl_as_put_object_acl_decides(world: World) -> None:
    await world.objects.create_bucket(
        "acls",
        tenant_id="t1",
        owner_id="o1",
        region=REGION,
        object_ownership=ObjectOwnership.BUCKET_OWNER_PREFERRED,
    )
    await put(world.objects, "acls", "a", b"x")
    await put(world.objects, "data", "a", b"x")  # BucketOwnerEnforced, as every new bucket
    # Block Public Access (on by default) refuses a public ACL, as PutObjectAcl does.
    assert await run(world, acl("public-read"), ["acls,a"]) == [("failed", "AccessDenied", 403)]
    await world.objects.set_public_access_block(
        "acls", PublicAccessBlock(False, False, False, False)
    )
    assert await run(world, acl("public-read"), ["acls,a"]) == [("succeeded", None, 200)]
    record = await world.objects.head_object("acls", "a")
    assert record.acl is not None and record.acl.grants_permission(None, Permission.READ)
    # Grants to a user, by id: the ACL is the policy's.
    grants = (
        "<S3PutObjectAcl><AccessControlPolicy><AccessControlList><Grants><member><Grantee>"
        "<Identifier>o9</Identifier><TypeIdentifier>id</TypeIdentifier></Grantee>"
        "<Permission>READ</Permission></member></Grants><Owner><ID>o1</ID></Owner>"
        "</AccessControlList></AccessControlPolicy></S3PutObjectAcl>"
    )
    assert await run(world, grants, ["acls,a"]) == [("succeeded", None, 200)]
    record = await world.objects.head_object("acls", "a")
    assert record.acl is not None
    assert record.acl.grants_permission("o9", Permission.READ)
    assert not record.acl.grants_permission(None, Permission.READ)
    # As PutObjectAcl, an ACL naming another owner is refused.
    assert await run(world, grants.replace("<ID>o1<", "<ID>o2<"), ["acls,a"]) == [
        ("failed", "AccessDenied", 403)
    ]
    # BucketOwnerEnforced: an ACL beyond the owner's is refused, the owner's own accepted.
    assert await run(world, acl("public-read"), ["data,a"]) == [
        ("failed", "AccessControlListNotSupported", 400)
    ]
    assert await run(world, acl("private"), ["data,a"]) == [("succeeded", None, 200)]


async def test_the_role_must_be_allowed_put_object_acl(world: World) -> None:
    await put(world.objects, "data", "a", b"x")
    grants = RoleGrants({("s3:PutObjectAcl", "a")}, [])
    assert await run(world, acl("private"), ["data,a"], grants) == [("failed", "AccessDenied", 403)]


def retention(mode: str, days: int, *, bypass: bool = False) -> str:
    until = (NOW + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "<S3PutObjectRetention>"
        f"<BypassGovernanceRetention>{str(bypass).lower()}</BypassGovernanceRetention>"
        f"<Retention><RetainUntilDate>{until}</RetainUntilDate><Mode>{mode}</Mode></Retention>"
        "</S3PutObjectRetention>"
    )


async def test_retention_follows_object_lock_rules(world: World) -> None:
    await world.objects.create_bucket(
        "locked", tenant_id="t1", owner_id="o1", region=REGION,
        object_lock=ObjectLockConfiguration(),
    )  # fmt: skip
    await put(world.objects, "locked", "a", b"x")
    await put(world.objects, "data", "a", b"x")
    assert await run(world, retention("GOVERNANCE", 30), ["locked,a"]) == [("succeeded", None, 200)]
    lock = (await world.objects.head_object("locked", "a")).lock
    assert lock is not None and lock.mode is LockMode.GOVERNANCE
    assert lock.retain_until == NOW + timedelta(days=30)
    # Shortening a GOVERNANCE retention needs the bypass, and the role the right to it.
    assert await run(world, retention("GOVERNANCE", 1), ["locked,a"]) == [
        ("failed", "ObjectLocked", 403)
    ]
    refused = RoleGrants({("s3:BypassGovernanceRetention", "a")}, [])
    assert await run(world, retention("GOVERNANCE", 1, bypass=True), ["locked,a"], refused) == [
        ("failed", "AccessDenied", 403)
    ]
    allowed = RoleGrants(set(), [])
    assert await run(world, retention("GOVERNANCE", 1, bypass=True), ["locked,a"], allowed) == [
        ("succeeded", None, 200)
    ]
    assert ("arn:aws:iam::t1:role/batch", "t1", "s3:BypassGovernanceRetention", "locked/a") in (
        allowed.asked
    )
    # A COMPLIANCE retention is never shortened; a bucket without Object Lock refuses.
    assert await run(world, retention("COMPLIANCE", 10), ["locked,a"]) == [("succeeded", None, 200)]
    assert await run(world, retention("GOVERNANCE", 2, bypass=True), ["locked,a"]) == [
        ("failed", "ObjectLocked", 403)
    ]
    assert await run(world, retention("GOVERNANCE", 2), ["data,a"]) == [
        ("failed", "InvalidRequest", 400)
    ]
    assert await run(world, retention("GOVERNANCE", -1), ["locked,a"]) == [
        ("failed", "InvalidArgument", 400)
    ]


async def test_legal_hold_on_and_off(world: World) -> None:
    await world.objects.create_bucket(
        "locked", tenant_id="t1", owner_id="o1", region=REGION,
        object_lock=ObjectLockConfiguration(),
    )  # fmt: skip
    await put(world.objects, "locked", "a", b"x")
    hold = "<S3PutObjectLegalHold><LegalHold><Status>{}</Status></LegalHold></S3PutObjectLegalHold>"
    assert await run(world, hold.format("ON"), ["locked,a"]) == [("succeeded", None, 200)]
    record = await world.objects.head_object("locked", "a")
    assert record.lock is not None and record.lock.legal_hold is True
    bucket = await world.objects.get_bucket("locked")
    with pytest.raises(ObjectLocked):
        await world.objects.delete_versioned(bucket, "a", record.version_id, owner_id="o1")
    assert await run(world, hold.format("OFF"), ["locked,a"]) == [("succeeded", None, 200)]
    lock = (await world.objects.head_object("locked", "a")).lock
    assert lock is None or not lock.legal_hold


async def replication_world(world: World) -> None:
    await world.objects.set_bucket_versioning("data", VersioningStatus.ENABLED)
    await world.objects.create_bucket("copies", tenant_id="t1", owner_id="o1", region=REGION)
    await world.objects.set_bucket_versioning("copies", VersioningStatus.ENABLED)


async def test_replicate_object_queues_existing_objects_for_the_bucket_rule(world: World) -> None:
    await replication_world(world)
    for key in ("a", "b", "skip/c"):
        await put(world.objects, "data", key, b"before")
    # The rule comes after the objects, without ExistingObjectReplication: Batch Replication
    # is how they are copied.
    await world.objects.set_bucket_replication(
        "data",
        ReplicationConfiguration(
            (ReplicationRule("r1", True, "copies", prefix=""),), role="arn:aws:iam::t1:role/r"
        ),
    )
    assert await world.queue.pending() == 0
    results = await run(world, "<S3ReplicateObject/>", ["data,a", "data,b", "data,missing"])
    assert results == [
        ("succeeded", None, 200),
        ("succeeded", None, 200),
        ("failed", "NoSuchKey", 404),
    ]
    record = await world.objects.head_object("data", "a")
    assert record.replication_status == ReplicationStatus.PENDING
    replicator = Replicator(world.objects, world.queue, clock=lambda: NOW)
    assert await replicator.run_once() == 2
    for key in ("a", "b"):
        source = await world.objects.head_object("data", key)
        copy = await world.objects.head_object("copies", key)
        assert copy.version_id == source.version_id
        assert source.replication_status == ReplicationStatus.COMPLETED
    # The replica is not replicated again; nor is anything in a bucket without a rule.
    assert await run(world, "<S3ReplicateObject/>", ["copies,a"]) == [
        ("failed", "InvalidRequest", 400)
    ]
    assert await run(world, "<S3ReplicateObject/>", ["reports,a"]) == [
        ("failed", "InvalidRequest", 400)
    ]
    # The role needs s3:InitiateReplication on the object.
    grants = RoleGrants({("s3:InitiateReplication", "b")}, [])
    assert await run(world, "<S3ReplicateObject/>", ["data,b"], grants) == [
        ("failed", "AccessDenied", 403)
    ]


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("<S3PutObjectAcl/>", "BadRequestException"),
        (
            "<S3PutObjectAcl><AccessControlPolicy><CannedAccessControlList>open"
            "</CannedAccessControlList></AccessControlPolicy></S3PutObjectAcl>",
            "BadRequestException",
        ),
        (
            "<S3PutObjectAcl><AccessControlPolicy><AccessControlList><Grants><member><Grantee>"
            "<Identifier>a@b.c</Identifier><TypeIdentifier>emailAddress</TypeIdentifier>"
            "</Grantee><Permission>READ</Permission></member></Grants></AccessControlList>"
            "</AccessControlPolicy></S3PutObjectAcl>",
            "NotImplemented",
        ),
        (
            "<S3PutObjectAcl><AccessControlPolicy><AccessControlList><Grants><member><Grantee>"
            "<Identifier>http://example.com/g</Identifier><TypeIdentifier>uri</TypeIdentifier>"
            "</Grantee><Permission>READ</Permission></member></Grants></AccessControlList>"
            "</AccessControlPolicy></S3PutObjectAcl>",
            "BadRequestException",
        ),
        ("<S3PutObjectRetention/>", "BadRequestException"),
        (
            "<S3PutObjectRetention><Retention><Mode>GOVERNANCE</Mode></Retention>"
            "</S3PutObjectRetention>",
            "BadRequestException",
        ),
        (
            "<S3PutObjectRetention><Retention><Mode>SOFT</Mode>"
            "<RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>"
            "</S3PutObjectRetention>",
            "BadRequestException",
        ),
        (
            "<S3PutObjectRetention><Retention><Mode>GOVERNANCE</Mode>"
            "<RetainUntilDate>soon</RetainUntilDate></Retention></S3PutObjectRetention>",
            "BadRequestException",
        ),
        (
            "<S3PutObjectRetention><BypassGovernanceRetention>maybe</BypassGovernanceRetention>"
            "<Retention/></S3PutObjectRetention>",
            "MalformedXML",
        ),
        ("<S3PutObjectLegalHold><LegalHold/></S3PutObjectLegalHold>", "BadRequestException"),
        (
            "<S3PutObjectLegalHold><LegalHold><Status>YES</Status></LegalHold>"
            "</S3PutObjectLegalHold>",
            "BadRequestException",
        ),
        ("<S3PutObjectLegalHold><Colour/></S3PutObjectLegalHold>", "MalformedXML"),
        ("<S3ReplicateObject><Colour/></S3ReplicateObject>", "MalformedXML"),
        ("<S3InitiateRestoreObject/>", "NotImplemented"),
        ("<LambdaInvoke/>", "NotImplemented"),
    ],
)
def test_operation_shapes_refused(operation: str, code: str) -> None:
    with pytest.raises(S3ControlError) as caught:
        parse_create(request("e", operation=operation))
    assert caught.value.code == code


def test_operations_parsed() -> None:
    _, _, document = parse_create(request("e", operation=retention("COMPLIANCE", 3)))
    assert document["operation"] == {
        "name": "S3PutObjectRetention",
        "bypass_governance": False,
        "mode": "COMPLIANCE",
        "retain_until": (NOW + timedelta(days=3)).isoformat(),
    }
    _, _, document = parse_create(request("e", operation=acl("public-read")))
    assert document["operation"] == {"name": "S3PutObjectAcl", "canned": "public-read"}
    group = (
        "<S3PutObjectAcl><AccessControlPolicy><AccessControlList><Grants><member><Grantee>"
        f"<Identifier>{ALL_USERS}</Identifier><TypeIdentifier>uri</TypeIdentifier>"
        "</Grantee><Permission>READ</Permission></member></Grants></AccessControlList>"
        "</AccessControlPolicy></S3PutObjectAcl>"
    )
    _, _, document = parse_create(request("e", operation=group))
    assert document["operation"]["grants"] == [["Group", ALL_USERS, "READ"]]


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            acl("bucket-owner-full-control"),
            {"AccessControlPolicy": {"CannedAccessControlList": "bucket-owner-full-control"}},
        ),
        (
            "<S3PutObjectAcl><AccessControlPolicy><AccessControlList><Grants><member><Grantee>"
            "<Identifier>o9</Identifier><TypeIdentifier>id</TypeIdentifier></Grantee>"
            "<Permission>READ</Permission></member></Grants><Owner><ID>o1</ID></Owner>"
            "</AccessControlList></AccessControlPolicy></S3PutObjectAcl>",
            {
                "AccessControlPolicy": {
                    "AccessControlList": {
                        "Owner": {"ID": "o1"},
                        "Grants": [
                            {
                                "Grantee": {"Identifier": "o9", "TypeIdentifier": "id"},
                                "Permission": "READ",
                            }
                        ],
                    }
                }
            },
        ),
        (
            retention("GOVERNANCE", 2, bypass=True),
            {
                "BypassGovernanceRetention": True,
                "Retention": {"RetainUntilDate": NOW + timedelta(days=2), "Mode": "GOVERNANCE"},
            },
        ),
        (
            "<S3PutObjectLegalHold><LegalHold><Status>ON</Status></LegalHold>"
            "</S3PutObjectLegalHold>",
            {"LegalHold": {"Status": "ON"}},
        ),
        ("<S3ReplicateObject/>", {}),
    ],
)
async def test_describe_job_answers_the_operation_as_botocore_reads_it(
    world: World, operation: str, expected: dict[str, object]
) -> None:
    job = await new_job(world, request("e", operation=operation))
    answer = await batch.describe_job(world.jobs, "t1", REGION, job.job_id)
    model = botocore.session.get_session().get_service_model("s3control")
    parsed = create_parser("rest-xml").parse(
        {"status_code": 200, "headers": {}, "body": answer.body},
        model.operation_model("DescribeJob").output_shape,
    )
    [(name, value)] = parsed["Job"]["Operation"].items()
    assert name == document_name(operation)
    assert value == expected


def document_name(operation: str) -> str:
    return operation[1 : operation.index(">")].rstrip("/")
