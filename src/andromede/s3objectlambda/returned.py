"""HeadObject, ListObjects and ListObjectsV2 through an Object Lambda access point (decision
0384): the function gets the operation's own context (``headObjectContext``,
``listObjectsContext``, ``listObjectsV2Context``, each with its ``inputS3Url``) and its
return value is the answer — ``statusCode``; ``headers`` and ``metadata`` for HeadObject;
``listResultXml`` or ``listBucketResult`` (its JSON form, ``listing.py``; decision 0399)
for the listings; or ``errorCode`` and ``errorMessage``."""

from __future__ import annotations

import json
from typing import Final

from andromede.http.response import Response
from andromede.s3objectlambda.errors import FUNCTION_ERROR_CODE, ObjectLambdaError
from andromede.s3objectlambda.listing import ListingShapeError, list_bucket_result_xml

__all__ = ["CONTEXTS", "OPERATION_ACTIONS", "returned_response"]

CONTEXTS: Final = {
    "GetObject": "getObjectContext",
    "HeadObject": "headObjectContext",
    "ListObjects": "listObjectsContext",
    "ListObjectsV2": "listObjectsV2Context",
}
# The caller's action on the Object Lambda access point, as S3's on a bucket.
OPERATION_ACTIONS: Final = {
    "GetObject": "s3-object-lambda:GetObject",
    "HeadObject": "s3-object-lambda:GetObject",
    "ListObjects": "s3-object-lambda:ListBucket",
    "ListObjectsV2": "s3-object-lambda:ListBucket",
}


def _invalid(why: str) -> ObjectLambdaError:
    return ObjectLambdaError("LambdaInvalidResponse", f"The Lambda function's answer {why}")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def returned_response(operation: str, payload: bytes) -> Response:
    """The caller's answer out of the function's return value for ``operation``."""
    try:
        answer = json.loads(payload)
    except ValueError as exc:
        raise _invalid("is not JSON") from exc
    if not isinstance(answer, dict):
        raise _invalid("is not a JSON object")
    status = answer.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise _invalid("has no statusCode of 200 to 599")
    code = answer.get("errorCode")
    if code is not None or status >= 400:
        named = str(code) if code is not None else ""
        raise ObjectLambdaError(
            named if FUNCTION_ERROR_CODE.fullmatch(named) else "InternalError",
            _text(answer.get("errorMessage") or ""),
            status=status if status >= 400 else 500,
        )
    if operation == "HeadObject":
        headers = answer.get("headers") or {}
        metadata = answer.get("metadata") or {}
        if not isinstance(headers, dict) or not isinstance(metadata, dict):
            raise _invalid("has headers or metadata that are not objects")
        out = [(str(name).lower(), _text(value)) for name, value in headers.items()]
        out += [(f"x-amz-meta-{str(name).lower()}", _text(v)) for name, v in metadata.items()]
        return Response(status=status, headers=out, head=True)
    xml = answer.get("listResultXml")
    if isinstance(xml, str):
        body = xml.encode()
    elif "listBucketResult" in answer:
        try:
            body = list_bucket_result_xml(operation, answer["listBucketResult"])
        except ListingShapeError as exc:
            raise _invalid(f"has a listBucketResult not of AWS's shape: {exc}") from exc
    else:
        raise _invalid("has neither listResultXml nor listBucketResult")
    return Response(status=status, headers=[("Content-Type", "application/xml")], body=body)
