"""CloudWatch Logs' log group classes and deletion protection (decision 0222): the classes a
group may be made in, what the Infrequent Access class refuses, and the words a protected
group's deletion is refused in. Pure: no I/O here.

A group's class is chosen when it is made and never changes. ``STANDARD`` serves everything;
``INFREQUENT_ACCESS`` costs half at ingestion (its own meter) and lacks what AWS's log class
table and announcement list: metric filters, Live Tail, data protection policies, and in
Logs Insights the ``pattern``, ``diff``, ``filterIndex`` and ``unmask`` commands; its
subscription filter operations answer ValidationException (decision 0225).
``DELIVERY`` only carries Lambda's deliveries to S3 or Firehose, which the platform has not:
refused rather than accepted and useless.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from andromede.logs.errors import InvalidParameter, LogsError
from andromede.logs.insights_syntax import MalformedQuery, tokens

__all__ = [
    "INFREQUENT_ACCESS",
    "LOG_CLASSES",
    "STANDARD",
    "DeletionProtected",
    "StandardClassOnly",
    "check_log_class",
    "check_query_for_classes",
    "group_protected",
    "ingestion_meter",
    "refuse_infrequent_access",
    "refuse_unless_standard",
    "stream_protected",
]

STANDARD: Final = "STANDARD"
INFREQUENT_ACCESS: Final = "INFREQUENT_ACCESS"
DELIVERY: Final = "DELIVERY"
LOG_CLASSES: Final = (STANDARD, INFREQUENT_ACCESS)
# The Logs Insights commands an Infrequent Access group does not run (AWS's list exactly;
# ``filterIndex`` is refused for every class here: field index policies are kept, but
# nothing is indexed, decision 0232).
_IA_COMMANDS: Final = ("pattern", "diff", "filterindex", "unmask")


def ingestion_meter(log_class: str) -> str:
    """The billing meter a group's ingested bytes count in: AWS prices the classes apart."""
    return "logs.ingested.infrequent-access" if log_class == INFREQUENT_ACCESS else "logs.ingested"


class DeletionProtected(LogsError):
    """A deletion of (or in) a group whose deletion protection is on: AWS's
    ValidationException."""


class StandardClassOnly(LogsError):
    """An operation AWS serves on Standard groups only, asked of another class's group:
    AWS's ValidationException (its subscription filter operations, decision 0225)."""


def refuse_unless_standard(log_class: str) -> None:
    if log_class != STANDARD:
        # AWS's words, as its API answers DescribeSubscriptionFilters on such a group.
        raise StandardClassOnly("This operation is only supported on the Standard log class.")


def group_protected() -> str:
    # AWS's words, as its user guide quotes them.
    return (
        "Cannot delete log group with deletion protection enabled. Disable deletion "
        "protection first."
    )


def stream_protected() -> str:
    # Ours, after the group's: AWS documents only the group's wording.
    return (
        "Cannot delete log stream in a log group with deletion protection enabled. Disable "
        "deletion protection first."
    )


def check_log_class(
    value: object, parameter: str = "logGroupClass", *, listing: bool = False
) -> str:
    """A class a group may be made in; with ``listing``, one DescribeLogGroups may name (AWS's
    three: no group here is DELIVERY, so that filter finds none)."""
    if value == DELIVERY and listing:
        return DELIVERY
    if value == DELIVERY:
        raise InvalidParameter(
            "The DELIVERY log class only holds Lambda's deliveries to Amazon S3 or Firehose, "
            "which this deployment does not serve: use STANDARD or INFREQUENT_ACCESS "
            "(decision 0222)"
        )
    if value not in LOG_CLASSES:
        raise InvalidParameter(
            f"1 validation error detected: Value '{str(value)[:64]}' at '{parameter}' failed "
            "to satisfy constraint: Member must satisfy enum value set: "
            "[STANDARD, INFREQUENT_ACCESS, DELIVERY]"
        )
    return str(value)


def refuse_infrequent_access(log_class: str, feature: str) -> None:
    """InvalidParameterException when ``feature`` is asked of an Infrequent Access group."""
    if log_class == INFREQUENT_ACCESS:
        raise InvalidParameter(
            f"{feature} is not supported for log groups in the INFREQUENT_ACCESS log class."
        )


def check_query_for_classes(query_string: str, classes: Iterable[str]) -> None:
    """A query over any Infrequent Access group may not use the commands that class lacks:
    MalformedQueryException at the first of them (the query already parsed)."""
    if INFREQUENT_ACCESS not in classes:
        return
    found = tokens(query_string)
    for index, token in enumerate(found):
        word = token.text.lower() if token.kind == "name" else ""
        if word not in _IA_COMMANDS:
            continue
        before = found[index - 1] if index else None
        after = found[index + 1] if index + 1 < len(found) else None
        is_command = before is None or (before.kind == "op" and before.text == "|")
        # ``unmask`` is a command and a function (``fields unmask(@message)``) alike.
        is_call = word == "unmask" and after is not None and after.text == "("
        if is_command or is_call:
            raise MalformedQuery(
                f"{token.text} is not supported for log groups in the INFREQUENT_ACCESS log "
                f"class at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            )
