"""CloudWatch's wire errors: codes, HTTP statuses, shape names, and how domain errors map to
them (decision 0172).

One :class:`CloudWatchError` carries the Query protocol's code (``InvalidParameterValue``);
each protocol renders it its own way (:mod:`andromede.cloudwatchapi.protocol`): the Query
protocol's ``ErrorResponse`` XML with that code; JSON 1.0 and RPC v2 CBOR a body
``{"__type": "com.amazonaws.cloudwatch#InvalidParameterValueException", "message": …}`` and
the ``x-amzn-query-error: InvalidParameterValue;Sender`` header, from which botocore takes
the code for this ``awsQueryCompatible`` service — so a client sees the same code whichever
protocol it speaks.
"""

from __future__ import annotations

from typing import Final

from andromede.errors import AndromedeError
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam_errors
from andromede.metrics.errors import MetricsError

__all__ = ["CATALOGUE", "CloudWatchError", "to_cloudwatch_error"]

# code → (status, the error's shape name in the service model, default message)
CATALOGUE: Final[dict[str, tuple[int, str, str]]] = {
    "InvalidParameterValue": (400, "InvalidParameterValueException",
                              "An input parameter is invalid."),
    "MissingParameter": (400, "MissingRequiredParameterException",
                         "A required parameter is missing."),
    "InvalidParameterCombination": (400, "InvalidParameterCombinationException",
                                    "Parameters that may not be used together were given."),
    "InvalidNextToken": (400, "InvalidNextToken", "The next token is not valid."),
    "ResourceNotFound": (404, "ResourceNotFound", "The named resource does not exist."),
    "ResourceNotFoundException": (404, "ResourceNotFoundException",
                                  "The named resource does not exist."),
    "LimitExceeded": (400, "LimitExceededFault", "The quota for alarms has been reached."),
    "LimitExceededException": (400, "LimitExceededException",
                               "The operation exceeded one or more limits."),
    "InvalidParameterInput": (400, "DashboardInvalidInputError",
                              "Some part of the dashboard data is invalid."),
    "InvalidAction": (400, "InvalidAction", "The action is not valid for this endpoint."),
    "UnknownOperationException": (400, "UnknownOperationException",
                                  "The operation is not known to this service."),
    "SerializationException": (400, "SerializationException",
                               "The request body does not match the operation's input."),
    "IncompleteSignature": (400, "IncompleteSignature",
                            "The request signature does not conform to AWS standards."),
    "Throttling": (400, "Throttling", "Rate exceeded"),
    "AccessDenied": (403, "AccessDenied", "User is not authorized to perform this action."),
    "MissingAuthenticationToken": (403, "MissingAuthenticationToken",
                                   "Request is missing Authentication Token"),
    "InvalidClientTokenId": (403, "InvalidClientTokenId",
                             "The security token included in the request is invalid."),
    "ExpiredToken": (403, "ExpiredToken", "The security token included in the request is "
                     "expired"),
    "SignatureDoesNotMatch": (403, "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the "
                              "signature you provided."),
    "RequestEntityTooLarge": (413, "RequestEntityTooLarge",
                              "The request body is larger than this endpoint accepts."),
    "NotImplemented": (501, "NotImplemented", "The operation is not implemented here."),
    "InternalServiceError": (500, "InternalServiceFault",
                             "The request processing has failed because of an unknown error."),
}  # fmt: skip


class CloudWatchError(AndromedeError):
    """An error in CloudWatch's words; ``code`` is a key of :data:`CATALOGUE`."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.status, self.shape, default = CATALOGUE[code]
        self.code = code
        self.message = default if message is None else message
        super().__init__(f"{code}: {self.message}")

    @property
    def sender_fault(self) -> bool:
        return self.status < 500

    @property
    def query_error(self) -> str:
        return f"{self.code};{'Sender' if self.sender_fault else 'Receiver'}"


def to_cloudwatch_error(exc: AndromedeError) -> CloudWatchError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, CloudWatchError):
        return exc
    if isinstance(exc, MetricsError):
        return CloudWatchError(type(exc).__name__, exc.message)
    if isinstance(exc, SigV4Error):
        if exc.code == "RequestTimeTooSkewed":
            # botocore recognises clock skew by this wording and corrects its clock.
            return CloudWatchError("SignatureDoesNotMatch", f"Signature expired: {exc.message}")
        if exc.code == "SignatureDoesNotMatch":
            return CloudWatchError("SignatureDoesNotMatch")
        return CloudWatchError("IncompleteSignature", exc.message)
    if isinstance(exc, iam_errors.ExpiredToken):
        return CloudWatchError("ExpiredToken")
    if isinstance(exc, iam_errors.InvalidAccessKeyId):
        return CloudWatchError("InvalidClientTokenId")
    if isinstance(exc, iam_errors.AccessDenied):
        return CloudWatchError("AccessDenied", str(exc) or None)
    return None
