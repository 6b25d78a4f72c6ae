"""Decision 0237's table calls through botocore's own model: a table ACTIVE at once (the
``table_exists`` waiter's first look), described with its key schema, ARN, counts and billing;
listed page by page; its billing mode and throughput changed; tagged both ways; its time to
live set; deleted; the account's table bound (``LimitExceededException``); what is not served
refused in words; IAM deciding and audit as the neighbours; every answer's CRC32 checked."""

from __future__ import annotations

import json

from support.dynamodbapp import World

PK = [{"AttributeName": "pk", "KeyType": "HASH"}]
PK_S = [{"AttributeName": "pk", "AttributeType": "S"}]


async def test_a_table_is_made_active_described_and_deleted(world: World) -> None:
    made = await world.client(
        "CreateTable",
        TableName="locks",
        KeySchema=PK,
        AttributeDefinitions=PK_S,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 2},
        Tags=[{"Key": "team", "Value": "infra"}],
        SSESpecification={"Enabled": True},
    )
    assert made["TableDescription"]["TableStatus"] == "ACTIVE"
    table = (await world.client("DescribeTable", TableName="locks"))["Table"]
    assert table["TableStatus"] == "ACTIVE"  # the table_exists waiter returns at once
    assert table["TableArn"] == f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/locks"
    assert table["KeySchema"] == PK and table["AttributeDefinitions"] == PK_S
    assert table["ItemCount"] == 0 and table["TableSizeBytes"] == 0
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    await world.client("PutItem", TableName="locks", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    table = (await world.client("DescribeTable", TableName=table["TableArn"]))["Table"]
    assert (
        table["ItemCount"] == 1 and table["TableSizeBytes"] == 6
    )  # "pk", "a", "n", a 1-digit number: 2
    await world.fails(
        "CreateTable",
        "ResourceInUseException",
        TableName="locks",
        KeySchema=PK,
        AttributeDefinitions=PK_S,
        BillingMode="PAY_PER_REQUEST",
    )
    other = await world.other_tenant("other")
    await other.fails("DescribeTable", "ResourceNotFoundException", TableName="locks")
    await other.fails("DescribeTable", "AccessDeniedException", TableName=table["TableArn"])
    deleted = await world.client("DeleteTable", TableName="locks")
    assert deleted["TableDescription"]["TableStatus"] == "DELETING"
    await world.fails("DescribeTable", "ResourceNotFoundException", TableName="locks")
    await world.fails(
        "GetItem", "ResourceNotFoundException", TableName="locks", Key={"pk": {"S": "a"}}
    )


async def test_tables_are_listed_page_by_page_up_to_the_account_bound(world: World) -> None:
    for name in ("ccc", "aaa", "bbb"):
        await world.table(name)
    message = await world.fails(
        "CreateTable",
        "LimitExceededException",
        TableName="ddd",
        KeySchema=PK,
        AttributeDefinitions=PK_S,
        BillingMode="PAY_PER_REQUEST",
    )
    assert "3" in message  # dynamodb_max_tables, set to 3 by the fixture
    first = await world.client("ListTables", Limit=2)
    assert first["TableNames"] == ["aaa", "bbb"] and first["LastEvaluatedTableName"] == "bbb"
    rest = await world.client("ListTables", ExclusiveStartTableName="bbb", Limit=2)
    assert rest == {"TableNames": ["ccc"]}
    # Each bound named in AWS's words (botocore checks neither for this member).
    too_many = await world.fails("ListTables", "ValidationException", Limit=101)
    assert "Member must have value less than or equal to 100" in too_many


async def test_bad_definitions_are_refused_in_aws_words(world: World) -> None:
    async def refused(**params: object) -> str:
        base: dict[str, object] = {
            "TableName": "bad",
            "KeySchema": PK,
            "AttributeDefinitions": PK_S,
            "BillingMode": "PAY_PER_REQUEST",
        }
        return await world.fails("CreateTable", "ValidationException", **(base | params))

    assert "does not exactly match" in await refused(
        AttributeDefinitions=[*PK_S, {"AttributeName": "x", "AttributeType": "S"}]
    )
    assert "must both be specified" in await refused(BillingMode="PROVISIONED")
    assert "PAY_PER_REQUEST" in await refused(
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    )
    assert "not defined in AttributeDefinitions" in await refused(
        KeySchema=[{"AttributeName": "other", "KeyType": "HASH"}]
    )
    assert "not defined in AttributeDefinitions" in await refused(
        GlobalSecondaryIndexes=[
            {
                "IndexName": "idx",
                "KeySchema": [{"AttributeName": "other", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    )
    assert "NotFoundException" in await refused(
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/mine"}
    )
    assert "pattern" in await refused(TableName="a b")


async def test_billing_throughput_tags_and_time_to_live_change(world: World) -> None:
    await world.table("tab1")
    arn = f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/tab1"
    updated = await world.client(
        "UpdateTable",
        TableName="tab1",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
    )
    summary = updated["TableDescription"]
    assert summary["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert summary["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    await world.client(
        "TagResource",
        ResourceArn=arn,
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    )
    await world.client("UntagResource", ResourceArn=arn, TagKeys=["a"])
    assert (await world.client("ListTagsOfResource", ResourceArn=arn))["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]
    described = await world.client("DescribeTimeToLive", TableName="tab1")
    assert described["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    await world.client("PutItem", TableName="tab1", Item={"pk": {"S": "old"}, "exp": {"N": "1"}})
    await world.client(
        "PutItem", TableName="tab1", Item={"pk": {"S": "new"}, "exp": {"N": "99999999999"}}
    )
    spec = {"Enabled": True, "AttributeName": "exp"}
    await world.client("UpdateTimeToLive", TableName="tab1", TimeToLiveSpecification=spec)
    await world.fails(
        "UpdateTimeToLive", "ValidationException", TableName="tab1", TimeToLiveSpecification=spec
    )
    assert (await world.client("DescribeTimeToLive", TableName="tab1"))[
        "TimeToLiveDescription"
    ] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    # The upkeep deletes what expired, even an item written before TTL was enabled.
    assert sum((await world.dynamodb.expire()).values()) == 1
    left = await world.client("Scan", TableName="tab1")
    assert [i["pk"]["S"] for i in left["Items"]] == ["new"]


async def test_iam_decides_and_management_calls_are_audited(world: World) -> None:
    await world.table("tab1")
    user = await world.iam_user("reader")
    message = await user.fails("DescribeTable", "AccessDeniedException", TableName="tab1")
    assert "dynamodb:DescribeTable" in message and "table/tab1" in message
    await user.fails("GetItem", "AccessDeniedException", TableName="tab1", Key={"pk": {"S": "a"}})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/tab1",
            }
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "reader", "r", json.dumps(policy))
    assert await user.client("GetItem", TableName="tab1", Key={"pk": {"S": "a"}}) == {}
    await world.client("PutItem", TableName="tab1", Item={"pk": {"S": "a"}})
    audited = await world.audited()
    assert ("dynamodb:CreateTable", "success") in audited
    assert ("dynamodb:DescribeTable", "failure") in audited
    assert ("dynamodb:GetItem", "failure") in audited  # a refused data call
    assert ("dynamodb:GetItem", "success") not in audited  # data calls, as CloudTrail's
    assert ("dynamodb:PutItem", "success") not in audited


async def test_unknown_and_unserved_operations_are_answered_as_aws(world: World) -> None:
    reply = await world.raw("RestoreTableFromAwsBackup", {"TableName": "tab1"})
    assert reply.status == 400
    assert reply.json()["__type"].endswith("#UnknownOperationException")
    assert "decision 0237" in reply.json()["message"]
    broken = await world.raw("DescribeTable", b"{not json")
    assert broken.json()["__type"].endswith("SerializationException")


async def test_features_not_served_are_reported_off(world: World) -> None:
    await world.table("tab1")
    backups = await world.client("DescribeContinuousBackups", TableName="tab1")
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"] == {
        "PointInTimeRecoveryStatus": "DISABLED"  # until turned on (decision 0253)
    }
    await world.fails("DescribeContinuousBackups", "TableNotFoundException", TableName="nope")
    streaming = await world.client("DescribeKinesisStreamingDestination", TableName="tab1")
    assert streaming["KinesisDataStreamDestinations"] == []
    arn = f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/tab1"
    await world.fails("GetResourcePolicy", "PolicyNotFoundException", ResourceArn=arn)
    insights = await world.client("DescribeContributorInsights", TableName="tab1")
    assert insights["ContributorInsightsStatus"] == "DISABLED"
