"""What every S3 answer carries, and the XML error document an exception becomes.

A domain error is mapped to its wire error (``errors.py``); anything else is logged with the
request id and answered ``InternalError``, without detail.
"""

from __future__ import annotations

import logging

from andromede.errors import AndromedeError
from andromede.http.response import Response
from andromede.s3.errors import S3Error, to_s3_error
from andromede.s3.router import Route
from andromede.s3.xml import XmlWriter

__all__ = ["common_headers", "error_response"]

log = logging.getLogger(__name__)


def error_response(
    exc: Exception, route: Route | None, raw_path: str, request_id: str, method: str
) -> Response:
    """S3's XML error document for ``exc``, naming the request id, the resource and, when the
    route names them, the bucket and the key."""
    wire = to_s3_error(exc) if isinstance(exc, AndromedeError) else None
    if wire is None:
        log.error("request %s: unexpected error", request_id, exc_info=exc)
        wire = S3Error("InternalError")
    elif wire.status >= 500:
        log.warning("request %s: %s", request_id, wire.code)
    xml = XmlWriter("Error", namespace=None)
    xml.element("Code", wire.code)
    xml.element("Message", wire.message)
    for name, value in wire.details.items():
        xml.element(name, value)
    if route is not None and route.bucket is not None:
        xml.element("BucketName", route.bucket)
    if route is not None and route.key is not None:
        xml.element("Key", route.key)
    xml.element("Resource", raw_path)
    xml.element("RequestId", request_id)
    headers = [("Content-Type", "application/xml"), *wire.response_headers]
    if wire.code == "AuthorizationHeaderMalformed" and "Region" in wire.details:
        headers.append(("x-amz-bucket-region", wire.details["Region"]))
    return Response(status=wire.status, headers=headers, body=xml.document(), head=method == "HEAD")


def common_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    return [(b"x-amz-request-id", rid), (b"x-amz-id-2", rid), (b"server", b"Andromede")]
