"""The shapes of SQS's Query protocol (decision 0173): each action's parameters and result,
member by member, with the JSON protocol's name and the Query protocol's.

The two protocols carry the same members under different names. A JSON ``"Attributes": {…}``
is Query's flattened map ``Attribute.N.Name`` / ``Attribute.N.Value`` in a request and
``<Attribute><Name/><Value/></Attribute>`` repeated in an answer; a JSON list is flattened
under its entries' name (``"AttributeNames": [...]`` is ``AttributeName.N``, ``"Entries"`` of
SendMessageBatch is ``SendMessageBatchRequestEntry.N.Id``…). The names are those of the
service model botocore shipped while SQS spoke Query (API version 2012-11-05) and of SQS's
Smithy model's ``xmlName`` traits for the members added since (``MessageSystemAttributeNames``
is ``AttributeName.N``, as ``AttributeNames`` is). A unit test walks botocore's
current model and that older one against this table, so a member added or renamed cannot be
missed. Data, not code: :mod:`andromede.sqsapi.query` reads and writes by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["SHAPES", "ListOf", "MapOf", "Member", "Scalar", "Shape", "Struct"]


@dataclass(frozen=True, slots=True)
class Scalar:
    """A string (binary values are base64 text on both protocols), integer or boolean."""

    kind: Literal["string", "integer", "boolean"]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A flattened list: its entries under the member's Query name, numbered from 1."""

    member: Shape


@dataclass(frozen=True, slots=True)
class MapOf:
    """A flattened map: each entry under the member's Query name, with its key and value."""

    value: Shape
    key_name: str = "Name"
    value_name: str = "Value"


@dataclass(frozen=True, slots=True)
class Member:
    name: str  # the JSON protocol's
    wire: str  # the Query protocol's (a flattened list's or map's: its entries')
    shape: Shape


@dataclass(frozen=True, slots=True)
class Struct:
    members: tuple[Member, ...]


Shape = Scalar | ListOf | MapOf | Struct

STRING: Final = Scalar("string")
INTEGER: Final = Scalar("integer")
BOOLEAN: Final = Scalar("boolean")


def _struct(*members: tuple[str, str, Shape] | str) -> Struct:
    """Members as ``(json, query, shape)``, or a string member of one name on both."""
    return Struct(
        tuple(
            Member(m, m, STRING) if isinstance(m, str) else Member(m[0], m[1], m[2])
            for m in members
        )
    )


def _same(name: str, shape: Shape) -> tuple[str, str, Shape]:
    return (name, name, shape)


_ATTRIBUTE_VALUE: Final = _struct(
    "StringValue",
    "BinaryValue",
    ("StringListValues", "StringListValue", ListOf(STRING)),
    ("BinaryListValues", "BinaryListValue", ListOf(STRING)),
    "DataType",
)
_TAGS: Final = MapOf(STRING, key_name="Key", value_name="Value")
_BATCH_ERROR: Final = (
    "Failed",
    "BatchResultErrorEntry",
    ListOf(_struct("Id", _same("SenderFault", BOOLEAN), "Code", "Message")),
)
_IDS: Final = ListOf(_struct("Id"))
_MESSAGE: Final = _struct(
    "MessageId",
    "ReceiptHandle",
    "MD5OfBody",
    "Body",
    ("Attributes", "Attribute", MapOf(STRING)),
    "MD5OfMessageAttributes",
    ("MessageAttributes", "MessageAttribute", MapOf(_ATTRIBUTE_VALUE)),
)
_SEND_FIELDS: Final = (
    "MessageBody",
    _same("DelaySeconds", INTEGER),
    ("MessageAttributes", "MessageAttribute", MapOf(_ATTRIBUTE_VALUE)),
    ("MessageSystemAttributes", "MessageSystemAttribute", MapOf(_ATTRIBUTE_VALUE)),
    "MessageDeduplicationId",
    "MessageGroupId",
)
_SENT_FIELDS: Final = (
    "MD5OfMessageBody",
    "MD5OfMessageAttributes",
    "MD5OfMessageSystemAttributes",
    "MessageId",
    "SequenceNumber",
)
_MOVE_TASK: Final = _struct(
    "TaskHandle",
    "Status",
    "SourceArn",
    "DestinationArn",
    _same("MaxNumberOfMessagesPerSecond", INTEGER),
    _same("ApproximateNumberOfMessagesMoved", INTEGER),
    _same("ApproximateNumberOfMessagesToMove", INTEGER),
    "FailureReason",
    _same("StartedTimestamp", INTEGER),
)
_PAGE: Final = ("NextToken", _same("MaxResults", INTEGER))

# action → (its parameters, its result; None for an answer with no result element)
SHAPES: Final[dict[str, tuple[Struct, Struct | None]]] = {
    "AddPermission": (
        _struct(
            "QueueUrl",
            "Label",
            ("AWSAccountIds", "AWSAccountId", ListOf(STRING)),
            ("Actions", "ActionName", ListOf(STRING)),
        ),
        None,
    ),
    "CancelMessageMoveTask": (
        _struct("TaskHandle"),
        _struct(_same("ApproximateNumberOfMessagesMoved", INTEGER)),
    ),
    "ChangeMessageVisibility": (
        _struct("QueueUrl", "ReceiptHandle", _same("VisibilityTimeout", INTEGER)),
        None,
    ),
    "ChangeMessageVisibilityBatch": (
        _struct(
            "QueueUrl",
            (
                "Entries",
                "ChangeMessageVisibilityBatchRequestEntry",
                ListOf(_struct("Id", "ReceiptHandle", _same("VisibilityTimeout", INTEGER))),
            ),
        ),
        _struct(("Successful", "ChangeMessageVisibilityBatchResultEntry", _IDS), _BATCH_ERROR),
    ),
    "CreateQueue": (
        _struct("QueueName", ("Attributes", "Attribute", MapOf(STRING)), ("tags", "Tag", _TAGS)),
        _struct("QueueUrl"),
    ),
    "DeleteMessage": (_struct("QueueUrl", "ReceiptHandle"), None),
    "DeleteMessageBatch": (
        _struct(
            "QueueUrl",
            ("Entries", "DeleteMessageBatchRequestEntry", ListOf(_struct("Id", "ReceiptHandle"))),
        ),
        _struct(("Successful", "DeleteMessageBatchResultEntry", _IDS), _BATCH_ERROR),
    ),
    "DeleteQueue": (_struct("QueueUrl"), None),
    "GetQueueAttributes": (
        _struct("QueueUrl", ("AttributeNames", "AttributeName", ListOf(STRING))),
        _struct(("Attributes", "Attribute", MapOf(STRING))),
    ),
    "GetQueueUrl": (_struct("QueueName", "QueueOwnerAWSAccountId"), _struct("QueueUrl")),
    "ListDeadLetterSourceQueues": (
        _struct("QueueUrl", *_PAGE),
        _struct(("queueUrls", "QueueUrl", ListOf(STRING)), "NextToken"),
    ),
    "ListMessageMoveTasks": (
        _struct("SourceArn", _same("MaxResults", INTEGER)),
        _struct(("Results", "ListMessageMoveTasksResultEntry", ListOf(_MOVE_TASK))),
    ),
    "ListQueueTags": (_struct("QueueUrl"), _struct(("Tags", "Tag", _TAGS))),
    "ListQueues": (
        _struct("QueueNamePrefix", *_PAGE),
        _struct(("QueueUrls", "QueueUrl", ListOf(STRING)), "NextToken"),
    ),
    "PurgeQueue": (_struct("QueueUrl"), None),
    "ReceiveMessage": (
        _struct(
            "QueueUrl",
            ("AttributeNames", "AttributeName", ListOf(STRING)),
            # Smithy's model names it AttributeName on the Query wire too: one list, two members.
            ("MessageSystemAttributeNames", "AttributeName", ListOf(STRING)),
            ("MessageAttributeNames", "MessageAttributeName", ListOf(STRING)),
            _same("MaxNumberOfMessages", INTEGER),
            _same("VisibilityTimeout", INTEGER),
            _same("WaitTimeSeconds", INTEGER),
            "ReceiveRequestAttemptId",
        ),
        _struct(("Messages", "Message", ListOf(_MESSAGE))),
    ),
    "RemovePermission": (_struct("QueueUrl", "Label"), None),
    "SendMessage": (_struct("QueueUrl", *_SEND_FIELDS), _struct(*_SENT_FIELDS)),
    "SendMessageBatch": (
        _struct(
            "QueueUrl",
            ("Entries", "SendMessageBatchRequestEntry", ListOf(_struct("Id", *_SEND_FIELDS))),
        ),
        _struct(
            ("Successful", "SendMessageBatchResultEntry", ListOf(_struct("Id", *_SENT_FIELDS))),
            _BATCH_ERROR,
        ),
    ),
    "SetQueueAttributes": (
        _struct("QueueUrl", ("Attributes", "Attribute", MapOf(STRING))),
        None,
    ),
    "StartMessageMoveTask": (
        _struct("SourceArn", "DestinationArn", _same("MaxNumberOfMessagesPerSecond", INTEGER)),
        _struct("TaskHandle"),
    ),
    "TagQueue": (_struct("QueueUrl", ("Tags", "Tag", _TAGS)), None),
    "UntagQueue": (_struct("QueueUrl", ("TagKeys", "TagKey", ListOf(STRING))), None),
}
