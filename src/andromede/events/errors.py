"""The EventBridge context's errors, free of any wire protocol. Their names are EventBridge's
own error types, which the wire adapter (``andromede.eventsapi.errors``) maps to a status::

    EventsError
    ├── ResourceNotFound           no such bus, rule or target of the caller's account
    ├── ResourceAlreadyExists      a bus of that name already
    ├── ValidationError            a parameter refused (ValidationException)
    ├── InvalidEventPattern        an EventPattern that is no valid pattern
    ├── LimitExceeded              too many buses, rules, targets, archives or replays
    ├── ConcurrentModification     the bus or rule changed under the call
    ├── IllegalStatus              a replay no longer cancellable (decision 0196)
    ├── ManagedRule                a rule a service manages, changed by a user (decision 0332)
    └── KmsAccessDenied            a KMS key the caller may not use (AccessDeniedException)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ConcurrentModification",
    "EventsError",
    "IllegalStatus",
    "InvalidEventPattern",
    "KmsAccessDenied",
    "LimitExceeded",
    "ManagedRule",
    "ResourceAlreadyExists",
    "ResourceNotFound",
    "ValidationError",
]


class EventsError(AndromedeError):
    """Root of the EventBridge context's errors; the message is the one the client sees."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ResourceNotFound(EventsError):
    pass


class ResourceAlreadyExists(EventsError):
    pass


class ValidationError(EventsError):
    pass


class InvalidEventPattern(EventsError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")


class LimitExceeded(EventsError):
    pass


class ConcurrentModification(EventsError):
    pass


class IllegalStatus(EventsError):
    pass


class KmsAccessDenied(EventsError):
    """The caller may not use the KMS key a resource is to be sealed under (decision 0204)."""


class ManagedRule(EventsError):
    """A user's change of a rule a service made on the account's behalf, without ``Force``
    where the call has it (decision 0332)."""
