"""CloudWatch Logs' wire errors (decision 0186): JSON 1.1 answers an error as
``{"__type": "ResourceNotFoundException", "message": "…"}`` with the ``x-amzn-RequestId``
header; botocore picks the modelled exception class by the ``__type``. The statuses are the
service's (400 for the client's faults, as AWS Logs answers them; 501 for an operation not
served here, 500 for a fault carrying nothing but the request id)."""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.logs.errors import (
    ExportRefused,
    InvalidOperation,
    InvalidParameter,
    KmsKeyUnusable,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
)
from andromede.logs.insights_query import MalformedQuery
from andromede.logs.log_classes import DeletionProtected, StandardClassOnly

__all__ = ["CATALOGUE", "LogsWireError", "to_logs_error"]

# type → (status, default message)
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "InvalidParameterException": (400, "A parameter is specified incorrectly."),
    "ResourceAlreadyExistsException": (400, "The specified resource already exists."),
    "ResourceNotFoundException": (400, "The specified resource does not exist."),
    "LimitExceededException": (400, "You have reached the maximum number of resources."),
    "AccessDeniedException": (400, "You don't have sufficient permissions."),
    "TooManyTagsException": (400, "A resource can have no more than 50 tags."),
    "ValidationException": (400, "One of the parameters for the request is not valid."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "ThrottlingException": (400, "Rate exceeded"),
    "MalformedQueryException": (400, "The query string is not valid."),
    "InvalidOperationException": (400, "The operation is not valid on the specified resource."),
    "RequestEntityTooLargeException": (413, "The request body is larger than this endpoint "
                                       "accepts."),
    "UnsupportedOperationException": (501, "The operation is not served here."),
    "ServiceUnavailableException": (500, "The service cannot complete the request."),
}  # fmt: skip


class LogsWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)


class MalformedQueryError(LogsWireError):
    """MalformedQueryException with its ``queryCompileError``: where the query went wrong."""

    def __init__(self, exc: MalformedQuery) -> None:
        super().__init__("MalformedQueryException", exc.message)
        self.start = exc.start
        self.end = exc.end

    def payload(self) -> dict[str, Any]:
        return {
            **super().payload(),
            "queryCompileError": {
                "location": {"startCharOffset": self.start, "endCharOffset": self.end},
                "message": self.message,
            },
        }


_DOMAIN: Final[dict[type[AndromedeError], str]] = {
    InvalidParameter: "InvalidParameterException",
    ResourceAlreadyExists: "ResourceAlreadyExistsException",
    ResourceNotFound: "ResourceNotFoundException",
    LimitExceeded: "LimitExceededException",
    # AWS Logs words an unusable key of a group as an InvalidParameterException on create
    # and associate, and refuses the events' writes and reads alike.
    KmsKeyUnusable: "InvalidParameterException",
    InvalidOperation: "InvalidOperationException",
    ExportRefused: "InvalidParameterException",
    # AWS's user guide: a protected group's deletion answers a ValidationException.
    DeletionProtected: "ValidationException",
    StandardClassOnly: "ValidationException",  # subscription filters (decision 0225)
}


def to_logs_error(exc: AndromedeError) -> LogsWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, LogsWireError):
        return exc
    if isinstance(exc, MalformedQuery):
        return MalformedQueryError(exc)
    for kind, name in _DOMAIN.items():
        if isinstance(exc, kind):
            return LogsWireError(name, str(exc) or None)
    answered = auth_error(exc)
    return None if answered is None else LogsWireError(*answered)
