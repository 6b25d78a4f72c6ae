"""The Pipes context's domain errors, with no HTTP in them; ``pipesapi.errors`` maps each to
EventBridge Pipes' error type.

::

    PipesError
    ├── PipeNotFound        no such pipe for the account
    ├── PipeConflict        the name is taken, or the pipe's state refuses the call
    ├── InvalidPipe         a parameter's value is not acceptable (``field`` names it)
    ├── QuotaExceeded       the account's pipes are at their bound
    └── EndpointRefused     a source or target refused the pipe's role, or is gone (the
                            runner says it and retries at its next pass)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "EndpointRefused",
    "InvalidPipe",
    "PipeConflict",
    "PipeNotFound",
    "PipesError",
    "QuotaExceeded",
]


class PipesError(AndromedeError):
    """Root of the Pipes context's errors."""


class PipeNotFound(PipesError):
    pass


class PipeConflict(PipesError):
    def __init__(self, message: str, resource_id: str) -> None:
        super().__init__(message)
        self.resource_id = resource_id


class InvalidPipe(PipesError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class QuotaExceeded(PipesError):
    def __init__(self, message: str, resource_id: str) -> None:
        super().__init__(message)
        self.resource_id = resource_id


class EndpointRefused(PipesError):
    """A source or target cannot be used now: ``code`` says why (``NO_PERMISSIONS``,
    ``NO_RESOURCE``, ``FAILED_TO_ASSUME_ROLE``, ``INVALID_PARAMETER``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
