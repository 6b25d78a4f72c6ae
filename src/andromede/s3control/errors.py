"""S3 Control's wire errors: the catalogue (code → status, message) and the one XML shape.

S3 Control answers ``<ErrorResponse><Error><Code/><Message/></Error><RequestId/><HostId/>
</ErrorResponse>``, which botocore's REST-XML parser reads as S3's bare ``<Error>``. Domain
and authentication errors are mapped here, at the edge; anything unmapped is InternalError
carrying nothing but the request id.
"""

from __future__ import annotations

from andromede.errors import AndromedeError
from andromede.http.response import Response
from andromede.http.sigv4 import SigV4Error
from andromede.http.xml import XmlWriter

__all__ = ["S3ControlError", "error_response", "to_wire_error"]

_CATALOGUE: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed"),
    "AuthorizationQueryParametersError": (400, "The query authentication is malformed"),
    "ExpiredToken": (400, "The provided token has expired."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "InvalidRequest": (400, "Invalid request"),
    "MalformedXML": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingSecurityHeader": (400, "Your request is missing a required header"),
    "NoSuchPublicAccessBlockConfiguration": (
        404,
        "The public access block configuration was not found",
    ),
    "NotImplemented": (
        501,
        "A header or operation you provided implies functionality that is not implemented",
    ),
    "RequestTimeTooSkewed": (
        403,
        "The difference between the request time and the current time is too large.",
    ),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided.",
    ),
    "SlowDown": (503, "Please reduce your request rate."),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed size"),
    # Batch Operations (decision 0152's addendum).
    "BadRequestException": (400, "The request is not valid"),
    "IdempotencyException": (
        409,
        "The client token was used with another request",
    ),
    "InvalidNextTokenException": (400, "The next token is not valid"),
    "InvalidRequestException": (400, "The request is not valid"),
    "JobStatusException": (409, "The job's status does not allow the change"),
    "NotFoundException": (404, "The job was not found"),
    # Access points (decision 0157).
    "AccessPointAlreadyOwnedByYou": (
        409,
        "The access point you tried to create already exists, and you own it.",
    ),
    "MalformedPolicy": (400, "The policy is not valid"),
    "NoSuchAccessPoint": (404, "The specified accesspoint does not exist"),
    "NoSuchAccessPointPolicy": (404, "The specified accesspoint policy does not exist"),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    # Resource tags (decision 0392): S3's tagging error, S3 Control's tag limit.
    "InvalidTagError": (400, "The tag provided was not a valid tag."),
    "TooManyTagsException": (400, "The resource holds too many tags."),
    # Multi-Region Access Points (decision 0385).
    "NoSuchMultiRegionAccessPoint": (
        404,
        "The specified Multi-Region Access Point does not exist.",
    ),
    "NoSuchAsyncRequest": (404, "The specified asynchronous request does not exist."),
    # Storage Lens configurations (decision 0415).
    "NoSuchConfiguration": (404, "The specified configuration does not exist."),
    "TooManyConfigurations": (
        400,
        "You are attempting to create a new configuration but have already reached the limit.",
    ),
}


class S3ControlError(AndromedeError):
    """A wire error of the catalogue; ``message`` None: the catalogue's."""

    def __init__(self, code: str, message: str | None = None) -> None:
        status, default = _CATALOGUE[code]
        super().__init__(f"{code}: {message or default}")
        self.code = code
        self.status = status
        self.message = message or default


def to_wire_error(exc: Exception) -> S3ControlError | None:
    """The wire error of an exception raised while serving (None: unmapped, a 500)."""
    if isinstance(exc, S3ControlError):
        return exc
    if isinstance(exc, SigV4Error):
        code = exc.code if exc.code in _CATALOGUE else "AccessDenied"
        return S3ControlError(code, exc.message)
    if isinstance(exc, AndromedeError):
        # The identity context's authentication errors, named as S3 names them.
        name = type(exc).__name__
        if name == "InvalidClientTokenId":
            return S3ControlError("InvalidAccessKeyId")
        if name in _CATALOGUE:
            return S3ControlError(name)
    return None


def error_response(error: S3ControlError, request_id: str) -> Response:
    xml = XmlWriter("ErrorResponse", namespace=None)
    xml.open("Error")
    xml.element("Code", error.code)
    xml.element("Message", error.message)
    xml.close("Error")
    xml.element("RequestId", request_id)
    xml.element("HostId", request_id)
    return Response(
        status=error.status,
        headers=[("Content-Type", "application/xml")],
        body=xml.document(),
    )
