"""What an Object Lambda access point does with a request its configuration does not
transform (decision 0399): AWS answers it from the supporting access point, "all other
requests are processed as normal". The operations it lets through are the object operations
of access points but POST Object and SelectObjectContent (AWS's best practices), each
judged on the Object Lambda access point by its ``s3-object-lambda:`` action (its policy,
the caller's), then answered by the
S3 API through the supporting access point's alias as the same caller — so that access
point's policy, the bucket's and the caller's judge the ``s3:`` action, as on AWS.

The S3 API is reached in process (``SupportingS3``, given by the wiring): its router names
the operation, and the request goes on with its body and the caller's verified signature
(an aws-chunked body's chunks are checked against it) under
:data:`~andromede.http.asgi.TRUSTED_PRINCIPAL_SCOPE_KEY`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol
from urllib.parse import unquote

from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY
from andromede.http.response import Receive, Scope, Send
from andromede.iam.authn import Authenticated

__all__ = [
    "ANSWERED_WITHOUT_ACTION",
    "OBJECT_LAMBDA_ACTIONS",
    "SupportingS3",
    "forwarded_scope",
    "object_lambda_action",
]

# S3 operation → the ``s3-object-lambda:`` action it needs on the Object Lambda access point
# (AWS's Service Authorization Reference). AWS's best practices: the access points' object
# operations, except POST Object, CopyObject's source and SelectObjectContent; the three the
# reference names no such action for take their S3 action's (DeleteObjects: DeleteObject;
# GetObjectAttributes: GetObject; UploadPartCopy: PutObject).
OBJECT_LAMBDA_ACTIONS: Final[Mapping[str, str]] = {
    "AbortMultipartUpload": "s3-object-lambda:AbortMultipartUpload",
    "CompleteMultipartUpload": "s3-object-lambda:PutObject",
    "CopyObject": "s3-object-lambda:PutObject",
    "CreateMultipartUpload": "s3-object-lambda:PutObject",
    "DeleteObject": "s3-object-lambda:DeleteObject",
    "DeleteObjects": "s3-object-lambda:DeleteObject",
    "DeleteObjectTagging": "s3-object-lambda:DeleteObjectTagging",
    "GetObject": "s3-object-lambda:GetObject",
    "GetObjectAcl": "s3-object-lambda:GetObjectAcl",
    "GetObjectAttributes": "s3-object-lambda:GetObject",
    "GetObjectLegalHold": "s3-object-lambda:GetObjectLegalHold",
    "GetObjectRetention": "s3-object-lambda:GetObjectRetention",
    "GetObjectTagging": "s3-object-lambda:GetObjectTagging",
    # HeadBucket's S3 action is s3:ListBucket; the Object Lambda access point's the same.
    "HeadBucket": "s3-object-lambda:ListBucket",
    "HeadObject": "s3-object-lambda:GetObject",
    "ListMultipartUploads": "s3-object-lambda:ListBucketMultipartUploads",
    "ListObjects": "s3-object-lambda:ListBucket",
    "ListObjectsV2": "s3-object-lambda:ListBucket",
    "ListObjectVersions": "s3-object-lambda:ListBucketVersions",
    "ListParts": "s3-object-lambda:ListMultipartUploadParts",
    "PutObject": "s3-object-lambda:PutObject",
    "PutObjectAcl": "s3-object-lambda:PutObjectAcl",
    "PutObjectLegalHold": "s3-object-lambda:PutObjectLegalHold",
    "PutObjectRetention": "s3-object-lambda:PutObjectRetention",
    "PutObjectTagging": "s3-object-lambda:PutObjectTagging",
    "RestoreObject": "s3-object-lambda:RestoreObject",
    "UploadPart": "s3-object-lambda:PutObject",
    "UploadPartCopy": "s3-object-lambda:PutObject",
}
# A version id asks for the action's version form, as S3's own actions do.
_VERSIONED: Final[Mapping[str, str]] = {
    "s3-object-lambda:DeleteObject": "s3-object-lambda:DeleteObjectVersion",
    "s3-object-lambda:DeleteObjectTagging": "s3-object-lambda:DeleteObjectVersionTagging",
    "s3-object-lambda:GetObject": "s3-object-lambda:GetObjectVersion",
    "s3-object-lambda:GetObjectAcl": "s3-object-lambda:GetObjectVersionAcl",
    "s3-object-lambda:GetObjectTagging": "s3-object-lambda:GetObjectVersionTagging",
    "s3-object-lambda:PutObjectAcl": "s3-object-lambda:PutObjectVersionAcl",
    "s3-object-lambda:PutObjectTagging": "s3-object-lambda:PutObjectVersionTagging",
}
# AWS's own example uses GetBucketLocation on an Object Lambda access point's alias; no
# s3-object-lambda action names it, so the supporting access point's judgement alone holds.
ANSWERED_WITHOUT_ACTION: Final = frozenset({"GetBucketLocation"})


def object_lambda_action(operation: str, query: Mapping[str, str]) -> str | None:
    """The ``s3-object-lambda:`` action ``operation`` needs (None: not let through)."""
    action = OBJECT_LAMBDA_ACTIONS.get(operation)
    if action is not None and query.get("versionId", "null") != "null":
        return _VERSIONED.get(action, action)
    return action


class SupportingS3(Protocol):
    """The S3 API, as the Object Lambda access point's pass-through uses it."""

    def operation(
        self, method: str, raw_path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> str | None:
        """The S3 operation a path-style request names (None: none S3 serves)."""
        ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


_DROPPED: Final = frozenset({b"host", b"authorization", b"x-amz-security-token"})


def forwarded_scope(scope: Scope, raw_path: str, host: str, authenticated: Authenticated) -> Scope:
    """``scope`` sent on to the S3 API as ``raw_path`` (path-style, the supporting access
    point's alias first) on ``host``, as the caller already authenticated: the credentials'
    headers are not passed on, the verified request is."""
    headers = [(k, v) for k, v in scope["headers"] if bytes(k).lower() not in _DROPPED]
    forwarded = dict(scope)
    forwarded.update(
        path=unquote(raw_path),
        raw_path=raw_path.encode("utf-8", "surrogateescape"),
        headers=[(b"host", host.encode()), *headers],
    )
    forwarded[TRUSTED_PRINCIPAL_SCOPE_KEY] = authenticated
    return forwarded
