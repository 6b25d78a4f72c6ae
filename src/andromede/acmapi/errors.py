"""AWS Certificate Manager's wire errors: types, HTTP statuses, and how domain errors map to
them.

AWS answers ``{"__type": "ResourceNotFoundException", "message": "…"}`` with status 400 (500
for ``InternalFailure``) and the ``x-amzn-RequestId`` header; botocore raises ``ClientError``
whose code is the ``__type``. An operation this platform does not serve answers 501
``NotImplemented``.
"""

from __future__ import annotations

from typing import Final

from andromede.acm import errors as a
from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError

__all__ = ["AcmWireError", "to_acm_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "You do not have sufficient access to perform this action."),
    "ConflictException": (400, "You are trying to update a resource or configuration that is "
                          "already being created or updated."),
    "InternalFailure": (500, "The request processing has failed because of an unknown error."),
    "InvalidArgsException": (400, "One or more of request parameters specified is not valid."),
    "InvalidArnException": (400, "The requested Amazon Resource Name (ARN) does not refer to "
                            "an existing resource."),
    "InvalidParameterException": (400, "An input parameter was invalid."),
    "InvalidTagException": (400, "One or both of the values that make up the key-value pair is "
                            "not valid."),
    "LimitExceededException": (400, "An ACM quota has been exceeded."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "NotImplemented": (501, "This operation is not offered by this platform."),
    "RequestInProgressException": (400, "The certificate request is in process and the "
                                   "certificate in your account has not yet been issued."),
    "ResourceInUseException": (400, "The certificate is in use by another AWS service in the "
                               "caller's account."),
    "ResourceNotFoundException": (400, "The specified certificate cannot be found in the "
                                  "caller's account or the caller's account cannot be found."),
    "ThrottlingException": (400, "Rate exceeded"),
    "TooManyTagsException": (400, "The request contains too many tags."),
    "ValidationException": (400, "The supplied input failed to satisfy constraints of an AWS "
                            "service."),
}  # fmt: skip


class AcmWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)


_DOMAIN: Final[tuple[tuple[type[AndromedeError], str], ...]] = (
    (a.CertificateNotFound, "ResourceNotFoundException"),
    (a.InvalidArn, "InvalidArnException"),
    (a.ValidationFailed, "ValidationException"),
    (a.InvalidParameter, "InvalidParameterException"),
    (a.InvalidTag, "InvalidTagException"),
    (a.TooManyTags, "TooManyTagsException"),
    (a.CertificateInUse, "ResourceInUseException"),
    (a.LimitExceeded, "LimitExceededException"),
    (a.Conflict, "ConflictException"),
)


def to_acm_error(exc: AndromedeError) -> AcmWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, AcmWireError):
        return exc
    for domain, error_type in _DOMAIN:
        if isinstance(exc, domain):
            return AcmWireError(error_type, str(exc) or None)
    answered = auth_error(exc)
    return None if answered is None else AcmWireError(*answered)
