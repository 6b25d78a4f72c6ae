"""Secrets Manager's wire errors: types, HTTP statuses, and how domain errors map to them.

AWS answers ``{"__type": "ResourceNotFoundException", "Message": "…"}`` with status 400 (500
for ``InternalServiceError``) and the ``x-amzn-RequestId`` header; botocore raises
``ClientError`` whose code is the ``__type``. An operation this platform does not serve
answers 501 ``NotImplemented``.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.secrets import errors as s
from andromede.secrets.rotation import RotationDenied

__all__ = ["SecretsWireError", "to_secrets_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "The caller is not authorized to perform this operation."),
    "DecryptionFailure": (400, "Secrets Manager can't decrypt the protected secret text using "
                          "the provided KMS key."),
    "EncryptionFailure": (400, "Secrets Manager can't encrypt the protected secret text using "
                          "the provided KMS key."),
    "InternalServiceError": (500, "An error occurred on the server side."),
    "InvalidNextTokenException": (400, "The NextToken value is invalid."),
    "InvalidParameterException": (400, "The parameter name or value is invalid."),
    "InvalidRequestException": (400, "A parameter value is not valid for the current state of "
                                "the resource."),
    "LimitExceededException": (400, "The request failed because it would exceed one of the "
                               "Secrets Manager quotas."),
    "MalformedPolicyDocumentException": (400, "The resource policy has syntax errors."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "NotImplemented": (501, "This operation is not offered by this platform."),
    "PublicPolicyException": (400, "The BlockPublicPolicy parameter is set to true, and the "
                              "resource policy did not prevent broad access to the secret."),
    "ResourceExistsException": (400, "A resource with the ID you requested already exists."),
    "ResourceNotFoundException": (400, "Secrets Manager can't find the resource that you "
                                  "asked for."),
    "ThrottlingException": (400, "Rate exceeded"),
    "ValidationException": (400, "The input fails to satisfy the constraints of the "
                            "operation."),
}  # fmt: skip


class SecretsWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)

    def payload(self) -> dict[str, Any]:
        # Secrets Manager's errors carry ``Message`` (botocore reads either spelling).
        return {"__type": self.error_type, "Message": self.message}


_DOMAIN: Final[tuple[tuple[type[AndromedeError], str], ...]] = (
    (s.SecretNotFound, "ResourceNotFoundException"),
    (s.SecretExists, "ResourceExistsException"),
    (s.InvalidParameter, "InvalidParameterException"),
    (s.InvalidRequest, "InvalidRequestException"),
    (s.LimitExceeded, "LimitExceededException"),
    (s.MalformedPolicy, "MalformedPolicyDocumentException"),
    (s.PublicPolicy, "PublicPolicyException"),
    (s.EncryptionFailure, "EncryptionFailure"),
    (s.DecryptionFailure, "DecryptionFailure"),
    (s.KmsAccessDenied, "AccessDeniedException"),
    (s.RegionRefused, "AccessDeniedException"),
    (RotationDenied, "AccessDeniedException"),
)


def to_secrets_error(exc: AndromedeError) -> SecretsWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, SecretsWireError):
        return exc
    for domain, error_type in _DOMAIN:
        if isinstance(exc, domain):
            return SecretsWireError(error_type, str(exc) or None)
    answered = auth_error(exc)
    return None if answered is None else SecretsWireError(*answered)
