"""S3 Object Lambda's wire errors: the catalogue (code → status, message) and S3's XML error
document, with the request id.

Errors::

    AndromedeError
    └── ObjectLambdaError     a wire error of the catalogue, or one a function chose
                              (WriteGetObjectResponse's ErrorCode, with its status)

Domain and authentication errors are mapped here, at the edge; anything unmapped is
InternalError carrying nothing but the request id.
"""

from __future__ import annotations

import re

from andromede.errors import AndromedeError
from andromede.http.response import Response
from andromede.http.sigv4 import SigV4Error
from andromede.http.xml import XmlWriter

__all__ = ["FUNCTION_ERROR_CODE", "ObjectLambdaError", "error_response", "to_wire_error"]

# AWS: the ErrorCode a function gives is sentence-cased, "^[A-Z][a-zA-Z]+$".
FUNCTION_ERROR_CODE = re.compile(r"[A-Z][a-zA-Z]{1,63}")

_CATALOGUE: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed"),
    "BadDigest": (400, "The checksum you specified did not match what we received."),
    "AuthorizationQueryParametersError": (400, "The query authentication is malformed"),
    "ExpiredToken": (400, "The provided token has expired."),
    "IncompleteBody": (400, "The request body terminated unexpectedly"),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "InvalidAccessPointAliasError": (400, "The access point alias is not valid"),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidRequest": (400, "Invalid request"),
    "MalformedTrailerError": (
        400,
        "The request contained trailing data that was not well-formed or did not conform to "
        "our published schema.",
    ),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingSecurityHeader": (400, "Your request is missing a required header"),
    "NoSuchAccessPoint": (404, "The specified accesspoint does not exist"),
    "NotImplemented": (
        501,
        "A header or operation you provided implies functionality that is not implemented",
    ),
    "RequestTimeTooSkewed": (
        403,
        "The difference between the request time and the current time is too large.",
    ),
    "RequestTimeout": (
        400,
        "Your socket connection to the server was not read from or written to within the "
        "timeout period.",
    ),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided.",
    ),
    "SlowDown": (503, "Please reduce your request rate."),
    "XAmzContentSHA256Mismatch": (
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
    # S3 Object Lambda's own (AWS's "Error responses" list).
    "LambdaInvalidResponse": (400, "The Lambda function returned an invalid response."),
    "LambdaInvocationFailed": (400, "The Lambda function invocation failed."),
    "LambdaNotFound": (404, "The Lambda function does not exist."),
    "LambdaPermissionError": (403, "You do not have permission to invoke the Lambda function."),
    "LambdaResponseNotReceived": (
        500,
        "The Lambda function exited without successfully calling WriteGetObjectResponse.",
    ),
    "LambdaRuntimeError": (500, "The Lambda function failed during execution."),
    "LambdaTimeout": (500, "The Lambda function did not respond in the allowed time."),
}


class ObjectLambdaError(AndromedeError):
    """A wire error of the catalogue (``message`` None: the catalogue's), or with ``status``
    a function's own error (WriteGetObjectResponse's ErrorCode and ErrorMessage)."""

    def __init__(self, code: str, message: str | None = None, status: int | None = None) -> None:
        known = _CATALOGUE.get(code)
        if known is None and status is None:
            raise ValueError(f"unknown wire error {code}")
        default_status, default = known if known is not None else (500, "")
        super().__init__(f"{code}: {message or default}")
        self.code = code
        self.status = status if status is not None else default_status
        self.message = message if message is not None else default


def to_wire_error(exc: Exception) -> ObjectLambdaError | None:
    """The wire error of an exception raised while serving (None: unmapped, a 500)."""
    if isinstance(exc, ObjectLambdaError):
        return exc
    if isinstance(exc, SigV4Error):
        code = exc.code if exc.code in _CATALOGUE else "AccessDenied"
        return ObjectLambdaError(code, exc.message)
    if isinstance(exc, AndromedeError):
        name = type(exc).__name__
        if name == "InvalidClientTokenId":
            return ObjectLambdaError("InvalidAccessKeyId")
        if name in _CATALOGUE:
            return ObjectLambdaError(name)
    return None


def error_response(error: ObjectLambdaError, request_id: str, *, head: bool = False) -> Response:
    xml = XmlWriter("Error", namespace=None)
    xml.element("Code", error.code)
    xml.element("Message", error.message)
    xml.element("RequestId", request_id)
    xml.element("HostId", request_id)
    return Response(
        status=error.status,
        headers=[("Content-Type", "application/xml")],
        body=xml.document(),
        head=head,
    )
