"""S3's events as EventBridge receives them (decision 0192's session 48 addendum): a bucket
with an ``EventBridgeConfiguration`` queues its events as the other destinations' (S3's
``Records`` JSON, decision 0132), and each record becomes, here, the event S3 sends its
owner's default bus, in AWS's shape ("Amazon S3 Event Notifications with EventBridge"):
``source`` ``aws.s3``, the bucket's ARN the resource, ``detail-type`` by the record's family
("Object Created", "Object Deleted", "Object Tags Added", "Object Tags Deleted", "Object ACL
Updated") and ``detail`` with the bucket's name, the object's key (not URL-encoded, unlike
the records'), size, ETag, version id and sequencer, the request id, requester, source IP
address and the reason (the S3 operation, or "Lifecycle Expiration"). Pure: no I/O.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote_plus

from andromede.events.model import event_envelope

__all__ = ["s3_bus_events"]

# eventName → (detail-type, reason, deletion-type).
_KINDS: Final[dict[str, tuple[str, str, str | None]]] = {
    "ObjectCreated:Put": ("Object Created", "PutObject", None),
    "ObjectCreated:Post": ("Object Created", "POST Object", None),
    "ObjectCreated:Copy": ("Object Created", "CopyObject", None),
    "ObjectCreated:CompleteMultipartUpload": (
        "Object Created",
        "CompleteMultipartUpload",
        None,
    ),
    "ObjectRemoved:Delete": ("Object Deleted", "DeleteObject", "Permanently Deleted"),
    "ObjectRemoved:DeleteMarkerCreated": (
        "Object Deleted",
        "DeleteObject",
        "Delete Marker Created",
    ),
    "LifecycleExpiration:Delete": (
        "Object Deleted",
        "Lifecycle Expiration",
        "Permanently Deleted",
    ),
    "LifecycleExpiration:DeleteMarkerCreated": (
        "Object Deleted",
        "Lifecycle Expiration",
        "Delete Marker Created",
    ),
    "ObjectTagging:Put": ("Object Tags Added", "PutObjectTagging", None),
    "ObjectTagging:Delete": ("Object Tags Deleted", "DeleteObjectTagging", None),
    "ObjectAcl:Put": ("Object ACL Updated", "PutObjectAcl", None),
}


def s3_bus_events(account: str, records: Any) -> list[dict[str, Any]]:
    """The bus events of an S3 ``Records`` message of ``account``'s bucket; a record of a
    kind EventBridge is not sent (S3's test event, which has no ``Records``) gives none."""
    if not isinstance(records, dict) or not isinstance(records.get("Records"), list):
        return []
    events = []
    for record in records["Records"]:
        kind = _KINDS.get(str(record.get("eventName")))
        if kind is None:
            continue
        detail_type, reason, deletion = kind
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        given = s3["object"]
        obj: dict[str, Any] = {"key": unquote_plus(given["key"])}
        for member, name in (
            ("size", "size"),
            ("eTag", "etag"),
            ("versionId", "version-id"),
            ("sequencer", "sequencer"),
        ):
            if given.get(member) is not None:
                obj[name] = given[member]
        detail: dict[str, Any] = {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": record.get("responseElements", {}).get("x-amz-request-id", ""),
            "requester": record.get("userIdentity", {}).get("principalId", ""),
            "source-ip-address": record.get("requestParameters", {}).get("sourceIPAddress", ""),
            "reason": reason,
        }
        if deletion is not None:
            detail["deletion-type"] = deletion
        events.append(
            event_envelope(
                event_id=str(uuid.uuid4()),
                detail_type=detail_type,
                source="aws.s3",
                account=account,
                moment=_moment(str(record.get("eventTime", ""))),
                region=str(record.get("awsRegion", "")),
                resources=[f"arn:aws:s3:::{bucket}"],
                detail=detail,
            )
        )
    return events


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    # EventBridge's time is to the second.
    return moment.replace(microsecond=0)
