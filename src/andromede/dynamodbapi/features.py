"""CloudWatch Contributor Insights for DynamoDB (decision 0278): UpdateContributorInsights,
DescribeContributorInsights and ListContributorInsights, over
``dynamodb.contributor_insights`` (the managed CloudWatch insight rules it makes for a table
or a global secondary index). The rules are made or removed within the call: Update answers
``ENABLING`` or ``DISABLING`` as AWS does, and Describe then ``ENABLED`` or ``DISABLED``.

(This module once answered Contributor Insights ``DISABLED`` alone, decision 0237. Point-in-
time recovery is ``dynamodbapi.pitr``, decision 0253; Kinesis streaming destinations
``dynamodbapi.kinesis_destinations``, decision 0262; resource policies
``dynamodbapi.resource_policies``, decision 0266.)"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from andromede.dynamodb.contributor_insights import (
    ACCESSED_AND_THROTTLED,
    MODES,
    ContributorInsights,
    InsightsStatus,
)
from andromede.dynamodb.errors import TableNotFound, ValidationError
from andromede.dynamodb.model import Table
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler

__all__ = ["FEATURE_ACTIONS"]

_LIST_MAX: Final = 100  # ListContributorInsights' MaxResults, AWS's bound and default


def _index(call: DynamoCall, table: Table) -> str | None:
    """The global secondary index ``IndexName`` names, if any, which the table must have."""
    name = call.string("IndexName", min_length=3, max_length=255)
    if name is None:
        return None
    if not any(i.name == name and not i.local for i in table.indexes):
        raise DynamoWireError(
            "ResourceNotFoundException",
            f"Requested resource not found: Index: {name} not found for table {table.name}",
        )
    return name


def _service(call: DynamoCall) -> ContributorInsights | None:
    return call.contributor_insights


def _described(status: InsightsStatus) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "TableName": status.table,
        "ContributorInsightsRuleList": list(status.rules),
        "ContributorInsightsStatus": status.status,
    }
    if status.index is not None:
        answer["IndexName"] = status.index
    if status.mode is not None:
        answer["ContributorInsightsMode"] = status.mode
    if status.updated_ms is not None:
        answer["LastUpdateDateTime"] = status.updated_ms / 1000
    return answer


async def describe_contributor_insights(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DescribeContributorInsights")
    index = _index(call, table)
    service = _service(call)
    if service is None or table.tenant_id != call.tenant_id:
        status = InsightsStatus(table.name, index, "DISABLED", None, (), None)
    else:
        status = await service.describe(table, index)
    return _described(status)


async def update_contributor_insights(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("UpdateContributorInsights")
    index = _index(call, table)
    action = call.choice("ContributorInsightsAction", ("ENABLE", "DISABLE"))
    if action is None:
        raise DynamoWireError(
            "ValidationException",
            "1 validation error detected: Value null at 'contributorInsightsAction' failed to "
            "satisfy constraint: Member must not be null",
        )
    mode = call.choice("ContributorInsightsMode", MODES, ACCESSED_AND_THROTTLED)
    assert mode is not None  # noqa: S101 (a default)
    service = _service(call)
    if service is None or table.tenant_id != call.tenant_id:
        raise ValidationError(
            "Contributor Insights is served for the tables of the caller's account in the "
            "platform's home Region (decision 0278)"
        )
    if action == "ENABLE":
        await service.enable(table, index, mode)
    else:
        await service.disable(table, index)
    answer: dict[str, Any] = {
        "TableName": table.name,
        "ContributorInsightsStatus": "ENABLING" if action == "ENABLE" else "DISABLING",
    }
    if index is not None:
        answer["IndexName"] = index
    if action == "ENABLE":
        answer["ContributorInsightsMode"] = mode
    return answer


def _token(status: InsightsStatus) -> str:
    return base64.urlsafe_b64encode(f"{status.table}\0{status.index or ''}".encode()).decode()


def _after(token: str | None) -> tuple[str, str] | None:
    if token is None:
        return None
    try:
        raw = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise DynamoWireError("ValidationException", "Invalid NextToken") from exc
    table, separated, index = raw.partition("\0")
    if not separated:
        raise DynamoWireError("ValidationException", "Invalid NextToken")
    return table, index


async def list_contributor_insights(call: DynamoCall) -> dict[str, Any]:
    await call.authorise("dynamodb:ListContributorInsights", "*")
    limit = call.integer("MaxResults", minimum=0, maximum=_LIST_MAX) or _LIST_MAX
    after = _after(call.string("NextToken", max_length=4096))
    named = call.string("TableName", min_length=1, max_length=1024)
    table = None
    if named is not None:
        owner, name, _ = call.table_ref(named, "ListContributorInsights")
        if owner != call.tenant_id:
            raise TableNotFound(f"Requested resource not found: Table: {named[:255]} not found")
        table = await call.dynamodb.table(owner, name)
    service = _service(call)
    found = (
        []
        if service is None
        else await service.statuses(call.tenant_id, None if table is None else table.name)
    )
    if after is not None:
        found = [s for s in found if (s.table, s.index or "") > after]
    answer: dict[str, Any] = {
        "ContributorInsightsSummaries": [
            {
                "TableName": s.table,
                **({"IndexName": s.index} if s.index is not None else {}),
                "ContributorInsightsStatus": s.status,
                **({"ContributorInsightsMode": s.mode} if s.mode is not None else {}),
            }
            for s in found[:limit]
        ]
    }
    if len(found) > limit:
        answer["NextToken"] = _token(found[limit - 1])
    return answer


FEATURE_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeContributorInsights": describe_contributor_insights,
    "ListContributorInsights": list_contributor_insights,
    "UpdateContributorInsights": update_contributor_insights,
}
