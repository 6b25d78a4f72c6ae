"""DynamoDB's wire errors: types, HTTP statuses, and how domain errors map to them.

AWS answers ``{"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
"message": "…"}`` with status 400 (500 for ``InternalServerError``) and the
``x-amzn-RequestId`` header; botocore raises ``ClientError`` whose code is the part after
``#``. A ``ConditionalCheckFailedException`` carries the item when the call asked for it
(``ReturnValuesOnConditionCheckFailure`` ``ALL_OLD``). An operation of the API model this
platform does not serve is ``UnknownOperationException``.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.dynamodb import errors as d
from andromede.dynamodb.throttling import ThroughputExceeded
from andromede.errors import AndromedeError

__all__ = ["DynamoWireError", "to_dynamodb_error"]

_SERVICE: Final = "com.amazonaws.dynamodb.v20120810#"
_CORAL: Final = "com.amazon.coral.validate#"
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "The caller is not authorized to perform this operation."),
    "BackupInUseException": (
        400,
        "There is another ongoing conflicting backup control plane operation on the table.",
    ),
    "BackupNotFoundException": (400, "Backup not found for the given BackupARN."),
    "ConditionalCheckFailedException": (400, "The conditional request failed"),
    "DuplicateItemException": (400, "Duplicate primary key exists in table"),
    "ExpiredIteratorException": (400, "The shard iterator has expired."),
    "GlobalTableNotFoundException": (400, "The specified global table does not exist."),
    # Exports and imports (decision 0261).
    "ExportConflictException": (400, "There was a conflict when writing to the bucket."),
    "ExportNotFoundException": (400, "The specified export was not found."),
    "ImportConflictException": (400, "There was a conflict when importing from the bucket."),
    "ImportNotFoundException": (400, "The specified import was not found."),
    "InvalidExportTimeException": (400, "The specified ExportTime is outside of the window."),
    "InternalServerError": (500, "Internal server error"),
    "InvalidRestoreTimeException": (
        400,
        "An invalid restore time was specified. RestoreDateTime must be between "
        "EarliestRestorableDateTime and LatestRestorableDateTime.",
    ),
    "LimitExceededException": (400, "Too many operations for a given subscriber."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "PointInTimeRecoveryUnavailableException": (
        400,
        "Point in time recovery has not yet been enabled for this source table.",
    ),
    "PolicyNotFoundException": (400, "Resource-based policy not found"),
    "ProvisionedThroughputExceededException": (
        400,
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "RequestLimitExceeded": (  # decision 0267: an on-demand table past the account's quota
        400,
        "Throughput exceeds the current throughput limit for your account.",
    ),
    "ResourceInUseException": (400, "The resource is in use."),
    "ResourceNotFoundException": (400, "Requested resource not found"),
    "TableAlreadyExistsException": (400, "A target table with the specified name already exists."),
    "TableNotFoundException": (400, "Table not found"),
    "ThrottlingException": (400, "Rate of requests exceeds the allowed throughput."),
    "TransactionCanceledException": (400, "Transaction cancelled"),
    "TransactionConflictException": (400, "Transaction is ongoing for the item"),
    "IdempotentParameterMismatchException": (400, "Idempotent parameter mismatch"),
    "TransactionInProgressException": (400, "Transaction is in progress"),
    "TrimmedDataAccessException": (
        400,
        "The operation attempted to read past the oldest stream record in a shard.",
    ),
    "ValidationException": (400, "The input fails to satisfy the constraints of the operation."),
}


class DynamoWireError(JsonWireError):
    def __init__(
        self, error_type: str, message: str | None = None, item: dict[str, Any] | None = None,
        reasons: list[dict[str, Any]] | None = None,
        throttling: list[tuple[str, str]] | None = None,
    ) -> None:  # fmt: skip
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)
        self.item = item
        self.reasons = reasons
        self.throttling = throttling  # ThrottlingReasons: (reason, resource ARN) (0267)

    def payload(self) -> dict[str, Any]:
        prefix = _CORAL if self.error_type == "ValidationException" else _SERVICE
        payload: dict[str, Any] = {"__type": prefix + self.error_type, "message": self.message}
        if self.item is not None:
            payload["Item"] = self.item
        if self.reasons is not None:
            payload["CancellationReasons"] = self.reasons
        if self.throttling:
            payload["ThrottlingReasons"] = [
                {"reason": reason, "resource": resource} for reason, resource in self.throttling
            ]
        return payload


_DOMAIN: Final[tuple[tuple[type[AndromedeError], str], ...]] = (
    (d.TableNotFound, "ResourceNotFoundException"),
    (d.TableInUse, "ResourceInUseException"),
    (d.ValidationError, "ValidationException"),
    (d.LimitExceeded, "LimitExceededException"),
    (d.WriteContention, "ThrottlingException"),
    (d.TransactionConflict, "TransactionConflictException"),
    (d.ExpiredIterator, "ExpiredIteratorException"),
    (d.TrimmedDataAccess, "TrimmedDataAccessException"),
    # What AWS answers for a table whose KMS key was disabled or deleted.
    (d.KeyUnusable, "AccessDeniedException"),
)


def to_dynamodb_error(exc: AndromedeError) -> DynamoWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, DynamoWireError):
        return exc
    if isinstance(exc, d.ConditionFailed):
        return DynamoWireError("ConditionalCheckFailedException")
    if isinstance(exc, ThroughputExceeded):
        return DynamoWireError(exc.error_type, str(exc), throttling=exc.reasons)
    if isinstance(exc, d.TransactionCanceled):
        return DynamoWireError("TransactionCanceledException", str(exc), reasons=exc.reasons)
    for domain, error_type in _DOMAIN:
        if isinstance(exc, domain):
            return DynamoWireError(error_type, str(exc) or None)
    answered = auth_error(exc)
    return None if answered is None else DynamoWireError(*answered)
