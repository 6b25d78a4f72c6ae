"""The table features this platform does not serve, reported off as DynamoDB reports a table
without them (decision 0237), so that tools reading a table's whole state (Terraform's
``aws_dynamodb_table`` reads them all) see it as it is: Contributor Insights disabled.
Turning one on is refused in words, never pretended. (Point-in-time recovery is served:
``dynamodbapi.pitr``, decision 0253; Kinesis streaming destinations:
``dynamodbapi.kinesis_destinations``, decision 0262; resource policies:
``dynamodbapi.resource_policies``, decision 0266.)"""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodbapi.params import DynamoCall, Handler

__all__ = ["FEATURE_ACTIONS"]


async def describe_contributor_insights(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DescribeContributorInsights")
    if call.params.get("IndexName") is not None:
        raise ValidationError("Secondary indexes are not served by this platform (decision 0237)")
    return {"TableName": table.name, "ContributorInsightsStatus": "DISABLED"}


FEATURE_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeContributorInsights": describe_contributor_insights,
}
