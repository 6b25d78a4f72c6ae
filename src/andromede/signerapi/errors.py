"""AWS Signer's wire errors (decision 0386): types, HTTP statuses, and how domain errors map to
them. restJson1 answers an error with its status, the ``x-amzn-ErrorType`` header naming its
type and a JSON body ``{"message", "code"}``; botocore raises ``ClientError`` whose code is the
type."""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.signer import errors as s

__all__ = ["SignerWireError", "to_signer_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (403, "You do not have sufficient access to perform this action."),
    "BadRequestException": (400, "The request contains invalid parameters for the ARN or tags."),
    "ConflictException": (409, "The resource encountered a conflicting state."),
    "InternalServiceErrorException": (500, "An internal error occurred."),
    "MissingAuthenticationTokenException": (403, "Missing Authentication Token"),
    "NotFoundException": (404, "The signing profile was not found."),
    "ResourceNotFoundException": (404, "A specified resource could not be found."),
    "ServiceLimitExceededException": (400, "The client is making a request that exceeds a limit."),
    "TooManyRequestsException": (429, "The allowed number of job-signing requests was exceeded."),
    "UnknownOperationException": (404, "The operation is not known to AWS Signer."),
    "ValidationException": (400, "You signing certificate could not be validated."),
}

_DOMAIN: Final[dict[type[s.SignerError], str]] = {
    s.ProfileNotFound: "ResourceNotFoundException",
    s.JobNotFound: "ResourceNotFoundException",
    s.SignerConflict: "ConflictException",
    s.InvalidSignerInput: "ValidationException",
    s.SignerQuota: "ServiceLimitExceededException",
    s.SignerAccessDenied: "AccessDeniedException",
    s.SignatureInvalid: "ValidationException",
}


class SignerWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)

    def payload(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.error_type}

    def headers(self) -> list[tuple[str, str]]:
        return [("x-amzn-ErrorType", self.error_type)]


def to_signer_error(exc: AndromedeError) -> SignerWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, SignerWireError):
        return exc
    for kind, error_type in _DOMAIN.items():
        if isinstance(exc, kind):
            return SignerWireError(error_type, str(exc))
    answered = auth_error(exc)
    return None if answered is None else SignerWireError(*answered)
