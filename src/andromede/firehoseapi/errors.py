"""Amazon Data Firehose's wire errors: types, HTTP statuses, and how domain errors map to them.

AWS answers ``{"__type": "ResourceNotFoundException", "message": "…"}`` with status 400 (500
for ``InternalFailure``, 503 for ``ServiceUnavailableException``) and the
``x-amzn-RequestId`` header; botocore raises ``ClientError`` whose code is the ``__type``.
An operation this platform does not serve answers 501 ``NotImplemented``.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.firehose import errors as f
from andromede.firehose.service import ServiceUnavailable

__all__ = ["FirehoseWireError", "to_firehose_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "The caller is not authorized to perform this operation."),
    "ConcurrentModificationException": (400, "Another modification has already happened."),
    "InternalFailure": (500, "The request processing has failed because of an unknown error."),
    "InvalidArgumentException": (400, "The specified input parameter has a value that is not "
                                 "valid."),
    "InvalidKMSResourceException": (400, "Firehose throws this exception when an attempt to put "
                                    "records or to start or stop delivery stream encryption "
                                    "fails."),
    "InvalidSourceException": (400, "Only requests from CloudWatch Logs are supported when "
                               "CloudWatch Logs decompression is enabled."),
    "LimitExceededException": (400, "You have already reached the limit for a requested "
                               "resource."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "NotImplemented": (501, "This operation is not offered by this platform."),
    "ResourceInUseException": (400, "The resource is already in use and not available for this "
                               "operation."),
    "ResourceNotFoundException": (400, "The specified resource could not be found."),
    "ServiceUnavailableException": (503, "Slow down."),
    "ThrottlingException": (400, "Rate exceeded"),
    "ValidationException": (400, "The input fails to satisfy the constraints of the "
                            "operation."),
}  # fmt: skip


class FirehoseWireError(JsonWireError):
    """``code``: the member ``InvalidKMSResourceException`` carries beside its message (the
    KMS error behind it, ``KMS.DisabledException``…)."""

    def __init__(
        self, error_type: str, message: str | None = None, *, code: str | None = None
    ) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)
        self.code = code

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        if self.code is not None:
            body["code"] = self.code
        return body


_DOMAIN: Final[tuple[tuple[type[AndromedeError], str], ...]] = (
    (f.StreamNotFound, "ResourceNotFoundException"),
    (f.StreamInUse, "ResourceInUseException"),
    (f.InvalidArgument, "InvalidArgumentException"),
    (f.InvalidSource, "InvalidSourceException"),
    (ServiceUnavailable, "ServiceUnavailableException"),
    (f.LimitExceeded, "LimitExceededException"),
    (f.ConcurrentModification, "ConcurrentModificationException"),
)


def to_firehose_error(exc: AndromedeError) -> FirehoseWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, FirehoseWireError):
        return exc
    if isinstance(exc, f.KmsResourceError):
        return FirehoseWireError("InvalidKMSResourceException", str(exc), code=exc.code)
    for domain, error_type in _DOMAIN:
        if isinstance(exc, domain):
            return FirehoseWireError(error_type, str(exc) or None)
    answered = auth_error(exc)
    return None if answered is None else FirehoseWireError(*answered)
