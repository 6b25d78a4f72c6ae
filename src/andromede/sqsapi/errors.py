"""The SQS JSON protocol's errors: types, HTTP statuses, query codes, and how domain errors map
to them.

SQS answers an error as ``{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "…"}``
with the ``x-amzn-query-error`` header giving the code of its older Query protocol and the
fault (``AWS.SimpleQueueService.NonExistentQueue;Sender``): botocore raises ``ClientError``
whose ``Error.Code`` is that query code, and picks the modelled exception class
(``client.exceptions.QueueDoesNotExist``) by the ``__type``, as the service is
``awsQueryCompatible``. The Query protocol (decision 0173) answers the same catalogue's query
code in its ``ErrorResponse``. The codes and statuses are the ``awsQueryError`` traits of SQS's
model (a unit test walks botocore's model so that none is missing).
"""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam_errors
from andromede.queues.errors import QueueError

__all__ = ["SqsWireError", "to_sqs_error"]

_SQS = "com.amazonaws.sqs#"
_CORAL = "com.amazon.coral.service#"
_Q = "AWS.SimpleQueueService."


def _types(
    status: int, prefix: str, messages: dict[str, str], *, query_prefix: str = ""
) -> dict[str, tuple[int, str, str, str]]:
    """Entries of one status and ``__type`` namespace whose query code is the type's name
    (after ``query_prefix``)."""
    return {name: (status, prefix, query_prefix + name, text) for name, text in messages.items()}


# type → (status, __type prefix, query code, default message)
CATALOGUE: Final[dict[str, tuple[int, str, str, str]]] = {
    **_types(400, _SQS, {
        "InvalidAttributeName": "The specified attribute does not exist.",
        "InvalidAttributeValue": "A queue attribute value is invalid.",
        "InvalidMessageContents": "The message contains characters outside the allowed set.",
        "InvalidIdFormat": "The specified receipt handle isn't valid for the current version.",
    }),
    **_types(400, _SQS, {
        "MessageNotInflight": "The message is not in flight.",
        "UnsupportedOperation": "The operation is not supported.",
        "TooManyEntriesInBatchRequest": "The batch request has too many entries.",
        "EmptyBatchRequest": "The batch request has no entry.",
        "BatchEntryIdsNotDistinct": "Two or more batch entries have the same Id.",
        "InvalidBatchEntryId": "A batch entry id is invalid.",
        "BatchRequestTooLong": "The batch request is too long.",
        "QueueDeletedRecently": "A queue of this name was deleted in the last 60 seconds.",
    }, query_prefix=_Q),
    **_types(403, _SQS, {
        "PurgeQueueInProgress": "The queue was purged in the last 60 seconds.",
    }, query_prefix=_Q),
    **_types(403, _SQS, {
        "OverLimit": "The limit of the queue or account was reached.",
        "RequestThrottled": "Rate exceeded",
        "InvalidSecurity": "The request was not made over HTTPS or did not use SigV4.",
    }),
    **_types(404, _SQS, {
        "InvalidAddress": "The specified ID is invalid.",
        "ReceiptHandleIsInvalid": "The receipt handle is not valid.",
    }),
    **_types(400, _CORAL, {
        "InvalidParameterValue": "An invalid or out-of-range value was supplied.",
        "MissingParameter": "A required parameter is missing.",
        "IncompleteSignature": "The request signature does not conform to AWS standards.",
        "SerializationException": "The request body is not valid JSON for this operation.",
        # The Query protocol's own (decision 0173).
        "InvalidAction": "The action or operation requested is invalid.",
        "MissingAction": "The request is missing an action.",
        "NoSuchVersion": "An incorrect version was specified in the request.",
        "MalformedVersion": "Version not well formed.",
    }),
    **_types(403, _CORAL, {
        "AccessDenied": "Access to the resource is denied.",
        "MissingAuthenticationToken": "Request is missing Authentication Token",
        "InvalidClientTokenId": "The security token included in the request is invalid.",
        "ExpiredToken": "The security token included in the request is expired",
        "SignatureDoesNotMatch": "The request signature we calculated does not match the "
                                 "signature you provided.",
    }),
    **_types(404, _CORAL, {
        "MalformedQueryString": "The query string is malformed or not UTF-8.",
    }),
    **_types(413, _CORAL, {
        "RequestEntityTooLarge": "The request body is larger than this endpoint accepts.",
    }),
    **_types(500, _CORAL, {
        "InternalFailure": "The request processing has failed because of an unknown error.",
    }),
    # The query codes that are not the type's name.
    "QueueDoesNotExist": (400, _SQS, _Q + "NonExistentQueue",
                          "The specified queue does not exist."),
    "QueueNameExists": (400, _SQS, "QueueAlreadyExists",
                        "A queue already exists with the same name and different attributes."),
    "UnknownOperationException": (400, _CORAL, "UnknownOperation",
                                  "The operation is not known to this service."),
    "ResourceNotFoundException": (404, _SQS, "ResourceNotFoundException",
                                  "One or more specified resources don't exist."),
    # The queue's KMS key (decision 0165): SQS's types, KMS's exception names as query codes.
    "KmsAccessDenied": (400, _SQS, "KMS.AccessDeniedException",
                        "The caller doesn't have the required KMS access."),
    "KmsDisabled": (400, _SQS, "KMS.DisabledException", "The KMS key is disabled."),
    "KmsInvalidState": (400, _SQS, "KMS.InvalidStateException",
                        "The state of the KMS key is not valid for this request."),
    "KmsInvalidKeyUsage": (400, _SQS, "KMS.InvalidKeyUsageException",
                           "The KMS key cannot be used for this operation."),
    "KmsNotFound": (400, _SQS, "KMS.NotFoundException", "The KMS key was not found."),
    "KmsOptInRequired": (403, _SQS, "KMS.OptInRequired",
                         "The request was rejected because the KMS key needs an opt-in."),
    "KmsThrottled": (400, _SQS, "KMS.ThrottlingException", "KMS throttled the request."),
}  # fmt: skip


class SqsWireError(JsonWireError):
    def __init__(self, error_type: str, message: str | None = None) -> None:
        status, prefix, query_code, default = CATALOGUE[error_type]
        self.full_type = prefix + error_type
        self.query_code = query_code
        self.fault = "Receiver" if status >= 500 else "Sender"
        self.query_error = f"{query_code};{self.fault}"
        super().__init__(error_type, status, message if message is not None else default)

    def payload(self) -> dict[str, Any]:
        return {"__type": self.full_type, "message": self.message}

    def headers(self) -> list[tuple[str, str]]:
        # botocore reads the Query protocol's code from here for this awsQueryCompatible service.
        return [("x-amzn-query-error", self.query_error)]


def to_sqs_error(exc: AndromedeError) -> SqsWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, SqsWireError):
        return exc
    if isinstance(exc, QueueError):
        name = type(exc).__name__
        if name in CATALOGUE:
            return SqsWireError(name, str(exc) or None)
        return None
    if isinstance(exc, SigV4Error):
        if exc.code == "RequestTimeTooSkewed":
            # botocore recognises clock skew by this wording and corrects its clock.
            return SqsWireError("SignatureDoesNotMatch", f"Signature expired: {exc.message}")
        if exc.code == "SignatureDoesNotMatch":
            return SqsWireError("SignatureDoesNotMatch")
        return SqsWireError("IncompleteSignature", exc.message)
    if isinstance(exc, iam_errors.ExpiredToken):
        return SqsWireError("ExpiredToken")
    if isinstance(exc, iam_errors.InvalidAccessKeyId):
        return SqsWireError("InvalidClientTokenId")
    if isinstance(exc, iam_errors.AccessDenied):
        return SqsWireError("AccessDenied", str(exc) or None)
    return None
