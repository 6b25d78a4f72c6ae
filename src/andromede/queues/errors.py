"""The queue context's errors, free of any wire protocol. Their names are SQS's own error
types, which the wire adapter (``andromede.sqsapi.errors``) maps to status and query code::

    QueueError
    ├── QueueDoesNotExist            no such queue of the caller's account
    ├── QueueNameExists              a queue of that name with other attributes
    ├── InvalidAttributeName         an attribute SQS does not have, or not served here
    ├── InvalidAttributeValue        an attribute's value out of its range
    ├── InvalidParameterValue        a parameter (a body, a message attribute…) refused
    ├── MissingParameter             a required parameter absent
    ├── ReceiptHandleIsInvalid       a receipt handle that names no message of the queue
    ├── MessageNotInflight           a visibility change of a message not in flight
    ├── OverLimit                    too many queues, or too many messages in flight
    ├── UnsupportedOperation         FIFO queues (not served)
    ├── TooManyEntriesInBatchRequest, EmptyBatchRequest, BatchEntryIdsNotDistinct,
    │   InvalidBatchEntryId, BatchRequestTooLong       a batch's shape
    ├── InvalidMessageContents       characters outside SQS's allowed set
    ├── ResourceNotFoundException    no such message move task, or its source queue gone
    └── KmsError                     the queue's KMS key refused a message's sealing or opening
        ├── KmsAccessDenied          the caller may not use the key (key policy, grants, IAM)
        ├── KmsDisabled              the key is disabled
        ├── KmsInvalidState          the key is pending deletion, or otherwise unusable
        ├── KmsInvalidKeyUsage       the key is not a symmetric encryption key
        └── KmsNotFound              no such key (or alias)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "BatchEntryIdsNotDistinct",
    "BatchRequestTooLong",
    "EmptyBatchRequest",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidBatchEntryId",
    "InvalidMessageContents",
    "InvalidParameterValue",
    "KmsAccessDenied",
    "KmsDisabled",
    "KmsError",
    "KmsInvalidKeyUsage",
    "KmsInvalidState",
    "KmsNotFound",
    "MessageNotInflight",
    "MissingParameter",
    "OverLimit",
    "QueueDoesNotExist",
    "QueueError",
    "QueueNameExists",
    "ReceiptHandleIsInvalid",
    "ResourceNotFoundException",
    "TooManyEntriesInBatchRequest",
    "UnsupportedOperation",
]


class QueueError(AndromedeError):
    """Root of the queue context's errors."""


class QueueDoesNotExist(QueueError):
    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(QueueError):
    pass


class InvalidAttributeName(QueueError):
    pass


class InvalidAttributeValue(QueueError):
    pass


class InvalidParameterValue(QueueError):
    pass


class MissingParameter(QueueError):
    pass


class ReceiptHandleIsInvalid(QueueError):
    pass


class MessageNotInflight(QueueError):
    pass


class OverLimit(QueueError):
    pass


class UnsupportedOperation(QueueError):
    pass


class TooManyEntriesInBatchRequest(QueueError):
    pass


class EmptyBatchRequest(QueueError):
    pass


class BatchEntryIdsNotDistinct(QueueError):
    pass


class InvalidBatchEntryId(QueueError):
    pass


class BatchRequestTooLong(QueueError):
    pass


class InvalidMessageContents(QueueError):
    pass


class ResourceNotFoundException(QueueError):
    pass


class KmsError(QueueError):
    """The queue's customer-managed key (decision 0165) refused its use."""


class KmsAccessDenied(KmsError):
    pass


class KmsDisabled(KmsError):
    pass


class KmsInvalidState(KmsError):
    pass


class KmsInvalidKeyUsage(KmsError):
    pass


class KmsNotFound(KmsError):
    pass
