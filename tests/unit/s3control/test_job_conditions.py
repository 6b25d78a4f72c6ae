"""Batch Operations' condition keys (decision 0152's second addendum): what CreateJob,
UpdateJobPriority, UpdateJobStatus and the job tagging calls put in the request context, and a
policy deciding on them through the policy engine as the S3 Control app does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.iam.policy import evaluate
from andromede.iam.policy.context import PrincipalType, RequestContext
from andromede.iam.policy.document import PolicyKind, parse_policy
from andromede.s3control.job_conditions import job_condition_keys
from andromede.s3control.jobs import parse_create
from andromede.s3control.operations import S3ControlOperation as Op
from andromede.storage.batch_jobs import BatchJob, BatchJobStore, JobStatus
from support.batch_world import request
from support.schema import migrated_sqlite

NOW = datetime(2026, 12, 5, 10, tzinfo=UTC)
TAGGED = request("e").replace(
    b"</CreateJobRequest>",
    b"<Tags><member><Key>team</Key><Value>data</Value></member></Tags></CreateJobRequest>",
)


@pytest.fixture
async def jobs(tmp_path: Path) -> AsyncIterator[BatchJobStore]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    store = BatchJobStore(db)
    token, priority, document = parse_create(TAGGED)
    await store.create(BatchJob("job-1", "t1", token, JobStatus.NEW, priority, document, NOW))
    try:
        yield store
    finally:
        await db.close()


async def test_create_job_keys(jobs: BatchJobStore) -> None:
    keys = await job_condition_keys(Op.CreateJob, jobs, "t1", "", TAGGED, "")
    assert keys == {
        "s3:RequestJobPriority": 10,
        "s3:RequestJobOperation": "S3PutObjectTagging",
        "aws:RequestTag/team": "data",
        "aws:TagKeys": ["team"],
    }
    # A body the handler will refuse gives no key (the caller learns the error once allowed).
    assert await job_condition_keys(Op.CreateJob, jobs, "t1", "", b"<nope", "") == {}


async def test_existing_job_keys(jobs: BatchJobStore) -> None:
    existing = {"s3:ExistingJobPriority": 10, "s3:ExistingJobOperation": "S3PutObjectTagging"}
    keys = await job_condition_keys(Op.UpdateJobPriority, jobs, "t1", "job-1", b"", "priority=3")
    assert keys == {**existing, "s3:RequestJobPriority": 3}
    assert await job_condition_keys(Op.UpdateJobStatus, jobs, "t1", "job-1", b"", "") == existing
    assert await job_condition_keys(Op.DeleteJobTagging, jobs, "t1", "job-1", b"", "") == existing
    body = (
        b"<PutJobTaggingRequest><Tags><member><Key>a</Key><Value>1</Value></member>"
        b"</Tags></PutJobTaggingRequest>"
    )
    keys = await job_condition_keys(Op.PutJobTagging, jobs, "t1", "job-1", body, "")
    assert keys == {**existing, "aws:RequestTag/a": "1", "aws:TagKeys": ["a"]}
    # Another account's job, or none: no existing keys.
    assert await job_condition_keys(Op.UpdateJobStatus, jobs, "t2", "job-1", b"", "") == {}
    assert await job_condition_keys(Op.DescribeJob, jobs, "t1", "job-1", b"", "") == {}


async def test_a_policy_bounds_the_priority_a_user_may_ask(jobs: BatchJobStore) -> None:
    policy = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:CreateJob",
                        "Resource": "*",
                        "Condition": {
                            "NumericLessThanEquals": {"s3:RequestJobPriority": "20"},
                            "StringEquals": {"s3:RequestJobOperation": "S3PutObjectTagging"},
                        },
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:UpdateJobPriority",
                        "Resource": "*",
                        "Condition": {
                            "NumericLessThanEquals": {"s3:RequestJobPriority": "20"},
                            "StringEquals": {"s3:ExistingJobOperation": "S3PutObjectTagging"},
                        },
                    },
                ],
            }
        ).encode(),
        kind=PolicyKind.IDENTITY,
    )

    async def allowed(operation: Op, body: bytes, query: str) -> bool:
        keys = await job_condition_keys(operation, jobs, "t1", "job-1", body, query)
        context = RequestContext(
            action=operation.action,
            resource="*",
            principal_type=PrincipalType.USER,
            principal_arn="arn:aws:iam::t1:user/u",
            principal_account="t1",
            keys=keys,
        )
        return evaluate(context, identity_policies=[policy]).allowed

    assert await allowed(Op.CreateJob, TAGGED, "")
    assert not await allowed(Op.CreateJob, TAGGED.replace(b">10<", b">50<"), "")
    copy = request(
        "e",
        operation="<S3PutObjectCopy><TargetResource>arn:aws:s3:::b</TargetResource></S3PutObjectCopy>",
    )
    assert not await allowed(Op.CreateJob, copy, "")
    assert await allowed(Op.UpdateJobPriority, b"", "priority=20")
    assert not await allowed(Op.UpdateJobPriority, b"", "priority=21")
