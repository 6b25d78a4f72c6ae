"""S3 Batch Operations on the S3 Control API (decision 0152's addenda): CreateJob,
DescribeJob, ListJobs, UpdateJobPriority and UpdateJobStatus — parse, call the job store,
serialise. The operation's shape is ``job_operations``', the manifest's ``job_manifests``',
job tags ``job_tags``'. The work itself is the worker's (``storage/batch_runner.py``).
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any, cast
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.s3control.errors import S3ControlError
from andromede.s3control.job_manifests import parse_generator, parse_manifest, write_manifest
from andromede.s3control.job_operations import (
    bad,
    child,
    local,
    parse_operation,
    parse_tags,
    text,
    write_operation,
)
from andromede.s3control.job_tags import MAX_JOB_TAGS
from andromede.storage.batch_jobs import BatchJob, BatchJobStore, IdempotencyConflict, JobStatus
from andromede.storage.batch_runner import REPORT_FORMAT, bucket_of_arn

__all__ = ["create_job", "describe_job", "list_jobs", "update_priority", "update_status"]

NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
_MAX_PRIORITY = 2147483647
_LIST_MAX = 1000


def _bool(parent: Element, name: str) -> bool:
    value = (text(parent, name) or "false").lower()
    if value not in ("true", "false"):
        raise S3ControlError("MalformedXML")
    return value == "true"


def _priority(value: str | None) -> int:
    try:
        priority = int(value or "")
    except ValueError as exc:
        raise bad("Priority must be an integer from 0 to 2147483647") from exc
    if not 0 <= priority <= _MAX_PRIORITY:
        raise bad("Priority must be an integer from 0 to 2147483647")
    return priority


def parse_create(body: bytes) -> tuple[str, int, dict[str, Any]]:
    """A ``CreateJobRequest`` as (client token, priority, the job's document)."""
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise S3ControlError("MalformedXML") from exc
    if local(root.tag) != "CreateJobRequest":
        raise S3ControlError("MalformedXML")
    _refuse_unknown(root)
    token = text(root, "ClientRequestToken", required=True) or ""
    if len(token) > 64:
        raise bad("ClientRequestToken is at most 64 characters")
    priority = _priority(text(root, "Priority", required=True))
    role = text(root, "RoleArn", required=True) or ""
    tags = child(root, "Tags")
    description = text(root, "Description")
    if description is not None and len(description) > 256:
        raise bad("Description is at most 256 characters")
    return (
        token,
        priority,
        {
            "confirmation_required": _bool(root, "ConfirmationRequired"),
            "description": description,
            "role_arn": role,
            "manifest": _manifest(root),
            "tags": [] if tags is None else parse_tags(tags, MAX_JOB_TAGS),
            "operation": parse_operation(child(root, "Operation")),
            "report": _report(child(root, "Report")),
        },
    )


_CREATE_JOB_ELEMENTS = frozenset(
    {
        "ClientRequestToken",
        "ConfirmationRequired",
        "Description",
        "Manifest",
        "ManifestGenerator",
        "Operation",
        "Priority",
        "Report",
        "RoleArn",
        "Tags",
    }
)


def _refuse_unknown(root: Element) -> None:
    """An element CreateJob does not have is MalformedXML: a job never runs without what
    was asked of it (decision 0058)."""
    for element in root:
        if local(element.tag) not in _CREATE_JOB_ELEMENTS:
            raise S3ControlError("MalformedXML")


def _manifest(root: Element) -> dict[str, Any]:
    """The job's ``Manifest``, or its ``ManifestGenerator`` (as ``generator``): one of them."""
    manifest = child(root, "Manifest")
    generator = child(root, "ManifestGenerator")
    if manifest is not None and generator is None:
        return parse_manifest(manifest)
    if generator is None or manifest is not None:
        raise bad("Give either a Manifest or a ManifestGenerator")
    return {"generator": parse_generator(generator)}


def _report(node: Element | None) -> dict[str, Any]:
    if node is None:
        raise bad("Report is required")
    enabled = _bool(node, "Enabled")
    if not enabled:
        return {"enabled": False}
    bucket = text(node, "Bucket", required=True) or ""
    if bucket_of_arn(bucket) is None:
        raise bad("The report's Bucket must be a bucket's ARN (arn:aws:s3:::bucket)")
    if text(node, "Format", required=True) != REPORT_FORMAT:
        raise bad(f"Only the {REPORT_FORMAT} report format is supported")
    scope = text(node, "ReportScope") or "AllTasks"
    if scope not in ("AllTasks", "FailedTasksOnly"):
        raise bad("ReportScope must be AllTasks or FailedTasksOnly")
    return {
        "enabled": True,
        "bucket": bucket,
        "format": REPORT_FORMAT,
        "prefix": text(node, "Prefix"),
        "scope": scope,
    }


def _xml(root: str) -> XmlWriter:
    return XmlWriter(root, namespace=NAMESPACE)


def _answer(xml: XmlWriter) -> Response:
    return Response(headers=[("Content-Type", "application/xml")], body=xml.document())


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def create_job(jobs: BatchJobStore, account: str, body: bytes, now: datetime) -> Response:
    token, priority, document = parse_create(body)
    job = BatchJob(
        job_id=str(uuid.uuid4()),
        tenant_id=account,
        client_token=token,
        status=JobStatus.NEW,
        priority=priority,
        document=document,
        created_at=now,
    )
    try:
        stored = await jobs.create(job)
    except IdempotencyConflict as exc:
        raise S3ControlError("IdempotencyException") from exc
    xml = _xml("CreateJobResult")
    xml.element("JobId", stored.job_id)
    return _answer(xml)


async def _job(jobs: BatchJobStore, account: str, job_id: str) -> BatchJob:
    job = await jobs.get(account, job_id)
    if job is None:
        raise S3ControlError("NotFoundException", f"Job {job_id} was not found")
    return job


async def describe_job(jobs: BatchJobStore, account: str, region: str, job_id: str) -> Response:
    job = await _job(jobs, account, job_id)
    d = job.document
    xml = _xml("DescribeJobResult")
    xml.open("Job")
    xml.element("JobId", job.job_id)
    xml.element("ConfirmationRequired", bool(d["confirmation_required"]))
    if d.get("description"):
        xml.element("Description", d["description"])
    xml.element("JobArn", f"arn:aws:s3:{region}:{account}:job/{job.job_id}")
    xml.element("Status", job.status.value)
    write_manifest(xml, d["manifest"])
    write_operation(xml, d["operation"])
    xml.element("Priority", job.priority)
    xml.open("ProgressSummary")
    xml.element("TotalNumberOfTasks", job.total_tasks or 0)
    xml.element("NumberOfTasksSucceeded", job.succeeded)
    xml.element("NumberOfTasksFailed", job.failed)
    xml.close("ProgressSummary")
    if job.status_update_reason:
        xml.element("StatusUpdateReason", job.status_update_reason)
    if job.failure_reasons:
        xml.open("FailureReasons")
        for failure in job.failure_reasons:
            xml.open("member")
            xml.element("FailureCode", failure["FailureCode"])
            xml.element("FailureReason", failure["FailureReason"])
            xml.close("member")
        xml.close("FailureReasons")
    report = d["report"]
    xml.open("Report")
    if report.get("enabled"):
        xml.element("Bucket", report["bucket"])
        xml.element("Format", report["format"])
    xml.element("Enabled", bool(report.get("enabled")))
    if report.get("prefix"):
        xml.element("Prefix", report["prefix"])
    if report.get("enabled"):
        xml.element("ReportScope", report["scope"])
    xml.close("Report")
    xml.element("CreationTime", _time(job.created_at))
    if job.terminated_at is not None:
        xml.element("TerminationDate", _time(job.terminated_at))
    xml.element("RoleArn", d["role_arn"])
    xml.close("Job")
    return _answer(xml)


def _token(job: BatchJob) -> str:
    marker = f"{job.created_at.isoformat()}|{job.job_id}"
    return base64.urlsafe_b64encode(marker.encode()).decode()


def _marker(token: str) -> tuple[datetime, str]:
    try:
        created, job_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), job_id
    except (ValueError, UnicodeError) as exc:
        raise S3ControlError("InvalidNextTokenException") from exc


async def list_jobs(jobs: BatchJobStore, account: str, query: str) -> Response:
    params = parse_qs(query, keep_blank_values=True)
    try:
        statuses = [JobStatus(s) for s in params.get("jobStatuses", [])]
    except ValueError as exc:
        raise S3ControlError("InvalidRequestException", "Unknown job status") from exc
    try:
        limit = int(params.get("maxResults", [str(_LIST_MAX)])[0])
    except ValueError as exc:
        raise S3ControlError("InvalidRequestException", "maxResults must be a number") from exc
    if not 1 <= limit <= _LIST_MAX:
        raise S3ControlError("InvalidRequestException", "maxResults is from 1 to 1000")
    token = params.get("nextToken", [""])[0]
    after = _marker(token) if token else None
    page = await jobs.list_jobs(account, statuses, after=after, limit=limit + 1)
    xml = _xml("ListJobsResult")
    if len(page) > limit:
        page = page[:limit]
        xml.element("NextToken", _token(page[-1]))
    xml.open("Jobs")
    for job in page:
        xml.open("member")
        xml.element("JobId", job.job_id)
        if job.document.get("description"):
            xml.element("Description", job.document["description"])
        xml.element("Operation", job.document["operation"]["name"])
        xml.element("Priority", job.priority)
        xml.element("Status", job.status.value)
        xml.element("CreationTime", _time(job.created_at))
        if job.terminated_at is not None:
            xml.element("TerminationDate", _time(job.terminated_at))
        xml.open("ProgressSummary")
        xml.element("TotalNumberOfTasks", job.total_tasks or 0)
        xml.element("NumberOfTasksSucceeded", job.succeeded)
        xml.element("NumberOfTasksFailed", job.failed)
        xml.close("ProgressSummary")
        xml.close("member")
    xml.close("Jobs")
    return _answer(xml)


async def update_priority(jobs: BatchJobStore, account: str, job_id: str, query: str) -> Response:
    values = parse_qs(query).get("priority")
    priority = _priority(values[0] if values else None)
    await _job(jobs, account, job_id)
    await jobs.set_priority(account, job_id, priority)
    xml = _xml("UpdateJobPriorityResult")
    xml.element("JobId", job_id)
    xml.element("Priority", priority)
    return _answer(xml)


# RequestedJobStatus → the statuses it may be asked from, and the status it leads to.
_REQUESTS = {
    "Ready": ([JobStatus.SUSPENDED], JobStatus.READY),
    "Cancelled": (
        [JobStatus.NEW, JobStatus.SUSPENDED, JobStatus.READY],
        JobStatus.CANCELLED,
    ),
}


async def update_status(
    jobs: BatchJobStore, account: str, job_id: str, query: str, now: datetime
) -> Response:
    params = parse_qs(query)
    requested = (params.get("requestedJobStatus") or [""])[0]
    reasons = params.get("statusUpdateReason")
    reason = reasons[0] if reasons else None
    if requested not in _REQUESTS:
        raise bad("RequestedJobStatus must be Ready or Cancelled")
    job = await _job(jobs, account, job_id)
    allowed, to = _REQUESTS[requested]
    done = await jobs.transition(job_id, allowed, to, now=now, reason=reason)
    if not done and requested == "Cancelled":
        # A running job is cancelled by its worker, which writes the report first.
        to = JobStatus.CANCELLING
        done = await jobs.transition(job_id, [JobStatus.ACTIVE], to, now=now, reason=reason)
    if not done:
        raise S3ControlError(
            "JobStatusException",
            f"A job in status {job.status.value} cannot be moved to {requested}",
        )
    xml = _xml("UpdateJobStatusResult")
    xml.element("JobId", job_id)
    xml.element("Status", to.value)
    if reason:
        xml.element("StatusUpdateReason", reason)
    return _answer(xml)
