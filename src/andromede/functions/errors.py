"""Lambda's domain errors (decision 0286), one per AWS error code, no HTTP in them;
``lambdaapi.errors`` gives each its status and wire shape.

    FunctionsError
    ├── ResourceNotFound          (ResourceNotFoundException)
    ├── ResourceConflict          (ResourceConflictException)
    ├── ResourceInUse             (ResourceInUseException: a mapping being deleted)
    ├── InvalidParameterValue     (InvalidParameterValueException)
    ├── PreconditionFailed        (PreconditionFailedException: a stale RevisionId)
    ├── PolicyLengthExceeded      (PolicyLengthExceededException)
    ├── CodeStorageExceeded       (CodeStorageExceededException)
    ├── RequestTooLarge           (RequestTooLargeException)
    ├── TooManyRequests           (TooManyRequestsException: ``reason`` AWS's Reason)
    ├── ExecutorUnavailable       (ServiceException: no sandbox can be made on this host)
    ├── RecursiveInvocation       (RecursiveInvocationException: a loop stopped, decision 0328)
    ├── CodeSigningConfigNotFound (CodeSigningConfigNotFoundException, decision 0386)
    ├── CodeVerificationFailed    (CodeVerificationFailedException: unsigned, expired, revoked
    │                              or another publisher's code under Enforce)
    ├── InvalidCodeSignature      (InvalidCodeSignatureException: the integrity check failed)
    └── FunctionChanged           (a concurrent write won: the caller reads again)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "CodeSigningConfigNotFound",
    "CodeStorageExceeded",
    "CodeVerificationFailed",
    "ExecutorUnavailable",
    "FunctionChanged",
    "FunctionsError",
    "InvalidCodeSignature",
    "InvalidParameterValue",
    "PolicyLengthExceeded",
    "PreconditionFailed",
    "RecursiveInvocation",
    "RequestTooLarge",
    "ResourceConflict",
    "ResourceInUse",
    "ResourceNotFound",
    "TooManyRequests",
]


class FunctionsError(AndromedeError):
    """A Lambda request refused for a reason its caller can act on."""


class ResourceNotFound(FunctionsError):
    pass


class ResourceConflict(FunctionsError):
    pass


class ResourceInUse(FunctionsError):
    pass


class InvalidParameterValue(FunctionsError):
    pass


class PreconditionFailed(FunctionsError):
    pass


class PolicyLengthExceeded(FunctionsError):
    pass


class CodeStorageExceeded(FunctionsError):
    pass


class RequestTooLarge(FunctionsError):
    pass


class TooManyRequests(FunctionsError):
    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ExecutorUnavailable(FunctionsError):
    pass


class FunctionChanged(FunctionsError):
    """Another write changed the function first; the service reads it again."""


class RecursiveInvocation(FunctionsError):
    """The function's recursive loop detection stopped the invocation (decision 0328)."""


class CodeSigningConfigNotFound(FunctionsError):
    pass


class CodeVerificationFailed(FunctionsError):
    pass


class InvalidCodeSignature(FunctionsError):
    pass
