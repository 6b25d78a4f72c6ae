"""The condition keys S3 puts in a Batch Operations call's request context (decision 0152's
second addendum), as AWS's service authorization reference lists them:

- CreateJob: ``s3:RequestJobPriority``, ``s3:RequestJobOperation``, and the job tags asked
  (``aws:RequestTag/<key>``, ``aws:TagKeys``);
- UpdateJobPriority: ``s3:RequestJobPriority``, and the job's ``s3:ExistingJobPriority`` and
  ``s3:ExistingJobOperation``;
- UpdateJobStatus, DeleteJobTagging: the job's two; PutJobTagging: those and the tags asked.

Read leniently: a body or job that cannot be read gives no key (the call's own handler then
answers its error, once the caller is allowed to learn it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.iam.policy.context import ContextValue
from andromede.s3control.errors import S3ControlError
from andromede.s3control.job_operations import child, local
from andromede.s3control.jobs import parse_create
from andromede.s3control.operations import S3ControlOperation
from andromede.storage.batch_jobs import BatchJobStore

__all__ = ["job_condition_keys"]

_O = S3ControlOperation
_EXISTING = frozenset(
    {_O.UpdateJobPriority, _O.UpdateJobStatus, _O.PutJobTagging, _O.DeleteJobTagging}
)


def _tag_keys(tags: Sequence[Sequence[str]]) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in tags}
    keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys


def _put_tags(body: bytes) -> list[list[str]]:
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError):
        return []  # unreadable: no key, and the handler refuses the body
        return []
    node = child(root, "Tags")
    if node is None:
        return []
    tags = []
    for member in node:
        key = child(member, "Key")
        value = child(member, "Value")
        if key is not None and local(member.tag) == "member":
            tags.append([(key.text or "").strip(), "" if value is None else (value.text or "")])
    return tags


async def job_condition_keys(
    operation: S3ControlOperation,
    jobs: BatchJobStore,
    account: str,
    job_id: str,
    body: bytes,
    query: str,
) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {}
    if operation is _O.CreateJob:
        try:
            _, priority, document = parse_create(body)
        except S3ControlError:
            return keys
        keys["s3:RequestJobPriority"] = priority
        keys["s3:RequestJobOperation"] = document["operation"]["name"]
        if document.get("tags"):
            keys.update(_tag_keys(document["tags"]))
        return keys
    if operation not in _EXISTING:
        return keys
    if operation is _O.UpdateJobPriority:
        asked = parse_qs(query).get("priority")
        if asked and asked[0].isdigit():
            keys["s3:RequestJobPriority"] = int(asked[0])
    if operation is _O.PutJobTagging:
        tags = _put_tags(body)
        if tags:
            keys.update(_tag_keys(tags))
    job = await jobs.get(account, job_id) if job_id else None
    if job is not None:
        keys["s3:ExistingJobPriority"] = job.priority
        keys["s3:ExistingJobOperation"] = job.document["operation"]["name"]
    return keys
