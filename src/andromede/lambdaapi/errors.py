"""AWS Lambda's wire errors (decision 0286): types, HTTP statuses, and how domain errors map
to them.

Lambda answers an error with its status, the ``x-amzn-ErrorType`` header naming its type
and a JSON body ``{"Type": "User", "message": …}`` (``"Service"`` for its own failures);
botocore raises ``ClientError`` whose code is the type."""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.functions import errors as f
from andromede.functions.provisioned import ProvisionedConfigNotFound

__all__ = ["LambdaWireError", "to_lambda_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (403, "You are not authorized to perform this operation."),
    "CodeStorageExceededException": (400, "Code storage limit exceeded."),
    # Decision 0386.
    "CodeSigningConfigNotFoundException": (
        404,
        "The specified code signing configuration does not exist.",
    ),
    "CodeVerificationFailedException": (
        400,
        "The code signature failed one or more of the validation checks for signature mismatch "
        "or expiry, and the code signing policy is set to ENFORCE.",
    ),
    "InvalidCodeSignatureException": (400, "The code signature failed the integrity check."),
    "InvalidParameterValueException": (400, "One of the parameters in the request is not valid."),
    "InvalidRequestContentException": (400, "The request body could not be parsed as JSON."),
    "MissingAuthenticationTokenException": (403, "Missing Authentication Token"),
    "PolicyLengthExceededException": (400, "The permissions policy for the resource is too large."),
    "PreconditionFailedException": (412, "The RevisionId provided does not match the latest."),
    "ProvisionedConcurrencyConfigNotFoundException": (
        404,
        "The specified configuration does not exist.",
    ),
    "RecursiveInvocationException": (
        400,
        "Lambda has detected your function being invoked in a recursive loop with other AWS "
        "resources and stopped your function's invocation.",
    ),
    "RequestEntityTooLargeException": (413, "The request payload exceeded the Invoke limit."),
    "RequestTooLargeException": (413, "The request payload exceeded the limit."),
    "ResourceConflictException": (
        409,
        "The resource already exists, or another operation is in progress.",
    ),
    "ResourceInUseException": (400, "The resource is in use by another operation."),
    "ResourceNotFoundException": (404, "The resource specified in the request does not exist."),
    "ServiceException": (500, "The Lambda service encountered an internal error."),
    "TooManyRequestsException": (429, "Rate exceeded"),
    "UnsupportedOperationException": (400, "This operation is not supported by this Lambda yet."),
    "UnknownOperationException": (404, "The operation is not known to Lambda."),
}

_DOMAIN: Final[dict[type[f.FunctionsError], str]] = {
    ProvisionedConfigNotFound: "ProvisionedConcurrencyConfigNotFoundException",  # 0314
    f.ResourceNotFound: "ResourceNotFoundException",
    f.ResourceConflict: "ResourceConflictException",
    f.ResourceInUse: "ResourceInUseException",
    f.FunctionChanged: "ResourceConflictException",
    f.InvalidParameterValue: "InvalidParameterValueException",
    f.PreconditionFailed: "PreconditionFailedException",
    f.PolicyLengthExceeded: "PolicyLengthExceededException",
    f.CodeStorageExceeded: "CodeStorageExceededException",
    f.RequestTooLarge: "RequestEntityTooLargeException",
    f.ExecutorUnavailable: "ServiceException",
    f.RecursiveInvocation: "RecursiveInvocationException",  # decision 0328
    f.CodeSigningConfigNotFound: "CodeSigningConfigNotFoundException",  # decision 0386
    f.CodeVerificationFailed: "CodeVerificationFailedException",
    f.InvalidCodeSignature: "InvalidCodeSignatureException",
}


class LambdaWireError(JsonWireError):
    """``members``: the error's members beside its message (a throttle's ``Reason``)."""

    def __init__(self, error_type: str, message: str | None = None, **members: Any) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)
        self.members = members

    def payload(self) -> dict[str, Any]:
        kind = "Service" if self.status >= 500 else "User"
        return {"Type": kind, "message": self.message, **self.members}

    def headers(self) -> list[tuple[str, str]]:
        return [("x-amzn-ErrorType", self.error_type)]


def to_lambda_error(exc: AndromedeError) -> LambdaWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, LambdaWireError):
        return exc
    if isinstance(exc, f.TooManyRequests):
        return LambdaWireError("TooManyRequestsException", str(exc), Reason=exc.reason)
    for kind, error_type in _DOMAIN.items():
        if isinstance(exc, kind):
            return LambdaWireError(error_type, str(exc))
    answered = auth_error(exc)
    return None if answered is None else LambdaWireError(*answered)
