"""AddPermission and RemovePermission as SQS edits a queue's policy with them (decision 0165).
Pure: no I/O.

AddPermission adds one statement whose ``Sid`` is the label: ``Allow``, the principals
``arn:aws:iam::<account>:root`` of each account given, the actions ``SQS:<Action>`` given
(``*`` for all), the queue's ARN as resource, into the queue's policy (made with SQS's
``Id`` ``<queue ARN>/SQSDefaultPolicy`` when there is none). A label already used is
refused; at most 7 actions a call (SQS's ``OverLimit``). RemovePermission removes the
statement of that label, and the policy when it was the last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

from andromede.queues.errors import InvalidParameterValue, MissingParameter, OverLimit
from andromede.queues.model import Queue

__all__ = ["GRANTABLE", "MAX_ACTIONS", "add_permission", "remove_permission"]

MAX_ACTIONS: Final = 7
_LABEL: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT: Final = re.compile(r"[0-9]{12}")
# What AddPermission may grant (SQS's list: the owner's actions are not among them).
GRANTABLE: Final = frozenset(
    {
        "*",
        "ChangeMessageVisibility",
        "DeleteMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ReceiveMessage",
        "SendMessage",
    }
)


def _check_label(label: str) -> None:
    if not _LABEL.fullmatch(label):
        raise InvalidParameterValue(
            f"Value {label[:128]} for parameter Label is invalid. Reason: Can only include "
            "alphanumeric characters, hyphens, or underscores. 1 to 80 in length."
        )


def _statements(queue: Queue) -> tuple[dict[str, Any], list[Any]]:
    text = queue.attributes.get("Policy")
    policy: dict[str, Any] = (
        json.loads(text)
        if text
        else {"Version": "2012-10-17", "Id": f"{queue.arn}/SQSDefaultPolicy", "Statement": []}
    )
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return policy, list(statements)


def add_permission(
    queue: Queue, label: str, accounts: Sequence[str], actions: Sequence[str]
) -> str:
    """The queue's policy with the statement ``label`` added."""
    _check_label(label)
    if not accounts:
        raise MissingParameter("The request must contain the parameter AWSAccountIds.")
    if not actions:
        raise MissingParameter("The request must contain the parameter Actions.")
    if len(actions) > MAX_ACTIONS:
        raise OverLimit(f"{len(actions)} Actions were found, maximum allowed is {MAX_ACTIONS}.")
    for account in accounts:
        if not _ACCOUNT.fullmatch(account):
            raise InvalidParameterValue(
                f"Value {account[:64]} for parameter AWSAccountIds is invalid."
            )
    for action in actions:
        if action not in GRANTABLE:
            raise InvalidParameterValue(
                f"Value SQS:{action[:64]} for parameter ActionName is invalid. Reason: Only the "
                "queue owner is allowed to invoke this action."
            )
    policy, statements = _statements(queue)
    if any(isinstance(s, dict) and s.get("Sid") == label for s in statements):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: Already exists."
        )
    principals = [f"arn:aws:iam::{account}:root" for account in accounts]
    granted = [f"SQS:{action}" for action in actions]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": granted[0] if len(granted) == 1 else granted,
            "Resource": queue.arn,
        }
    )
    policy["Statement"] = statements
    return json.dumps(policy, separators=(",", ":"))


def remove_permission(queue: Queue, label: str) -> str:
    """The queue's policy without the statement ``label`` ("" when none is left)."""
    _check_label(label)
    policy, statements = _statements(queue)
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == label)]
    if len(kept) == len(statements):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: can't find label on "
            "existing policy."
        )
    if not kept:
        return ""
    policy["Statement"] = kept
    return json.dumps(policy, separators=(",", ":"))
