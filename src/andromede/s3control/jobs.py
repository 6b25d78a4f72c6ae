"""S3 Batch Operations on the S3 Control API (decision 0152's addendum): CreateJob,
DescribeJob, ListJobs, UpdateJobPriority and UpdateJobStatus — parse, call the job store,
serialise. The work itself is the worker's (``storage/batch_runner.py``).
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
from andromede.storage.batch_jobs import BatchJob, BatchJobStore, IdempotencyConflict, JobStatus
from andromede.storage.batch_runner import (
    MANIFEST_FORMAT,
    OPERATION_ACTIONS,
    REPORT_FORMAT,
    bucket_of_arn,
    split_object_arn,
)

__all__ = ["create_job", "describe_job", "list_jobs", "update_priority", "update_status"]

NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
_FIELDS = (["Bucket", "Key"], ["Bucket", "Key", "VersionId"])
_MAX_PRIORITY = 2147483647
_MAX_TAGS = 10
_LIST_MAX = 1000


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _bad(message: str) -> S3ControlError:
    return S3ControlError("BadRequestException", message)


def _child(parent: Element, name: str) -> Element | None:
    for child in parent:
        if _local(child.tag) == name:
            return child
    return None


def _text(parent: Element, name: str, *, required: bool = False) -> str | None:
    child = _child(parent, name)
    if child is None or not (child.text or "").strip():
        if required:
            raise _bad(f"{name} is required")
        return None
    return (child.text or "").strip()


def _bool(parent: Element, name: str) -> bool:
    value = (_text(parent, name) or "false").lower()
    if value not in ("true", "false"):
        raise S3ControlError("MalformedXML")
    return value == "true"


def _priority(value: str | None) -> int:
    try:
        priority = int(value or "")
    except ValueError as exc:
        raise _bad("Priority must be an integer from 0 to 2147483647") from exc
    if not 0 <= priority <= _MAX_PRIORITY:
        raise _bad("Priority must be an integer from 0 to 2147483647")
    return priority


def parse_create(body: bytes) -> tuple[str, int, dict[str, Any]]:
    """A ``CreateJobRequest`` as (client token, priority, the job's document)."""
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise S3ControlError("MalformedXML") from exc
    if _local(root.tag) != "CreateJobRequest":
        raise S3ControlError("MalformedXML")
    _refuse_unserved(root)
    token = _text(root, "ClientRequestToken", required=True) or ""
    if len(token) > 64:
        raise _bad("ClientRequestToken is at most 64 characters")
    priority = _priority(_text(root, "Priority", required=True))
    role = _text(root, "RoleArn", required=True) or ""
    description = _text(root, "Description")
    if description is not None and len(description) > 256:
        raise _bad("Description is at most 256 characters")
    return (
        token,
        priority,
        {
            "confirmation_required": _bool(root, "ConfirmationRequired"),
            "description": description,
            "role_arn": role,
            "manifest": _manifest(_child(root, "Manifest")),
            "operation": _operation(_child(root, "Operation")),
            "report": _report(_child(root, "Report")),
        },
    )


_CREATE_JOB_ELEMENTS = frozenset(
    {
        "ClientRequestToken",
        "ConfirmationRequired",
        "Description",
        "Manifest",
        "Operation",
        "Priority",
        "Report",
        "RoleArn",
    }
)
# What AWS takes and the platform does not do yet: refused, never dropped (decision 0058).
_UNSERVED_CREATE_JOB_ELEMENTS = frozenset({"Tags", "ManifestGenerator"})


def _refuse_unserved(root: Element) -> None:
    """A CreateJob naming job tags or a manifest generator is refused with NotImplemented, an
    element CreateJob does not have with MalformedXML: a job never runs without what was
    asked of it."""
    for child in root:
        name = _local(child.tag)
        if name in _UNSERVED_CREATE_JOB_ELEMENTS:
            raise S3ControlError("NotImplemented", f"CreateJob's {name} is not supported")
        if name not in _CREATE_JOB_ELEMENTS:
            raise S3ControlError("MalformedXML")


def _manifest(node: Element | None) -> dict[str, Any]:
    if node is None:
        raise _bad("Manifest is required")
    spec = _child(node, "Spec")
    location = _child(node, "Location")
    if spec is None or location is None:
        raise _bad("Manifest needs a Spec and a Location")
    if _text(spec, "Format", required=True) != MANIFEST_FORMAT:
        raise _bad(f"Only the {MANIFEST_FORMAT} manifest format is supported")
    fields_node = _child(spec, "Fields")
    fields = [] if fields_node is None else [(f.text or "").strip() for f in fields_node]
    if fields not in _FIELDS:
        raise _bad("Fields must be Bucket,Key or Bucket,Key,VersionId")
    arn = _text(location, "ObjectArn", required=True) or ""
    if split_object_arn(arn) is None:
        raise _bad("ObjectArn must be an object's ARN (arn:aws:s3:::bucket/key)")
    return {
        "format": MANIFEST_FORMAT,
        "fields": fields,
        "object_arn": arn,
        "version_id": _text(location, "ObjectVersionId"),
        "etag": _text(location, "ETag", required=True),
    }


def _operation(node: Element | None) -> dict[str, Any]:
    chosen = [] if node is None else list(node)
    if len(chosen) != 1:
        raise _bad("Operation must name exactly one operation")
    name = _local(chosen[0].tag)
    if name not in OPERATION_ACTIONS:
        raise S3ControlError("NotImplemented", f"The {name} operation is not supported")
    operation: dict[str, Any] = {"name": name}
    if name == "S3PutObjectTagging":
        tag_set = _child(chosen[0], "TagSet")
        operation["tags"] = [] if tag_set is None else _tags(tag_set)
    if name == "S3PutObjectCopy":
        operation.update(_copy(chosen[0]))
    return operation


# S3PutObjectCopy's elements served; any other (ACLs, new metadata, Object Lock, SSE-KMS,
# conditions, redirects…) is refused rather than silently ignored.
_COPY_SERVED = {"TargetResource", "TargetKeyPrefix", "MetadataDirective", "NewObjectTagging",
                "StorageClass"}  # fmt: skip


def _copy(node: Element) -> dict[str, Any]:
    for child in node:
        if _local(child.tag) not in _COPY_SERVED:
            raise S3ControlError(
                "NotImplemented", f"S3PutObjectCopy's {_local(child.tag)} is not supported"
            )
    target = _text(node, "TargetResource", required=True) or ""
    if bucket_of_arn(target) is None:
        raise _bad("TargetResource must be a bucket's ARN (arn:aws:s3:::bucket)")
    if (_text(node, "MetadataDirective") or "COPY") != "COPY":
        raise S3ControlError("NotImplemented", "Only the COPY metadata directive is supported")
    if (_text(node, "StorageClass") or "STANDARD") != "STANDARD":
        raise _bad("Only the STANDARD storage class is served")
    prefix = _text(node, "TargetKeyPrefix")
    tags_node = _child(node, "NewObjectTagging")
    tags = None if tags_node is None else _tags(tags_node)
    return {"target": target, "prefix": prefix, "tags": tags}


def _tags(tag_set: Element) -> list[list[str]]:
    tags = []
    for tag in tag_set:
        key = _text(tag, "Key", required=True) or ""
        value_node = _child(tag, "Value")
        value = "" if value_node is None else (value_node.text or "")
        if len(key) > 128 or len(value) > 256:
            raise _bad("A tag's key is at most 128 characters, its value 256")
        tags.append([key, value])
    if len(tags) > _MAX_TAGS or len({k for k, _ in tags}) != len(tags):
        raise _bad("At most 10 tags, each key once")
    return tags


def _report(node: Element | None) -> dict[str, Any]:
    if node is None:
        raise _bad("Report is required")
    enabled = _bool(node, "Enabled")
    if not enabled:
        return {"enabled": False}
    bucket = _text(node, "Bucket", required=True) or ""
    if bucket_of_arn(bucket) is None:
        raise _bad("The report's Bucket must be a bucket's ARN (arn:aws:s3:::bucket)")
    if _text(node, "Format", required=True) != REPORT_FORMAT:
        raise _bad(f"Only the {REPORT_FORMAT} report format is supported")
    scope = _text(node, "ReportScope") or "AllTasks"
    if scope not in ("AllTasks", "FailedTasksOnly"):
        raise _bad("ReportScope must be AllTasks or FailedTasksOnly")
    return {
        "enabled": True,
        "bucket": bucket,
        "format": REPORT_FORMAT,
        "prefix": _text(node, "Prefix"),
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
    manifest = d["manifest"]
    xml.open("Manifest")
    xml.open("Spec")
    xml.element("Format", manifest["format"])
    xml.open("Fields")
    xml.elements("member", manifest["fields"])
    xml.close("Fields")
    xml.close("Spec")
    xml.open("Location")
    xml.element("ObjectArn", manifest["object_arn"])
    if manifest.get("version_id"):
        xml.element("ObjectVersionId", manifest["version_id"])
    xml.element("ETag", manifest["etag"])
    xml.close("Location")
    xml.close("Manifest")
    operation = d["operation"]
    xml.open("Operation")
    xml.open(operation["name"])
    if operation["name"] == "S3PutObjectTagging":
        xml.open("TagSet")
        for key, value in operation["tags"]:
            xml.open("member")
            xml.element("Key", key)
            xml.element("Value", value)
            xml.close("member")
        xml.close("TagSet")
    if operation["name"] == "S3PutObjectCopy":
        xml.element("TargetResource", operation["target"])
        xml.element("TargetKeyPrefix", operation.get("prefix"))
        xml.element("MetadataDirective", "COPY")
        if operation.get("tags") is not None:
            xml.open("NewObjectTagging")
            for key, value in operation["tags"]:
                xml.open("member")
                xml.element("Key", key)
                xml.element("Value", value)
                xml.close("member")
            xml.close("NewObjectTagging")
    xml.close(operation["name"])
    xml.close("Operation")
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
        raise _bad("RequestedJobStatus must be Ready or Cancelled")
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
