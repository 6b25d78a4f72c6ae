"""Which DynamoDB calls another account may make on a table or a stream by its ARN when the
resource's policy allows it (decision 0266), and the shape of a call's authorisation.

Another account reaches a table only by its ARN, and only for the item calls, the queries,
the transactions' parts and the descriptions: the calls whose handlers act on the table they
are given (its own account's keys, store and meter). Every other call with another account's
ARN is refused ``AccessDeniedException`` before anything is looked up, as before."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Final, Protocol

__all__ = ["SHARED_STREAM_ACTIONS", "SHARED_TABLE_ACTIONS", "Authorise", "Judge"]

SHARED_TABLE_ACTIONS: Final = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "ConditionCheckItem",
        "DeleteItem",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "UpdateItem",
    }
)
SHARED_STREAM_ACTIONS: Final = frozenset({"DescribeStream", "GetRecords", "GetShardIterator"})


class Authorise(Protocol):
    """``iam_action`` on ``resource`` for the caller, by its identity policies and, when
    given, the resource's ``policy`` of account ``owner``: AccessDeniedException otherwise."""

    def __call__(
        self, iam_action: str, resource: str, /, policy: str | None = None, owner: str | None = None
    ) -> Awaitable[None]: ...


class Judge(Protocol):
    """What :class:`Authorise` decides, without raising: None when allowed, else the
    refusal's message (PutResourcePolicy asks it of the policy about to be written)."""

    def __call__(
        self, iam_action: str, resource: str, /, policy: str | None = None, owner: str | None = None
    ) -> Awaitable[str | None]: ...
