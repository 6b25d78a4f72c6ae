"""EventBridge Pipes' wire errors: types, HTTP statuses, and how domain errors map to them.

restJson1 answers an error with its status (``ValidationException`` 400, ``NotFoundException``
404, ``ConflictException`` 409, ``ServiceQuotaExceededException`` 402, ``ThrottlingException``
429, ``InternalException`` 500), the ``x-amzn-ErrorType`` header naming its type and a JSON
body of its members (``message``; a validation's ``fieldList``, a conflict's ``resourceId`` and
``resourceType``…); botocore raises ``ClientError`` whose code is the type.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.pipes import errors as p

__all__ = ["PipesWireError", "to_pipes_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (403, "You do not have sufficient access to perform this action."),
    "ConflictException": (409, "An action you attempted resulted in an exception."),
    "InternalException": (500, "This exception occurs due to unexpected causes."),
    "MissingAuthenticationTokenException": (403, "Missing Authentication Token"),
    "NotFoundException": (404, "An entity that you specified does not exist."),
    "ServiceQuotaExceededException": (402, "A quota has been exceeded."),
    "ThrottlingException": (429, "An action was throttled."),
    "UnknownOperationException": (404, "The operation is not known to EventBridge Pipes."),
    "ValidationException": (
        400,
        "Indicates that an error has occurred while performing a validate operation.",
    ),
}


class PipesWireError(JsonWireError):
    """``members``: the error's members beside its message."""

    def __init__(self, error_type: str, message: str | None = None, **members: Any) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)
        self.members = members

    def payload(self) -> dict[str, Any]:
        return {"message": self.message, **self.members}

    def headers(self) -> list[tuple[str, str]]:
        return [("x-amzn-ErrorType", self.error_type)]


def to_pipes_error(exc: AndromedeError) -> PipesWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, PipesWireError):
        return exc
    if isinstance(exc, p.PipeNotFound):
        return PipesWireError("NotFoundException", str(exc))
    if isinstance(exc, p.PipeConflict):
        return PipesWireError(
            "ConflictException", str(exc), resourceId=exc.resource_id, resourceType="pipe"
        )
    if isinstance(exc, p.QuotaExceeded):
        return PipesWireError(
            "ServiceQuotaExceededException",
            str(exc),
            resourceId=exc.resource_id,
            resourceType="pipe",
            serviceCode="pipes",
            quotaCode="L-pipes-per-account",
        )
    if isinstance(exc, p.InvalidPipe):
        fields = [] if exc.field is None else [{"name": exc.field, "message": str(exc)}]
        return PipesWireError("ValidationException", str(exc), fieldList=fields)
    answered = auth_error(exc)
    return None if answered is None else PipesWireError(*answered)
