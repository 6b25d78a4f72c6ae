"""Who pays for a request to a Requester Pays bucket (decision 0133), and when S3 refuses it.

On a bucket whose owner turned Requester Pays on, as on AWS ("Using Requester Pays buckets",
"Downloading objects from Requester Pays buckets"):
- an anonymous request is refused (403 AccessDenied), whatever a policy or ACL grants: there
  is nobody to bill;
- a request of another account (tenant) than the owner's, to an operation whose S3 API takes
  ``x-amz-request-payer``, must say ``requester`` in that header (or, for a presigned URL, in
  the query parameter of that name), else 403 AccessDenied; with it, the request goes on to
  the usual authorisation, and that account is billed for the request and the bytes it moves;
- the owner's own principals need no header and pay, as for any bucket.

The operations are those of S3's API model that take ``RequestPayer``: object reads and
writes, multipart uploads, object ACLs, tags, retention and holds, and the listings. A bucket's
configuration calls are the owner's (or granted by the owner's policy) and take no payer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.iam.model import Principal
from andromede.s3.errors import S3Error
from andromede.s3.operations import S3Operation
from andromede.storage.model import Bucket

__all__ = [
    "PAYER_OPERATIONS",
    "REQUEST_CHARGED_HEADER",
    "check_request_payer",
    "is_billed",
    "requester_charged",
]

REQUEST_CHARGED_HEADER: Final = ("x-amz-request-charged", "requester")
_PAYER: Final = "x-amz-request-payer"
_O = S3Operation
# The operations whose request takes x-amz-request-payer in S3's API model (botocore's
# service-2.json: the input shapes with a RequestPayer member) that this server has.
PAYER_OPERATIONS: Final = frozenset(
    {
        _O.AbortMultipartUpload,
        _O.CompleteMultipartUpload,
        _O.CopyObject,
        _O.CreateMultipartUpload,
        _O.DeleteObject,
        _O.DeleteObjects,
        _O.GetBucketAccelerateConfiguration,
        _O.GetObject,
        _O.GetObjectAcl,
        _O.GetObjectAttributes,
        _O.GetObjectLegalHold,
        _O.GetObjectRetention,
        _O.GetObjectTagging,
        _O.HeadObject,
        _O.ListMultipartUploads,
        _O.ListObjectVersions,
        _O.ListObjects,
        _O.ListObjectsV2,
        _O.ListParts,
        _O.PostObject,
        _O.PutObject,
        _O.PutObjectAcl,
        _O.PutObjectLegalHold,
        _O.PutObjectLockConfiguration,
        _O.PutObjectRetention,
        _O.PutObjectTagging,
        _O.UploadPart,
        _O.UploadPartCopy,
    }
)


def requester_charged(bucket: Bucket, principal: Principal, operation: S3Operation) -> bool:
    """Whether ``principal`` pays for ``operation`` on ``bucket`` rather than its owner: a
    Requester Pays bucket, an operation that takes a payer, a caller of another account."""
    return (
        bucket.requester_pays
        and operation in PAYER_OPERATIONS
        and principal.tenant_id is not None
        and principal.tenant_id != bucket.tenant_id
    )


def check_request_payer(
    bucket: Bucket,
    principal: Principal,
    operation: S3Operation,
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> bool:
    """AccessDenied for a request a Requester Pays ``bucket`` refuses: anonymous, or of another
    account without ``x-amz-request-payer: requester``. Returns whether the requester is charged
    (False for every bucket without Requester Pays, at the cost of one attribute read)."""
    if not bucket.requester_pays:
        return False
    if principal.is_anonymous:
        raise S3Error("AccessDenied", "Anonymous requests are refused by a Requester Pays bucket")
    if not requester_charged(bucket, principal, operation):
        return False
    payer = headers.get(_PAYER, query.get(_PAYER, ""))
    if payer.strip().lower() != "requester":
        raise S3Error(
            "AccessDenied",
            "This bucket is a Requester Pays bucket: send x-amz-request-payer: requester",
        )
    return True


def is_billed(status: int) -> bool:
    """Whether a request that ended with ``status`` counts as a request (decision 0108): not
    when refused (403), redirected to its region (301) or failed by the server (5xx)."""
    return status < 500 and status not in (301, 403)
