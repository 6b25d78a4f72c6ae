"""A Batch Operations job's tags (decision 0152's addenda): PutJobTagging, GetJobTagging and
DeleteJobTagging on ``/v20180820/jobs/{id}/tagging``, AWS's bounds (at most 50 tags, keys of
1-128 characters, values of at most 256, each key once). CreateJob's ``Tags`` are the job's
first ones. Kept in the job's document (``BatchJobStore.set_tags``).
"""

from __future__ import annotations

from typing import cast
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.s3control.errors import S3ControlError
from andromede.s3control.job_operations import child, local, parse_tags, write_tags
from andromede.storage.batch_jobs import BatchJobStore

__all__ = ["MAX_JOB_TAGS", "delete_tags", "get_tags", "put_tags"]

MAX_JOB_TAGS = 50
_NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"


def _not_found(job_id: str) -> S3ControlError:
    return S3ControlError("NotFoundException", f"Job {job_id} was not found")


async def get_tags(jobs: BatchJobStore, account: str, job_id: str) -> Response:
    job = await jobs.get(account, job_id)
    if job is None:
        raise _not_found(job_id)
    xml = XmlWriter("GetJobTaggingResult", namespace=_NAMESPACE)
    write_tags(xml, "Tags", job.document.get("tags") or [])
    return Response(headers=[("Content-Type", "application/xml")], body=xml.document())


def parse_put(body: bytes) -> list[list[str]]:
    """A ``PutJobTaggingRequest``'s tags (MalformedXML, BadRequestException)."""
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise S3ControlError("MalformedXML") from exc
    if local(root.tag) != "PutJobTaggingRequest" or any(local(c.tag) != "Tags" for c in root):
        raise S3ControlError("MalformedXML")
    node = child(root, "Tags")
    if node is None:
        raise S3ControlError("BadRequestException", "Tags is required")
    return parse_tags(node, MAX_JOB_TAGS)


async def put_tags(jobs: BatchJobStore, account: str, job_id: str, body: bytes) -> Response:
    tags = parse_put(body)
    if not await jobs.set_tags(account, job_id, tags):
        raise _not_found(job_id)
    return Response()


async def delete_tags(jobs: BatchJobStore, account: str, job_id: str) -> Response:
    if not await jobs.set_tags(account, job_id, []):
        raise _not_found(job_id)
    return Response(status=204)
