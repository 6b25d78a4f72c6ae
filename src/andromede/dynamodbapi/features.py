"""The table features this platform does not serve, reported off as DynamoDB reports a table
without them (decision 0237), so that tools reading a table's whole state (Terraform's
``aws_dynamodb_table`` reads them all) see it as it is: no resource policy, Contributor
Insights disabled. Turning one on is refused in words, never pretended. (Point-in-time
recovery is served: ``dynamodbapi.pitr``, decision 0253; Kinesis streaming destinations:
``dynamodbapi.kinesis_destinations``, decision 0262.)"""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler

__all__ = ["FEATURE_ACTIONS"]


async def get_resource_policy(call: DynamoCall) -> dict[str, Any]:
    arn = call.string("ResourceArn", required=True, min_length=1, max_length=1283)
    await call.table("GetResourcePolicy", arn)
    raise DynamoWireError("PolicyNotFoundException", f"Resource-based policy not found for {arn}")


async def describe_contributor_insights(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DescribeContributorInsights")
    if call.params.get("IndexName") is not None:
        raise ValidationError("Secondary indexes are not served by this platform (decision 0237)")
    return {"TableName": table.name, "ContributorInsightsStatus": "DISABLED"}


FEATURE_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeContributorInsights": describe_contributor_insights,
    "GetResourcePolicy": get_resource_policy,
}
