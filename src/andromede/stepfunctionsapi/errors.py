"""Step Functions' wire errors: types, HTTP statuses, and how domain errors map to them.

The JSON 1.0 protocol answers an error with its status (400 for every client error of Step
Functions, 500 for ``InternalServerError``) and ``{"__type": …, "message": …}``, plus the
members some errors carry (``resourceName`` of ``ResourceNotFound`` and ``TooManyTags``);
botocore raises ``ClientError`` whose code is the type.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.stepfunctions import errors as e

__all__ = ["StatesWireError", "to_states_error"]

_DOMAIN: Final = (
    e.ConflictException,
    e.ServiceQuotaExceededException,
    e.ExecutionNotRedrivable,
    e.ActivityDoesNotExist,
    e.ActivityLimitExceeded,
    e.StateMachineTypeNotSupported,
    e.InvalidOutput,
    e.TaskDoesNotExist,
    e.TaskTimedOut,
    e.ExecutionAlreadyExists,
    e.ExecutionDoesNotExist,
    e.InvalidExecutionInput,
    e.InvalidArn,
    e.InvalidDefinition,
    e.InvalidEncryptionConfiguration,
    e.InvalidLoggingConfiguration,
    e.InvalidName,
    e.InvalidToken,
    e.InvalidTracingConfiguration,
    e.StateMachineAlreadyExists,
    e.StateMachineDoesNotExist,
    e.StateMachineLimitExceeded,
    e.ValidationException,
)
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "You do not have sufficient access to perform this action."),
    "InternalServerError": (500, "The service encountered an internal error."),
    "MissingAuthenticationTokenException": (403, "Missing Authentication Token"),
    "ResourceNotFound": (400, "Could not find the referenced resource."),
    "ThrottlingException": (400, "Rate exceeded"),
    "TooManyTags": (400, "You have exceeded the number of tags allowed for a resource."),
    "UnknownOperationException": (400, "The operation is not known to Step Functions."),
    **{kind.__name__: (400, kind.__name__) for kind in _DOMAIN},
}


class StatesWireError(JsonWireError):
    """``members``: the error's members beside its message."""

    def __init__(self, error_type: str, message: str | None = None, **members: Any) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)
        self.members = members

    def payload(self) -> dict[str, Any]:
        return {"__type": self.error_type, "message": self.message, **self.members}


def to_states_error(exc: AndromedeError) -> StatesWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, StatesWireError):
        return exc
    if isinstance(exc, e.ResourceNotFound | e.TooManyTags):
        return StatesWireError(type(exc).__name__, str(exc), resourceName=exc.resource_name)
    if isinstance(exc, e.RoleRefused):
        return StatesWireError("AccessDeniedException", str(exc))
    if isinstance(exc, _DOMAIN):
        return StatesWireError(type(exc).__name__, str(exc))
    answered = auth_error(exc)
    return None if answered is None else StatesWireError(*answered)
