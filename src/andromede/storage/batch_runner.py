"""The S3 Batch Operations worker (decision 0152's addenda): in every ``serve``, a pass every
``batch_job_interval`` claims one job (``BatchJobStore.claim``: one gateway at a time) and
moves it one step — prepare a ``New`` job (its manifest or generator read a page at a time by
``batch_manifests``, one task per object), run the next ``batch_job_batch_size`` tasks of a
``Ready``/``Active`` one (each as ``batch_operations`` does it), end a ``Cancelling`` one —
then lets the lease go. Progress is recorded per batch, so a gateway
that restarts (or another, once the lease ran out) resumes at the first task without result.

A job acts as its role, as S3 does: its manifest, its tasks' objects and its report bucket must
be the account's buckets, and each access (``s3:GetObject`` of the manifest, the operation's
action on each object, ``s3:PutObject`` of the report) is decided by ``grants`` — the role
is the account's, trusts ``batchoperations.s3.amazonaws.com``, and its policies allow the
action (the policy engine replication's role goes through, decision 0112). Refused:
``AccessDenied``. Each task is reported (``on_task``) to be audited as the S3 action it
performs. The completion report (CSV per task status, then ``manifest.json``) is written into
the report bucket through the object service, sealed as every object.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from andromede.errors import AndromedeError
from andromede.storage.batch_jobs import (
    BatchJob,
    BatchJobStore,
    JobStatus,
    ManifestLine,
    TaskResult,
)
from andromede.storage.batch_manifests import ManifestReader, ManifestRefused
from andromede.storage.batch_operations import (
    OPERATION_ACTIONS,
    RoleRefused,
    TaskRefused,
    run_task,
)
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import ContentHeaders
from andromede.storage.replication import ReplicationGrants
from andromede.storage.replication_queue import ReplicationQueue
from andromede.storage.service import ObjectService

__all__ = [
    "OPERATION_ACTIONS",
    "BatchRunner",
    "TaskEvent",
    "bucket_of_arn",
    "split_object_arn",
]

_log = logging.getLogger(__name__)

_REPORT_PAGE: Final = 1000
REPORT_FORMAT: Final = "Report_CSV_20180820"
REPORT_SCHEMA: Final = (
    "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
)
# Storage's errors as the task's report names them (S3's codes and statuses).
_ERRORS: Final = {
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchVersion": 404,
    "DeleteMarkerFound": 405,
    "ObjectChanged": 409,
    "AccessDenied": 403,
    "ObjectLocked": 403,
    "RegionNotServed": 400,
    "EntityTooLarge": 400,
    "KeyTooLong": 400,
    "CustomerKeyRequired": 400,
}


@dataclass(frozen=True)
class TaskEvent:
    """One task done, for the audit trail."""

    job: BatchJob
    action: str
    line: ManifestLine
    result: TaskResult


def split_object_arn(arn: str) -> tuple[str, str] | None:
    """``arn:aws:s3:::bucket/key`` as (bucket, key); None if it is not one."""
    prefix = "arn:aws:s3:::"
    if not arn.startswith(prefix):
        return None
    bucket, sep, key = arn[len(prefix) :].partition("/")
    if not bucket or not sep or not key:
        return None
    return bucket, key


def bucket_of_arn(arn: str) -> str | None:
    """``arn:aws:s3:::bucket`` as its bucket; None if it is not one."""
    prefix = "arn:aws:s3:::"
    if not arn.startswith(prefix):
        return None
    bucket = arn[len(prefix) :]
    return bucket if bucket and "/" not in bucket else None


def _failure(code: str, reason: str) -> list[dict[str, str]]:
    return [{"FailureCode": code, "FailureReason": reason}]


class BatchRunner:
    def __init__(
        self,
        objects: ObjectService,
        jobs: BatchJobStore,
        *,
        interval: float,
        batch: int,
        max_tasks: int,
        lease: float,
        grants: ReplicationGrants | None = None,
        queue: ReplicationQueue | None = None,
        on_task: Callable[[TaskEvent], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._objects = objects
        self._jobs = jobs
        self._interval = interval
        self._batch = batch
        self._max_tasks = max_tasks
        self._lease = timedelta(seconds=lease)
        self._grants = grants
        self._queue = queue
        self._on_task = on_task
        self._clock = clock

    async def run_forever(self) -> None:
        while True:
            try:
                # Step while there is work, so a job is not paced by the interval.
                while await self.run_once():
                    pass
            except Exception:
                _log.exception("batch operations pass failed")
            await asyncio.sleep(self._interval)

    async def run_once(self) -> bool:
        """Claim one job and move it one step; False when no job had work to do."""
        job = await self._jobs.claim(self._clock(), self._lease)
        if job is None:
            return False
        try:
            if job.status is JobStatus.NEW:
                await self._prepare(job)
            elif job.status is JobStatus.CANCELLING:
                await self._finish(job, JobStatus.CANCELLING, JobStatus.CANCELLED)
            else:
                await self._step(job)
        finally:
            await self._jobs.release(job.job_id)
        return True

    async def _prepare(self, job: BatchJob) -> None:
        """The manifest's (or generator's) lines as the job's tasks, a page at a time; the
        generated manifest written if asked; then Suspended or Ready (Failed: refused)."""

        async def authorise(bucket: str, action: str, key: str) -> None:
            await self._own_bucket(job, bucket, action, key)

        reader = ManifestReader(self._objects, job, authorise, self._max_tasks)
        total = 0
        try:
            async for page in reader.pages():
                await self._jobs.add_tasks(job.job_id, page, first_seq=total)
                total += len(page)
            await self._write_generated(job, reader)
        except ManifestRefused as exc:
            await self._jobs.transition(
                job.job_id, [JobStatus.NEW], JobStatus.FAILED, now=self._clock(),
                failures=_failure(exc.code, exc.reason),
            )  # fmt: skip
            return
        waiting = bool(job.document.get("confirmation_required"))
        await self._jobs.transition(
            job.job_id,
            [JobStatus.NEW],
            JobStatus.SUSPENDED if waiting else JobStatus.READY,
            now=self._clock(),
            reason="AwaitingConfirmation" if waiting else None,
            total_tasks=total,
        )

    async def _write_generated(self, job: BatchJob, reader: ManifestReader) -> None:
        output = reader.output()
        if output is None:
            return
        data, manifest = output
        bucket_name = bucket_of_arn(job.document["manifest"]["generator"]["output"]["bucket"])
        base, data_key = reader.output_keys()
        try:
            await self._own_bucket(job, bucket_name or "", "s3:PutObject", f"{base}/*")
            bucket = await self._objects.get_bucket(bucket_name or "")
            owner, tenant = bucket.owner_id, bucket.tenant_id
            await self._put(bucket.name, owner, tenant, data_key, data, "application/gzip")
            await self._put(
                bucket.name, owner, tenant, f"{base}/manifest.json", manifest, "application/json"
            )
        except AndromedeError as exc:
            code = "AccessDenied" if isinstance(exc, RoleRefused) else type(exc).__name__
            raise ManifestRefused(code, f"The generated manifest was not written: {code}") from exc

    async def _own_bucket(self, job: BatchJob, name: str, action: str, key: str) -> None:
        bucket = await self._objects.get_bucket(name)
        if bucket.tenant_id != job.tenant_id:
            raise RoleRefused(name)
        if self._grants is not None and not await self._grants.allows(
            job.document.get("role_arn"), job.tenant_id, bucket, action, key
        ):
            raise RoleRefused(f"{job.document.get('role_arn')} may not {action} {name}/{key}")

    async def _step(self, job: BatchJob) -> None:
        if job.status is JobStatus.READY and not await self._jobs.transition(
            job.job_id, [JobStatus.READY], JobStatus.ACTIVE, now=self._clock()
        ):
            return
        pending = await self._jobs.pending_tasks(job.job_id, self._batch)
        if not pending:
            await self._finish(job, JobStatus.ACTIVE, JobStatus.COMPLETE)
            return
        action = OPERATION_ACTIONS[job.document["operation"]["name"]]
        results = []
        for seq, line in pending:
            result = await self._task(job, seq, line)
            results.append(result)
            if self._on_task is not None:
                self._on_task(TaskEvent(job, action, line, result))
        await self._jobs.record(job.job_id, results)

    async def _task(self, job: BatchJob, seq: int, line: ManifestLine) -> TaskResult:
        async def authorise(bucket: str, action: str, key: str) -> None:
            await self._own_bucket(job, bucket, action, key)

        try:
            await run_task(
                self._objects, job, line, authorise, queue=self._queue, now=self._clock()
            )
        except TaskRefused as exc:
            return TaskResult(seq, "failed", exc.code, exc.status, str(exc))
        except AndromedeError as exc:
            code = "AccessDenied" if isinstance(exc, RoleRefused) else type(exc).__name__
            status = _ERRORS.get(code)
            if status is None:
                _log.warning("batch job %s task %d: %s", job.job_id, seq, exc)
                return TaskResult(seq, "failed", "InternalError", 500, "Internal error")
            return TaskResult(seq, "failed", code, status, str(exc) or code)
        return TaskResult(seq, "succeeded", None, 200, "Successful")

    async def _finish(self, job: BatchJob, current: JobStatus, to: JobStatus) -> None:
        now = self._clock()
        failures = None
        report = job.document.get("report") or {}
        if report.get("enabled"):
            try:
                await self._write_report(job, report, now)
            except AndromedeError as exc:
                _log.warning("batch job %s: report not written: %s", job.job_id, exc)
                failures = _failure(
                    "ReportNotWritten", f"The completion report could not be written: {exc}"
                )
                to = JobStatus.FAILED
        await self._jobs.transition(job.job_id, [current], to, now=now, failures=failures)

    async def _write_report(self, job: BatchJob, report: dict[str, str], now: datetime) -> None:
        bucket_name = bucket_of_arn(report["bucket"]) or ""
        prefix = report.get("prefix") or ""
        base = f"{prefix.rstrip('/')}/job-{job.job_id}" if prefix else f"job-{job.job_id}"
        await self._own_bucket(job, bucket_name, "s3:PutObject", f"{base}/*")
        bucket = await self._objects.get_bucket(bucket_name)
        failed_only = report.get("scope") == "FailedTasksOnly"
        files: dict[str, io.StringIO] = {}
        after = -1
        while True:
            page = await self._jobs.results(
                job.job_id, failed_only=failed_only, after=after, limit=_REPORT_PAGE
            )
            if not page:
                break
            for line, result in page:
                out = files.setdefault(result.status, io.StringIO())
                csv.writer(out, lineterminator="\n").writerow(
                    [
                        line.bucket,
                        line.key,
                        line.version_id or "",
                        result.status,
                        result.error_code or "",
                        str(result.http_status),
                        result.message,
                    ]
                )
                after = result.seq
        results = []
        for status, out in sorted(files.items()):
            key = f"{base}/results/{uuid.uuid4()}.csv"
            data = out.getvalue().encode()
            await self._put(bucket.name, bucket.owner_id, bucket.tenant_id, key, data, "text/csv")
            results.append(
                {
                    "TaskExecutionStatus": status,
                    "Bucket": bucket.name,
                    "MD5Checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                    "Key": key,
                }
            )
        manifest = {
            "Format": REPORT_FORMAT,
            "ReportCreationDate": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "Results": results,
            "ReportSchema": REPORT_SCHEMA,
        }
        await self._put(
            bucket.name, bucket.owner_id, bucket.tenant_id, f"{base}/manifest.json",
            json.dumps(manifest).encode(), "application/json",
        )  # fmt: skip

    async def _put(
        self, bucket: str, owner: str, tenant: str, key: str, data: bytes, content_type: str
    ) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield data

        await self._objects.put_object(
            bucket,
            key,
            body(),
            size=len(data),
            headers=ContentHeaders(content_type=content_type),
            owner_id=owner,
            integrity=BodyIntegrity(),
            encryption=ObjectEncryption(tenant_id=tenant),
        )
