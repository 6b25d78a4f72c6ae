"""Decision 0291: a Query or Scan of an index is authorised on the index's ARN
(``<table ARN>/index/<name>``) as AWS authorises it, by the caller's identity policies and
its table's resource policy, whose statements name the index (or ``/index/*``): another
account's caller needs such a statement, a table's statement alone does not reach its
indexes, an explicit Deny of an index binds the owner's own principals, PartiQL's SELECT of
an index too; and PutResourcePolicy keeps well-formed index ARNs of the table only (an
index not made yet among them, as a policy may be written before its index)."""

from __future__ import annotations

import json
from typing import Any

from support.dynamodbapp import World

QUERY: dict[str, Any] = {
    "IndexName": "by-g",
    "KeyConditionExpression": "g = :g",
    "ExpressionAttributeValues": {":g": {"S": "x"}},
}


def arn_of(world: World, name: str = "things") -> str:
    return f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/{name}"


def policy(principal: str, resources: list[str], *actions: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": effect,
                    "Principal": {"AWS": principal},
                    "Action": [f"dynamodb:{a}" for a in actions],
                    "Resource": resources,
                }
            ],
        }
    )


async def indexed(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}, "g": {"S": "x"}})


async def test_another_account_queries_an_index_only_by_an_index_statement(world: World) -> None:
    await indexed(world)
    arn = arn_of(world)
    other = await world.other_tenant("other")
    root = f"arn:aws:iam::{other.tenant_id}:root"
    await world.client("PutResourcePolicy", ResourceArn=arn,
                       Policy=policy(root, [arn], "Query", "Scan"))  # fmt: skip
    # The table's statement reaches the table, not its indexes (AWS's resource matching).
    assert (await other.client("Scan", TableName=arn))["Count"] == 1
    message = await other.fails("Query", "AccessDeniedException", TableName=arn, **QUERY)
    assert f"on resource: {arn}/index/by-g" in message
    await other.fails("Scan", "AccessDeniedException", TableName=arn, IndexName="by-g")
    for resource in (f"{arn}/index/by-g", f"{arn}/index/*"):
        await world.client("PutResourcePolicy", ResourceArn=arn,
                           Policy=policy(root, [resource], "Query", "Scan"))  # fmt: skip
        assert (await other.client("Query", TableName=arn, **QUERY))["Count"] == 1
        assert (await other.client("Scan", TableName=arn, IndexName="by-g"))["Count"] == 1
        # An index statement does not reach the table itself.
        await other.fails("Scan", "AccessDeniedException", TableName=arn)


async def test_the_callers_identity_policies_are_judged_on_the_index_arn(world: World) -> None:
    await indexed(world)
    arn = arn_of(world)
    user = await world.iam_user("reader")
    table_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": arn}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "reader", "r", json.dumps(table_only))
    await user.fails("Query", "AccessDeniedException", TableName="things", **QUERY)
    with_index = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:Query",
         "Resource": [arn, f"{arn}/index/*"]}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "reader", "r", json.dumps(with_index))
    assert (await user.client("Query", TableName="things", **QUERY))["Count"] == 1


async def test_an_index_deny_binds_the_owners_principals_partiql_too(world: World) -> None:
    await indexed(world)
    arn = arn_of(world)
    user = await world.iam_user("reader")
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "reader", "r", json.dumps(grant))
    select = 'SELECT * FROM "things"."by-g"'
    assert len((await user.client("ExecuteStatement", Statement=select))["Items"]) == 1
    reader = f"arn:aws:iam::{world.tenant_id}:user/reader"
    deny = policy(reader, [f"{arn}/index/by-g"], "Query", "Scan", "PartiQLSelect",
                  effect="Deny")  # fmt: skip
    await world.client("PutResourcePolicy", ResourceArn=arn, Policy=deny)
    for operation, params in (("Query", QUERY), ("Scan", {"IndexName": "by-g"})):
        message = await user.fails(operation, "AccessDeniedException", TableName="things",
                                   **params)  # fmt: skip
        assert "explicit deny in a resource-based policy" in message
    await user.fails("ExecuteStatement", "AccessDeniedException", Statement=select)
    # The table itself stays readable: the Deny names the index only.
    assert (await user.client("Scan", TableName="things"))["Count"] == 1
    assert (await user.client("ExecuteStatement", Statement='SELECT * FROM "things"'))["Items"]


async def test_index_statements_name_the_tables_indexes(world: World) -> None:
    await indexed(world)
    arn = arn_of(world)
    for resource in (f"{arn}/index/", f"{arn}/index/by-g/x", f"{arn}-2/index/by-g",
                     f"{arn}/index/a"):  # fmt: skip
        message = await world.fails("PutResourcePolicy", "ValidationException", ResourceArn=arn,
                                    Policy=policy("111122223333", [resource], "Query"))  # fmt: skip
        assert resource in message
    await world.client("PutResourcePolicy", ResourceArn=arn,
                       Policy=policy("111122223333", [f"{arn}/index/*"], "Query"))  # fmt: skip
    await world.client("PutResourcePolicy", ResourceArn=arn,
                       Policy=policy("111122223333", [f"{arn}/index/later"], "Query"))  # fmt: skip
