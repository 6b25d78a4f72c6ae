"""The DynamoDB context's domain errors, with no HTTP in them; ``dynamodbapi.errors`` maps
each to DynamoDB's error type.

::

    DynamoError
    ├── ValidationError          a parameter, expression or value DynamoDB refuses
    ├── TableNotFound            no such table for the account
    ├── TableInUse               the name is taken
    ├── LimitExceeded            the account's tables
    ├── ConditionFailed          a ConditionExpression was false (the item, if asked for)
    ├── KeyUnusable              the table's key cannot be opened (the account's ring destroyed)
    ├── WriteContention          one item written by many at once, past the retries
    ├── TransactionCanceled      a transaction's condition failed (the reasons, item by item)
    ├── TransactionConflict      a transaction's items changed under it, past the retries
    ├── ExpiredIterator          a stream's shard iterator past its lifetime (decision 0246)
    ├── TrimmedDataAccess        a stream position whose records the retention removed
    └── ThroughputExceeded       a table's or index's capacity spent (``dynamodb.throttling``,
                                 decision 0267: the wire type and AWS's ThrottlingReasons)
"""

from __future__ import annotations

from typing import Any

from andromede.errors import AndromedeError

__all__ = [
    "ConditionFailed",
    "DynamoError",
    "ExpiredIterator",
    "KeyUnusable",
    "LimitExceeded",
    "TableInUse",
    "TableNotFound",
    "TransactionCanceled",
    "TransactionConflict",
    "TrimmedDataAccess",
    "ValidationError",
    "WriteContention",
]


class DynamoError(AndromedeError):
    pass


class ValidationError(DynamoError):
    pass


class TableNotFound(DynamoError):
    pass


class TableInUse(DynamoError):
    pass


class LimitExceeded(DynamoError):
    pass


class ConditionFailed(DynamoError):
    def __init__(self, item: dict[str, Any] | None = None) -> None:
        super().__init__("The conditional request failed")
        self.item = item


class WriteContention(DynamoError):
    pass


class KeyUnusable(DynamoError):
    pass


class TransactionCanceled(DynamoError):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        codes = ", ".join(r["Code"] for r in reasons)
        super().__init__(
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]"
        )
        self.reasons = reasons


class TransactionConflict(DynamoError):
    pass


class ExpiredIterator(DynamoError):
    pass


class TrimmedDataAccess(DynamoError):
    pass
