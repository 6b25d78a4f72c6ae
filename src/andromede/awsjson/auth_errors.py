"""What a JSON-protocol service (KMS, Secrets Manager, CloudWatch Logs, EventBridge, Firehose)
answers for a request it could not authenticate or authorise: SigV4's refusals, an expired
session token, an unknown access key, an IAM denial — the same error types and words in each,
which botocore recognises (its clock-skew correction reads "Signature expired"). Each service
wraps the answer in its own :class:`~andromede.awsjson.endpoint.JsonWireError` subclass."""

from __future__ import annotations

from andromede.errors import AndromedeError
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam_errors

__all__ = ["auth_error"]


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
