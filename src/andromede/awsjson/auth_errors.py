"""What a JSON-protocol service (KMS, Secrets Manager, CloudWatch Logs, EventBridge, Firehose,
Kinesis, DynamoDB, Parameter Store, Certificate Manager) answers for a request it could not
authenticate or authorise: SigV4's refusals, an expired session token, an unknown access key,
an IAM denial — the same error types and words in each,
which botocore recognises (its clock-skew correction reads "Signature expired"). Each service
wraps the answer in its own :class:`~andromede.awsjson.endpoint.JsonWireError` subclass, and
starts its error catalogue from :data:`PROTOCOL_ERRORS`: the errors every JSON service answers
alike (authentication, a body that is not JSON or too large, an unknown operation)."""

from __future__ import annotations

from typing import Final

from andromede.errors import AndromedeError
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam_errors

__all__ = ["PROTOCOL_ERRORS", "auth_error"]

# (HTTP status, default message) of the errors every AWS JSON service answers in the same words.
PROTOCOL_ERRORS: Final[dict[str, tuple[int, str]]] = {
    "ExpiredTokenException": (400, "The security token included in the request is expired"),
    "IncompleteSignatureException": (
        400,
        "The request signature does not conform to AWS standards.",
    ),
    "InvalidSignatureException": (
        400,
        "The request signature we calculated does not match the signature you provided.",
    ),
    "RequestEntityTooLarge": (413, "The request body is larger than this endpoint accepts."),
    "SerializationException": (400, "The request body is not valid JSON for this operation."),
    "UnknownOperationException": (400, "The operation is not known to this service."),
    "UnrecognizedClientException": (400, "The security token included in the request is invalid."),
}


def auth_error(exc: AndromedeError) -> tuple[str, str | None] | None:
    """(error type, message — None for the catalogue's own) for an authentication or
    authorisation error; None for any other."""
    if isinstance(exc, SigV4Error):
        if exc.code == "RequestTimeTooSkewed":
            return "InvalidSignatureException", f"Signature expired: {exc.message}"
        if exc.code == "SignatureDoesNotMatch":
            return "InvalidSignatureException", None
        return "IncompleteSignatureException", exc.message
    if isinstance(exc, iam_errors.ExpiredToken):
        return "ExpiredTokenException", None
    if isinstance(exc, iam_errors.InvalidAccessKeyId):
        return "UnrecognizedClientException", None
    if isinstance(exc, iam_errors.AccessDenied):
        return "AccessDeniedException", str(exc) or None
    return None
