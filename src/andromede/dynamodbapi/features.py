"""The table features this platform does not serve, reported off as DynamoDB reports a table
without them (decision 0237), so that tools reading a table's whole state (Terraform's
``aws_dynamodb_table`` reads them all) see it as it is: point-in-time recovery disabled
(DescribeContinuousBackups; UpdateContinuousBackups may only keep it off), no Kinesis
streaming destination, no resource policy, Contributor Insights disabled. Turning one on is
refused in words, never pretended."""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.errors import TableNotFound, ValidationError
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid

__all__ = ["FEATURE_ACTIONS"]

_OFF: Final = {
    "ContinuousBackupsStatus": "DISABLED",
    "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"},
}


async def describe_continuous_backups(call: DynamoCall) -> dict[str, Any]:
    try:
        await call.table("DescribeContinuousBackups")
    except TableNotFound as exc:  # this call's own error type, as AWS's model says
        raise DynamoWireError("TableNotFoundException", str(exc)) from None
    return {"ContinuousBackupsDescription": _OFF}


async def update_continuous_backups(call: DynamoCall) -> dict[str, Any]:
    try:
        await call.table("UpdateContinuousBackups")
    except TableNotFound as exc:
        raise DynamoWireError("TableNotFoundException", str(exc)) from None
    spec = call.mapping("PointInTimeRecoverySpecification")
    if spec is None:
        raise invalid("PointInTimeRecoverySpecification", "Member must not be null")
    if call.boolean("PointInTimeRecoveryEnabled", source=spec):
        raise ValidationError(
            "Point-in-time recovery is not served by this platform (decision 0237)"
        )
    return {"ContinuousBackupsDescription": _OFF}


async def describe_kinesis_streaming_destination(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DescribeKinesisStreamingDestination")
    return {"TableName": table.name, "KinesisDataStreamDestinations": []}


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
    "DescribeContinuousBackups": describe_continuous_backups,
    "DescribeContributorInsights": describe_contributor_insights,
    "DescribeKinesisStreamingDestination": describe_kinesis_streaming_destination,
    "GetResourcePolicy": get_resource_policy,
    "UpdateContinuousBackups": update_continuous_backups,
}
