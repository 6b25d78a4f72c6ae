"""Kinesis Data Streams' wire errors: types, HTTP statuses, and how domain errors map to them.

AWS answers ``{"__type": "ResourceNotFoundException", "message": "…"}`` with status 400 (500
for ``InternalFailure``) and the ``x-amzn-RequestId`` header; botocore raises
``ClientError`` whose code is the ``__type``. An operation of the API model this platform
does not serve (warm throughput…) is answered
``UnknownOperationException``, as AWS answers a call it does not know.
"""

from __future__ import annotations

from typing import Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.kinesis import errors as k

__all__ = ["KinesisWireError", "to_kinesis_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "The caller is not authorized to perform this operation."),
    "ExpiredIteratorException": (400, "The provided iterator exceeds the maximum age allowed."),
    "ExpiredNextTokenException": (400, "The pagination token passed to the operation is "
                                  "expired."),
    "InternalFailure": (500, "The request processing has failed because of an unknown error."),
    "InvalidArgumentException": (400, "A specified parameter exceeds its restrictions, is not "
                                 "supported, or can't be used."),
    "KMSAccessDeniedException": (400, "The ciphertext references a key that doesn't exist or "
                                 "that you don't have access to."),
    "KMSDisabledException": (400, "The request was rejected because the specified customer "
                             "master key (CMK) isn't enabled."),
    "KMSInvalidStateException": (400, "The request was rejected because the state of the "
                                 "specified resource isn't valid for this request."),
    "KMSNotFoundException": (400, "The request was rejected because the specified entity or "
                             "resource can't be found."),
    "LimitExceededException": (400, "The requested resource exceeds the maximum number "
                               "allowed, or the number of concurrent stream requests exceeds "
                               "the maximum number allowed."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "ProvisionedThroughputExceededException": (400, "The request rate for the stream is too "
                                               "high."),
    "ResourceInUseException": (400, "The resource is not available for this operation."),
    "ResourceNotFoundException": (400, "The requested resource could not be found."),
    "ThrottlingException": (400, "Rate exceeded"),
    "ValidationException": (400, "The input fails to satisfy the constraints of the "
                            "operation."),
}  # fmt: skip


class KinesisWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)


_DOMAIN: Final[tuple[tuple[type[AndromedeError], str], ...]] = (
    (k.StreamNotFound, "ResourceNotFoundException"),
    (k.StreamInUse, "ResourceInUseException"),
    (k.InvalidArgument, "InvalidArgumentException"),
    (k.LimitExceeded, "LimitExceededException"),
    (k.ExpiredIterator, "ExpiredIteratorException"),
    (k.ThroughputExceeded, "ProvisionedThroughputExceededException"),
)


def to_kinesis_error(exc: AndromedeError) -> KinesisWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, KinesisWireError):
        return exc
    if isinstance(exc, k.KmsRefused):
        return KinesisWireError(exc.code, str(exc))
    for domain, error_type in _DOMAIN:
        if isinstance(exc, domain):
            return KinesisWireError(error_type, str(exc) or None)
    answered = auth_error(exc)
    return None if answered is None else KinesisWireError(*answered)
