"""EventBridge's wire errors: types, HTTP statuses, and how domain errors map to them.

EventBridge (JSON 1.1) answers an error as ``{"__type": "ResourceNotFoundException",
"message": "…"}``; botocore takes the code from ``__type``. The names and statuses are those
of EventBridge's service model.
"""

from __future__ import annotations

from typing import Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.events import errors as events_errors
from andromede.events.event_keys import KeyUnusable

__all__ = ["CATALOGUE", "EventsWireError", "to_events_error"]

# type → (status, default message)
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "ResourceNotFoundException": (400, "The resource does not exist."),
    "ResourceAlreadyExistsException": (400, "The resource already exists."),
    "ValidationException": (400, "A parameter is not valid."),
    "InvalidEventPatternException": (400, "Event pattern is not valid."),
    "LimitExceededException": (400, "The limit was reached."),
    "ConcurrentModificationException": (400, "The resource changed under the request."),
    "IllegalStatusException": (400, "The replay is not in a state that allows this."),
    "ManagedRuleException": (400, "This rule is managed by an AWS service."),
    "UnsupportedOperation": (400, "The operation is not served here."),
    "ThrottlingException": (400, "Rate exceeded"),
    "AccessDeniedException": (400, "User is not authorized to perform this action."),
    "MissingAuthenticationTokenException": (403, "Request is missing Authentication Token"),
    "InternalException": (500, "The request processing has failed because of an unknown "
                          "error."),
}  # fmt: skip

_DOMAIN: Final = {
    events_errors.ResourceNotFound: "ResourceNotFoundException",
    events_errors.ResourceAlreadyExists: "ResourceAlreadyExistsException",
    events_errors.ValidationError: "ValidationException",
    events_errors.InvalidEventPattern: "InvalidEventPatternException",
    events_errors.LimitExceeded: "LimitExceededException",
    events_errors.ConcurrentModification: "ConcurrentModificationException",
    events_errors.IllegalStatus: "IllegalStatusException",
    events_errors.ManagedRule: "ManagedRuleException",
    events_errors.KmsAccessDenied: "AccessDeniedException",
    # Decision 0218: a rule or target that its bus's key no longer opens.
    KeyUnusable: "AccessDeniedException",
}


class EventsWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)


def to_events_error(exc: AndromedeError) -> EventsWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, EventsWireError):
        return exc
    if isinstance(exc, events_errors.EventsError):
        name = _DOMAIN.get(type(exc))
        return None if name is None else EventsWireError(name, exc.message)
    answered = auth_error(exc)
    return None if answered is None else EventsWireError(*answered)
