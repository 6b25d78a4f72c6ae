"""A Batch Operations job's role must trust AWS's Batch Operations principal,
``batchoperations.s3.amazonaws.com``, as on AWS (decision 0152's addendum): a role written for
AWS works unchanged, and a replication role, trusting ``s3.amazonaws.com``, is not by that
alone allowed to run jobs — nor the other way round. Decided by the real identity service and
S3 authoriser, as the served grants are."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.replication_grants import S3ReplicationGrants
from andromede.s3.authorise import S3Authoriser
from andromede.storage.model import Bucket

REGION = "eu-fr-1"


def trusting(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@pytest.mark.parametrize(
    ("trusted", "replication", "batch"),
    [
        ("s3.amazonaws.com", True, False),
        ("batchoperations.s3.amazonaws.com", False, True),
        ("ec2.amazonaws.com", False, False),
    ],
)
async def test_each_use_needs_its_own_service_principal(
    trusted: str, replication: bool, batch: bool
) -> None:
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    role = await identity.create_role(tenant, "worker", trusting(trusted))
    await identity.put_role_policy(
        tenant,
        "worker",
        "tagging",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:PutObjectTagging", "Resource": "*"}
                ],
            }
        ),
    )
    audit = AuditService(MemoryAuditStore())
    try:
        grants = S3ReplicationGrants(identity, S3Authoriser(identity.policies_for, REGION), audit)
        bucket = Bucket("data", tenant, boot.tenant.id, REGION, datetime.now(UTC))
        asked = (role.arn, tenant, bucket, "s3:PutObjectTagging", "k")
        assert await grants.allows(*asked) is replication
        assert await grants.for_batch_operations().allows(*asked) is batch
    finally:
        await audit.close()


async def test_a_replication_trust_fenced_to_the_source_bucket() -> None:
    # Decision 0321: S3 assumes a replication role with the source bucket as aws:SourceArn
    # and its account as aws:SourceAccount — AWS's confused-deputy replication trust.
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    tenant = boot.tenant.id
    fenced = {
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": tenant},
            "ArnLike": {"aws:SourceArn": "arn:aws:s3:::orders-*"},
        },
    }
    trust = json.dumps({"Version": "2012-10-17", "Statement": [fenced]})
    role = await identity.create_role(tenant, "replicator", trust)
    allow = {"Effect": "Allow", "Action": "s3:ReplicateObject", "Resource": "*"}
    await identity.put_role_policy(
        tenant, "replicator", "copy", json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    )
    audit = AuditService(MemoryAuditStore())
    try:
        grants = S3ReplicationGrants(identity, S3Authoriser(identity.policies_for, REGION), audit)
        bucket = Bucket("replica", tenant, tenant, REGION, datetime.now(UTC))
        asked = (role.arn, tenant, bucket, "s3:ReplicateObject", "k")
        assert await grants.allows(*asked, source_bucket="orders-eu")
        assert not await grants.allows(*asked, source_bucket="billing")
        assert not await grants.allows(*asked)  # no source ARN given: StringEquals refuses
    finally:
        await audit.close()
