"""The S3 Batch Operations worker (decision 0152's addendum) over a real SQLite metadata
database and local blobs: a job's manifest read and checked, its tags applied batch by batch,
failures reported, the report written into the account's bucket, a job resumed by another
worker, one claim at a time, and CreateJob's request parsed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from defusedxml import ElementTree as ET
from pydantic import ValidationError

from andromede.s3control import jobs as batch
from andromede.s3control.errors import S3ControlError
from andromede.s3control.jobs import parse_create
from andromede.settings import Settings
from andromede.storage.batch_jobs import BatchJob, IdempotencyConflict, JobStatus
from support.batch_world import (
    NOW,
    RoleGrants,
    World,
    batch_world,
    drain,
    manifest,
    new_job,
    put,
    read,
    report_rows,
    request,
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with batch_world(tmp_path) as found:
        yield found


async def test_a_job_tags_every_object_and_reports_failures(world: World) -> None:
    for i in range(5):
        await put(world.objects, "data", f"k {i}", b"x")
    etag = await manifest(
        world, [f"data,k%20{i}" for i in range(5)] + ["data,missing", "theirs,their-key"]
    )
    job = await new_job(world, request(f'"{etag}"'))
    # Prepare, then four batches of two (the last finds nothing left and completes).
    assert await drain(world.runner(batch=2)) == 6
    for i in range(5):
        assert (await world.objects.head_object("data", f"k {i}")).headers.tags == (
            ("tier", "cold"),
        )
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None
    assert (done.status, done.total_tasks, done.succeeded, done.failed) == (
        JobStatus.COMPLETE, 7, 5, 2,
    )  # fmt: skip
    assert done.terminated_at == NOW
    # Each task audited as the S3 action it performs.
    assert [e.action for e in world.events] == ["s3:PutObjectTagging"] * 7
    assert [e.result.status for e in world.events].count("failed") == 2
    # The report: manifest.json naming a CSV per task status.
    listed = await world.objects.list_objects("reports", prefix=f"batch/job-{job.job_id}/")
    keys = sorted(entry.key for entry in listed.objects)
    assert f"batch/job-{job.job_id}/manifest.json" in keys
    report = json.loads(await read(world.objects, "reports", keys[0]))
    assert report["Format"] == "Report_CSV_20180820"
    by_status = {r["TaskExecutionStatus"]: r["Key"] for r in report["Results"]}
    succeeded = report_rows(await read(world.objects, "reports", by_status["succeeded"]))
    failed = report_rows(await read(world.objects, "reports", by_status["failed"]))
    assert len(succeeded) == 5
    assert succeeded[0] == ["data", "k 0", "", "succeeded", "", "200", "Successful"]
    assert sorted((r[0], r[1], r[4], r[5]) for r in failed) == [
        ("data", "missing", "NoSuchKey", "404"),
        ("theirs", "their-key", "AccessDenied", "403"),
    ]


async def test_delete_tagging_and_a_failed_tasks_only_report(world: World) -> None:
    await put(world.objects, "data", "a", b"x")
    await world.objects.set_object_tags("data", "a", (("k", "v"),))
    etag = await manifest(world, ["data,a", "data,gone"])
    job = await new_job(
        world,
        request(etag, operation="<S3DeleteObjectTagging/>", scope="FailedTasksOnly"),
    )
    await drain(world.runner())
    assert (await world.objects.head_object("data", "a")).headers.tags == ()
    assert [e.action for e in world.events] == ["s3:DeleteObjectTagging"] * 2
    listed = await world.objects.list_objects("reports", prefix=f"batch/job-{job.job_id}/")
    manifest_key = f"batch/job-{job.job_id}/manifest.json"
    report = json.loads(await read(world.objects, "reports", manifest_key))
    assert [r["TaskExecutionStatus"] for r in report["Results"]] == ["failed"]
    assert len(listed.objects) == 2


async def test_an_etag_mismatch_fails_the_job(world: World) -> None:
    await manifest(world, ["data,a"])
    job = await new_job(world, request('"0123456789abcdef0123456789abcdef"'))
    await drain(world.runner())
    failed = await world.jobs.get("t1", job.job_id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.failure_reasons[0]["FailureCode"] == "ETagMismatch"
    assert world.events == []


async def test_a_manifest_past_the_limit_fails_the_job(world: World) -> None:
    etag = await manifest(world, [f"data,k{i}" for i in range(4)])
    job = await new_job(world, request(etag))
    await drain(world.runner(max_tasks=3))
    failed = await world.jobs.get("t1", job.job_id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.failure_reasons[0]["FailureCode"] == "ManifestTooLarge"


async def test_a_job_awaiting_confirmation_waits(world: World) -> None:
    await put(world.objects, "data", "a", b"x")
    etag = await manifest(world, ["data,a"])
    job = await new_job(world, request(etag, confirm=True))
    await drain(world.runner())
    waiting = await world.jobs.get("t1", job.job_id)
    assert waiting is not None and waiting.status is JobStatus.SUSPENDED
    assert waiting.total_tasks == 1 and world.events == []
    assert await world.jobs.transition(job.job_id, [JobStatus.SUSPENDED], JobStatus.READY, now=NOW)
    await drain(world.runner())
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None and done.status is JobStatus.COMPLETE and done.succeeded == 1


async def test_a_restarted_worker_resumes_without_counting_twice(world: World) -> None:
    for i in range(5):
        await put(world.objects, "data", f"k{i}", b"x")
    etag = await manifest(world, [f"data,k{i}" for i in range(5)])
    job = await new_job(world, request(etag))
    first = world.runner(batch=2)
    assert await first.run_once()  # prepared
    assert await first.run_once()  # two tasks done; then this gateway stops
    midway = await world.jobs.get("t1", job.job_id)
    assert midway is not None
    assert (midway.status, midway.succeeded) == (JobStatus.ACTIVE, 2)
    await drain(world.runner(batch=2))  # another gateway
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None
    assert (done.status, done.succeeded, done.failed) == (JobStatus.COMPLETE, 5, 0)
    assert len(world.events) == 5


async def test_one_job_is_claimed_by_one_worker_at_a_time(world: World) -> None:
    etag = await manifest(world, ["data,a"])
    job = await new_job(world, request(etag))
    lease = timedelta(seconds=60)
    claimed = await world.jobs.claim(NOW, lease)
    assert claimed is not None and claimed.job_id == job.job_id
    assert await world.jobs.claim(NOW, lease) is None
    assert await world.jobs.claim(NOW + lease / 2, lease) is None
    # Its gateway died: the lease runs out and another takes the job over.
    again = await world.jobs.claim(NOW + lease, lease)
    assert again is not None and again.job_id == job.job_id


async def test_create_is_idempotent_on_the_client_token(world: World) -> None:
    etag = await manifest(world, ["data,a"])
    first = await new_job(world, request(etag))
    token, priority, document = parse_create(request(etag))
    again = await world.jobs.create(
        BatchJob("other-id", "t1", token, JobStatus.NEW, priority, document, NOW)
    )
    assert again.job_id == first.job_id
    _, _, changed = parse_create(request(etag, operation="<S3DeleteObjectTagging/>"))
    with pytest.raises(IdempotencyConflict):
        await world.jobs.create(
            BatchJob("third-id", "t1", token, JobStatus.NEW, priority, changed, NOW)
        )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<nope", "MalformedXML"),
        (b"<CreateJobRequest/>", "BadRequestException"),
        (request("e", operation="<LambdaInvoke/>"), "NotImplemented"),
        (request("e", operation=""), "BadRequestException"),
        (request("e", scope="Some"), "BadRequestException"),
        (request("e").replace(b"<Priority>10<", b"<Priority>-1<"), "BadRequestException"),
        (request("e").replace(b"arn:aws:s3:::data/manifest.csv", b"data"), "BadRequestException"),
        (request("e").replace(b"<member>Key</member>", b""), "BadRequestException"),
        (
            request("e").replace(b"S3BatchOperations_CSV_20180820", b"S3InventoryReport_CSV"),
            "BadRequestException",
        ),
        # Job tags past AWS's 50; a manifest and a generator both (one is asked for).
        (
            request("e").replace(
                b"</CreateJobRequest>",
                b"<Tags>"
                + b"".join(
                    b"<member><Key>k%d</Key><Value>v</Value></member>" % i for i in range(51)
                )
                + b"</Tags></CreateJobRequest>",
            ),
            "BadRequestException",
        ),
        (
            request("e").replace(
                b"</CreateJobRequest>", b"<ManifestGenerator/></CreateJobRequest>"
            ),
            "BadRequestException",
        ),
        (request("e", operation="<S3InitiateRestoreObject/>"), "NotImplemented"),
        (
            request("e").replace(
                b"</CreateJobRequest>", b"<Colour>red</Colour></CreateJobRequest>"
            ),
            "MalformedXML",
        ),
    ],
)
def test_create_job_requests_refused(body: bytes, code: str) -> None:
    with pytest.raises(S3ControlError) as caught:
        parse_create(body)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "setting",
    [
        {"batch_job_batch_size": 0},
        {"batch_job_max_tasks": 0},
        {"batch_job_interval": 0},
        {"batch_job_lease_seconds": 0},
    ],
)
def test_the_batch_settings_are_bounded(setting: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Settings(**setting)  # type: ignore[arg-type]


async def test_the_job_acts_as_its_role(world: World) -> None:
    for key in ("a", "b"):
        await put(world.objects, "data", key, b"x")
    etag = await manifest(world, ["data,a", "data,b"])
    job = await new_job(world, request(etag))
    grants = RoleGrants({("s3:PutObjectTagging", "b")}, [])
    await drain(world.runner(grants=grants))
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None and (done.succeeded, done.failed) == (1, 1)
    assert (await world.objects.head_object("data", "b")).headers.tags == ()
    role = "arn:aws:iam::t1:role/batch"
    assert grants.asked[:3] == [
        (role, "t1", "s3:GetObject", "data/manifest.csv"),
        (role, "t1", "s3:PutObjectTagging", "data/a"),
        (role, "t1", "s3:PutObjectTagging", "data/b"),
    ]
    assert grants.asked[3] == (role, "t1", "s3:PutObject", f"reports/batch/job-{job.job_id}/*")
    failed = [e.result for e in world.events if e.result.status == "failed"]
    assert [(r.error_code, r.http_status) for r in failed] == [("AccessDenied", 403)]


async def test_a_role_that_may_not_read_the_manifest_fails_the_job(world: World) -> None:
    etag = await manifest(world, ["data,a"])
    job = await new_job(world, request(etag))
    await drain(world.runner(grants=RoleGrants({("s3:GetObject", "manifest.csv")}, [])))
    failed = await world.jobs.get("t1", job.job_id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.failure_reasons[0]["FailureCode"] == "AccessDenied"


async def test_a_report_the_role_may_not_write_fails_the_job(world: World) -> None:
    await put(world.objects, "data", "a", b"x")
    etag = await manifest(world, ["data,a"])
    job = await new_job(world, request(etag))
    refused = {("s3:PutObject", f"batch/job-{job.job_id}/*")}
    await drain(world.runner(grants=RoleGrants(refused, [])))
    failed = await world.jobs.get("t1", job.job_id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.failure_reasons[0]["FailureCode"] == "ReportNotWritten"
    assert failed.succeeded == 1


async def test_a_running_job_cancelled_stops_and_reports_what_it_did(world: World) -> None:
    for i in range(5):
        await put(world.objects, "data", f"k{i}", b"x")
    etag = await manifest(world, [f"data,k{i}" for i in range(5)])
    job = await new_job(world, request(etag))
    runner = world.runner(batch=2)
    assert await runner.run_once()  # prepared
    assert await runner.run_once()  # two tasks done
    assert await world.jobs.transition(
        job.job_id, [JobStatus.ACTIVE], JobStatus.CANCELLING, now=NOW
    )
    await drain(runner)
    cancelled = await world.jobs.get("t1", job.job_id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.succeeded, cancelled.total_tasks) == (
        JobStatus.CANCELLED, 2, 5,
    )  # fmt: skip
    assert (await world.objects.head_object("data", "k4")).headers.tags == ()
    manifest_key = f"batch/job-{job.job_id}/manifest.json"
    report = json.loads(await read(world.objects, "reports", manifest_key))
    (only,) = report["Results"]
    assert len(report_rows(await read(world.objects, "reports", only["Key"]))) == 2


_COPY = (
    "<S3PutObjectCopy><TargetResource>arn:aws:s3:::reports</TargetResource>"
    "<TargetKeyPrefix>copies/</TargetKeyPrefix><MetadataDirective>COPY</MetadataDirective>"
    "{tagging}</S3PutObjectCopy>"
)


async def test_a_copy_job_copies_each_object_behind_the_prefix(world: World) -> None:
    await put(world.objects, "data", "a", b"alpha")
    await world.objects.set_object_tags("data", "a", (("old", "1"),))
    await put(world.objects, "data", "b", b"bravo")
    etag = await manifest(world, ["data,a", "data,b", "data,gone"])
    tagging = "<NewObjectTagging><member><Key>copied</Key><Value>yes</Value></member>"
    job = await new_job(
        world, request(etag, operation=_COPY.format(tagging=tagging + "</NewObjectTagging>"))
    )
    grants = RoleGrants(set(), [])
    await drain(world.runner(grants=grants))
    done = await world.jobs.get("t1", job.job_id)
    assert done is not None and (done.status, done.succeeded, done.failed) == (
        JobStatus.COMPLETE, 2, 1,
    )  # fmt: skip
    assert await read(world.objects, "reports", "copies/a") == b"alpha"
    assert await read(world.objects, "reports", "copies/b") == b"bravo"
    copied = await world.objects.head_object("reports", "copies/a")
    assert copied.headers.tags == (("copied", "yes"),)
    assert (await world.objects.head_object("data", "a")).headers.tags == (("old", "1"),)
    # The role read the source and wrote the copy; each task audited as s3:PutObject.
    actions = [(action, where) for _, _, action, where in grants.asked]
    assert ("s3:GetObject", "data/a") in actions
    assert ("s3:PutObject", "reports/copies/a") in actions
    assert {e.action for e in world.events} == {"s3:PutObject"}


async def test_a_copy_keeps_the_tags_without_new_ones(world: World) -> None:
    await put(world.objects, "data", "a", b"alpha")
    await world.objects.set_object_tags("data", "a", (("old", "1"),))
    etag = await manifest(world, ["data,a"])
    await new_job(world, request(etag, operation=_COPY.format(tagging="")))
    await drain(world.runner())
    assert (await world.objects.head_object("reports", "copies/a")).headers.tags == (("old", "1"),)


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        (_COPY.format(tagging="<SSEAwsKmsKeyId>k</SSEAwsKmsKeyId>"), "NotImplemented"),
        (_COPY.replace("COPY<", "REPLACE<").format(tagging=""), "NotImplemented"),
        (
            _COPY.replace("arn:aws:s3:::reports", "reports").format(tagging=""),
            "BadRequestException",
        ),
        (_COPY.format(tagging="<StorageClass>GLACIER</StorageClass>"), "BadRequestException"),
    ],
)
def test_copy_requests_refused(operation: str, code: str) -> None:
    with pytest.raises(S3ControlError) as caught:
        parse_create(request("e", operation=operation))
    assert caught.value.code == code


async def test_list_jobs_pages_and_refuses_bad_tokens(world: World) -> None:
    for n in range(3):
        _, priority, document = parse_create(request("e"))
        await world.jobs.create(
            BatchJob(f"j{n}", "t1", f"tok{n}", JobStatus.NEW, priority, document, NOW)
        )
    first = ET.fromstring((await batch.list_jobs(world.jobs, "t1", "maxResults=2")).body)
    ids = [e.text for e in first.iter(f"{{{batch.NAMESPACE}}}JobId")]
    assert ids == ["j2", "j1"]
    next_token = first.findtext(f"{{{batch.NAMESPACE}}}NextToken")
    assert next_token
    rest = ET.fromstring(
        (await batch.list_jobs(world.jobs, "t1", f"maxResults=2&nextToken={next_token}")).body
    )
    assert [e.text for e in rest.iter(f"{{{batch.NAMESPACE}}}JobId")] == ["j0"]
    assert rest.findtext(f"{{{batch.NAMESPACE}}}NextToken") is None
    for query, code in [
        ("nextToken=%%%", "InvalidNextTokenException"),
        ("jobStatuses=Sleeping", "InvalidRequestException"),
        ("maxResults=0", "InvalidRequestException"),
    ]:
        with pytest.raises(S3ControlError) as caught:
            await batch.list_jobs(world.jobs, "t1", query)
        assert caught.value.code == code


async def test_update_job_status_moves_as_aws_allows(world: World) -> None:
    token, priority, document = parse_create(request("e"))
    await world.jobs.create(BatchJob("j", "t1", token, JobStatus.NEW, priority, document, NOW))
    with pytest.raises(S3ControlError) as caught:
        await batch.update_status(world.jobs, "t1", "j", "requestedJobStatus=Ready", NOW)
    assert caught.value.code == "JobStatusException"
    with pytest.raises(S3ControlError) as caught:
        await batch.update_status(world.jobs, "t1", "j", "requestedJobStatus=Active", NOW)
    assert caught.value.code == "BadRequestException"
    with pytest.raises(S3ControlError) as caught:
        await batch.update_status(world.jobs, "t2", "j", "requestedJobStatus=Cancelled", NOW)
    assert caught.value.code == "NotFoundException"
    await batch.update_status(world.jobs, "t1", "j", "requestedJobStatus=Cancelled", NOW)
    cancelled = await world.jobs.get("t1", "j")
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    with pytest.raises(S3ControlError) as caught:
        await batch.update_priority(world.jobs, "t1", "j", "priority=x")
    assert caught.value.code == "BadRequestException"
