"""Decision 0247's PartiQL calls through botocore's own model, over the memory twin:
ExecuteStatement's SELECT (a Query when the partition key is set equal, else a Scan; an
index's; Limit and NextToken; ORDER BY DESC), INSERT (DuplicateItemException), UPDATE and
DELETE of the item the key names (their WHERE a condition, RETURNING); BatchExecuteStatement's
answers and errors statement by statement; ExecuteTransaction all or nothing; IAM's
PartiQL actions on the table or index; items sealed and billed as the JSON calls'."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.dynamodb.store import ScanRange
from support.dynamodbapp import World


async def _music(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="Music",
        KeySchema=[
            {"AttributeName": "Artist", "KeyType": "HASH"},
            {"AttributeName": "SongTitle", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "Artist", "AttributeType": "S"},
            {"AttributeName": "SongTitle", "AttributeType": "S"},
            {"AttributeName": "Label", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-label",
                "KeySchema": [{"AttributeName": "Label", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    for artist, title, year in (("Acme", "A1", 2001), ("Acme", "A2", 2002), ("Acme", "A3", 2003),
                                ("Zed", "Z1", 2001)):  # fmt: skip
        await world.client(
            "ExecuteStatement",
            Statement="INSERT INTO Music VALUE {'Artist': ?, 'SongTitle': ?, 'Year': ?, "
            "'Label': 'Indie'}",
            Parameters=[{"S": artist}, {"S": title}, {"N": str(year)}],
        )


async def _select(world: World, statement: str, **more: Any) -> list[dict[str, Any]]:
    answer = await world.client("ExecuteStatement", Statement=statement, **more)
    items: list[dict[str, Any]] = answer["Items"]
    return items


async def test_select_queries_scans_and_projects(world: World) -> None:
    await _music(world)
    titles = await _select(world, "SELECT SongTitle FROM Music WHERE Artist = 'Acme'")
    assert titles == [{"SongTitle": {"S": f"A{i}"}} for i in (1, 2, 3)]
    ranged = await _select(
        world,
        "SELECT * FROM \"Music\" WHERE Artist = 'Acme' AND SongTitle > 'A1' AND \"Year\" < ?",
        Parameters=[{"N": "2003"}],
    )  # fmt: skip
    assert [i["SongTitle"]["S"] for i in ranged] == ["A2"]
    backwards = await _select(
        world, "SELECT SongTitle FROM Music WHERE Artist = 'Acme' ORDER BY SongTitle DESC"
    )
    assert [i["SongTitle"]["S"] for i in backwards] == ["A3", "A2", "A1"]
    scanned = await _select(world, 'SELECT Artist FROM Music WHERE "Year" = 2001')
    assert sorted(i["Artist"]["S"] for i in scanned) == ["Acme", "Zed"]
    everything = await _select(world, "SELECT * FROM Music", ConsistentRead=True)
    assert len(everything) == 4 and everything[0]["Label"] == {"S": "Indie"}
    indexed = await _select(world, 'SELECT * FROM "Music"."by-label" WHERE Label = \'Indie\'')
    assert len(indexed) == 4 and set(indexed[0]) == {"Artist", "SongTitle", "Label"}
    await world.fails(
        "ExecuteStatement", "ValidationException",
        Statement="SELECT * FROM Music.\"by-label\"", ConsistentRead=True,
    )  # fmt: skip
    message = await world.fails(
        "ExecuteStatement", "ValidationException", Statement="SELECT * FROM Music.nope"
    )
    assert "does not have the specified index" in message
    await world.fails(
        "ExecuteStatement", "ResourceNotFoundException", Statement="SELECT * FROM Nothing"
    )


async def test_limit_and_next_token_page_through(world: World) -> None:
    await _music(world)
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        more = {"NextToken": token} if token else {}
        answer = await world.client(
            "ExecuteStatement", Statement="SELECT * FROM Music WHERE Artist = 'Acme'", Limit=2,
            **more,
        )  # fmt: skip
        pages += 1
        seen += [i["SongTitle"]["S"] for i in answer["Items"]]
        token = answer.get("NextToken")
        if token is None:
            break
    assert seen == ["A1", "A2", "A3"] and pages == 2
    first = await world.client("ExecuteStatement", Statement="SELECT * FROM Music", Limit=1)
    message = await world.fails(
        "ExecuteStatement", "ValidationException",
        Statement="SELECT * FROM Music WHERE Artist = 'Zed'", NextToken=first["NextToken"],
    )  # fmt: skip
    assert "NextToken" in message


async def test_insert_update_delete(world: World) -> None:
    await _music(world)
    message = await world.fails(
        "ExecuteStatement",
        "DuplicateItemException",
        Statement="INSERT INTO Music VALUE {'Artist': 'Acme', 'SongTitle': 'A1'}",
    )
    assert message == "Duplicate primary key exists in table"
    answer = await world.client(
        "ExecuteStatement",
        Statement='UPDATE Music SET "Year" = "Year" + 10 SET Plays = 1 REMOVE Label '
        "WHERE Artist = 'Acme' AND SongTitle = 'A1' RETURNING ALL NEW *",
    )
    assert answer["Items"] == [
        {"Artist": {"S": "Acme"}, "SongTitle": {"S": "A1"}, "Year": {"N": "2011"},
         "Plays": {"N": "1"}}
    ]  # fmt: skip
    # The WHERE is the update's condition: a missing item or a false part fails it.
    await world.fails(
        "ExecuteStatement",
        "ConditionalCheckFailedException",
        Statement="UPDATE Music SET Plays = 2 WHERE Artist = 'Acme' AND SongTitle = 'none'",
    )
    failed = await world.raw(
        "ExecuteStatement",
        {
            "Statement": "UPDATE Music SET Plays = 2 WHERE Artist = 'Acme' AND SongTitle = 'A1' "
            "AND Plays = 5",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )
    assert failed.json()["Item"]["Plays"] == {"N": "1"}
    message = await world.fails(
        "ExecuteStatement", "ValidationException",
        Statement="UPDATE Music SET Plays = 2 WHERE Artist = 'Acme'",
    )  # fmt: skip
    assert "mandatory equality on all key attributes" in message
    await world.fails(
        "ExecuteStatement", "ValidationException",
        Statement="UPDATE Music SET SongTitle = 'x' WHERE Artist = 'Acme' AND SongTitle = 'A1'",
    )  # fmt: skip
    deleted = await world.client(
        "ExecuteStatement",
        Statement="DELETE FROM Music WHERE Artist = ? AND SongTitle = ? RETURNING ALL OLD *",
        Parameters=[{"S": "Acme"}, {"S": "A2"}],
    )
    assert deleted["Items"][0]["Year"] == {"N": "2002"}
    # A DELETE of no item succeeds, nothing deleted; of an item its WHERE refuses, fails.
    gone = "DELETE FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A2' RETURNING ALL OLD *"
    assert (await world.client("ExecuteStatement", Statement=gone))["Items"] == []
    await world.fails(
        "ExecuteStatement", "ConditionalCheckFailedException",
        Statement="DELETE FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A3' AND Plays = 1",
    )  # fmt: skip
    left = await _select(world, "SELECT SongTitle FROM Music WHERE Artist = 'Acme'")
    assert [i["SongTitle"]["S"] for i in left] == ["A1", "A3"]
    # Sealed at rest as any item: no title in the store's rows.
    rows = await world.store.scan(world.tenant_id, "Music", ScanRange(), None, 10)
    assert rows and all(b"Acme" not in r.sealed for r in rows)


async def test_malformed_statements_answer_aws_words(world: World) -> None:
    await _music(world)
    message = await world.fails(
        "ExecuteStatement", "ValidationException", Statement="SELEC * FROM Music"
    )
    assert message.startswith("Statement wasn't well formed, can't be processed:")
    message = await world.fails(
        "ExecuteStatement", "ValidationException",
        Statement="SELECT * FROM Music WHERE Artist = ?",
    )  # fmt: skip
    assert message == "Number of parameters in request and statement don't match."


async def test_batch_answers_statement_by_statement(world: World) -> None:
    await _music(world)
    reads = await world.client(
        "BatchExecuteStatement",
        Statements=[
            {"Statement": "SELECT * FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A1'"},
            {"Statement": "SELECT * FROM Music WHERE Artist = 'Acme' AND SongTitle = 'no'"},
            {"Statement": "SELECT * FROM Music WHERE Artist = 'Acme'"},
            {"Statement": "SELECT * FROM Gone WHERE Artist = 'Acme' AND SongTitle = 'A1'"},
        ],
    )
    first, absent, partial, gone = reads["Responses"]
    assert first["Item"]["Year"] == {"N": "2001"} and first["TableName"] == "Music"
    assert "Item" not in absent and "Error" not in absent
    assert partial["Error"]["Code"] == "ValidationError"
    assert gone["Error"]["Code"] == "ResourceNotFound"
    writes = await world.client(
        "BatchExecuteStatement",
        Statements=[
            {"Statement": "INSERT INTO Music VALUE {'Artist': 'New', 'SongTitle': 'N1'}"},
            {"Statement": "INSERT INTO Music VALUE {'Artist': 'Acme', 'SongTitle': 'A1'}"},
            {
                "Statement": "UPDATE Music SET x = 1 WHERE Artist = 'Acme' AND SongTitle = 'A2' "
                'AND "Year" = 1',
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        ],
    )
    made, duplicate, failed = writes["Responses"]
    assert "Error" not in made
    assert duplicate["Error"]["Code"] == "DuplicateItem"
    assert failed["Error"]["Code"] == "ConditionalCheckFailed"
    assert failed["Error"]["Item"]["Year"] == {"N": "2002"}
    await world.fails(
        "BatchExecuteStatement", "ValidationException",
        Statements=[
            {"Statement": "SELECT * FROM Music WHERE Artist = 'a' AND SongTitle = 'b'"},
            {"Statement": "DELETE FROM Music WHERE Artist = 'a' AND SongTitle = 'b'"},
        ],
    )  # fmt: skip
    await world.fails(
        "BatchExecuteStatement", "ValidationException",
        Statements=[{"Statement": "SELECT * FROM Music"}] * 26,
    )  # fmt: skip


async def test_transactions_all_or_nothing(world: World) -> None:
    await _music(world)
    await world.client(
        "ExecuteTransaction",
        TransactStatements=[
            {"Statement": "INSERT INTO Music VALUE {'Artist': 'T', 'SongTitle': 'T1'}"},
            {"Statement": "UPDATE Music SET Plays = 1 WHERE Artist = 'Acme' AND SongTitle = 'A1'"},
            {"Statement": "DELETE FROM Music WHERE Artist = 'Zed' AND SongTitle = 'Z1'"},
        ],
        ClientRequestToken="token-1",
    )
    read = await world.client(
        "ExecuteTransaction",
        TransactStatements=[
            {"Statement": "SELECT Plays FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A1'"},
            {"Statement": "SELECT * FROM Music WHERE Artist = 'Zed' AND SongTitle = 'Z1'"},
            {"Statement": "SELECT * FROM Music WHERE Artist = 'T' AND SongTitle = 'T1'"},
        ],
    )
    assert read["Responses"] == [
        {"Item": {"Plays": {"N": "1"}}},
        {},
        {"Item": {"Artist": {"S": "T"}, "SongTitle": {"S": "T1"}}},
    ]
    reply = await world.raw(
        "ExecuteTransaction",
        {
            "TransactStatements": [
                {"Statement": "INSERT INTO Music VALUE {'Artist': 'U', 'SongTitle': 'U1'}"},
                {"Statement": "INSERT INTO Music VALUE {'Artist': 'T', 'SongTitle': 'T1'}"},
                {
                    "Statement": "DELETE FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A3' "
                    "AND Plays = 9",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                },
            ]
        },
    )
    body = reply.json()
    assert body["__type"].endswith("#TransactionCanceledException")
    codes = [r["Code"] for r in body["CancellationReasons"]]
    assert codes == ["None", "DuplicateItem", "ConditionalCheckFailed"]
    assert body["CancellationReasons"][2]["Item"]["SongTitle"] == {"S": "A3"}
    assert await _select(world, "SELECT * FROM Music WHERE Artist = 'U'") == []  # none applied
    # EXISTS: a condition check on one item; false, it cancels the transaction.
    check = "EXISTS(SELECT * FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A1' AND Plays = ?)"
    insert = {"Statement": "INSERT INTO Music VALUE {'Artist': 'V', 'SongTitle': 'V1'}"}
    reply = await world.raw(
        "ExecuteTransaction",
        {"TransactStatements": [{"Statement": check, "Parameters": [{"N": "7"}]}, insert]},
    )
    codes = [r["Code"] for r in reply.json()["CancellationReasons"]]
    assert codes == ["ConditionalCheckFailed", "None"]
    await world.client(
        "ExecuteTransaction",
        TransactStatements=[{"Statement": check, "Parameters": [{"N": "1"}]}, insert],
    )
    assert len(await _select(world, "SELECT * FROM Music WHERE Artist = 'V'")) == 1
    # A DELETE of no item within a transaction deletes nothing and cancels nothing.
    await world.client(
        "ExecuteTransaction",
        TransactStatements=[
            {"Statement": "DELETE FROM Music WHERE Artist = 'none' AND SongTitle = 'x'"}
        ],
    )
    message = await world.fails(
        "ExecuteStatement", "ValidationException", Statement=check, Parameters=[{"N": "1"}]
    )
    assert "EXISTS" in message
    await world.fails(
        "ExecuteTransaction", "ValidationException",
        TransactStatements=[
            {"Statement": "SELECT * FROM Music WHERE Artist = 'a' AND SongTitle = 'b'"},
            {"Statement": "DELETE FROM Music WHERE Artist = 'a' AND SongTitle = 'b'"},
        ],
    )  # fmt: skip


async def test_capacity_and_billing_as_the_json_calls(world: World) -> None:
    await _music(world)
    before = await world.usage("dynamodb.write-units")
    answer = await world.client(
        "ExecuteStatement",
        Statement="INSERT INTO Music VALUE {'Artist': 'C', 'SongTitle': 'C1'}",
        ReturnConsumedCapacity="TOTAL",
    )
    assert answer["ConsumedCapacity"] == {
        "TableName": "Music", "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0
    }  # fmt: skip
    assert await world.usage("dynamodb.write-units") - before == 1
    read = await world.client(
        "ExecuteTransaction",
        TransactStatements=[
            {"Statement": "SELECT * FROM Music WHERE Artist = 'C' AND SongTitle = 'C1'"}
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert read["ConsumedCapacity"][0]["CapacityUnits"] == 2.0  # a transactional read: double


async def test_iam_partiql_actions_on_the_table_or_index(world: World) -> None:
    await _music(world)
    user = await world.iam_user("reader")
    message = await user.fails(
        "ExecuteStatement", "AccessDeniedException", Statement="SELECT * FROM Music"
    )
    assert "dynamodb:PartiQLSelect" in message and "table/Music" in message
    arn = f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/Music"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:PartiQLSelect", "Resource": arn},
            {"Effect": "Allow", "Action": "dynamodb:PartiQLUpdate", "Resource": arn},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "reader", "r", json.dumps(policy))
    assert (
        len((await user.client("ExecuteStatement", Statement="SELECT * FROM Music"))["Items"]) == 4
    )
    message = await user.fails(
        "ExecuteStatement", "AccessDeniedException",
        Statement="SELECT * FROM Music.\"by-label\" WHERE Label = 'Indie'",
    )  # fmt: skip
    assert "table/Music/index/by-label" in message
    message = await user.fails(
        "ExecuteStatement", "AccessDeniedException",
        Statement="DELETE FROM Music WHERE Artist = 'Acme' AND SongTitle = 'A1'",
    )  # fmt: skip
    assert "dynamodb:PartiQLDelete" in message
    await user.client(
        "ExecuteStatement",
        Statement="UPDATE Music SET x = 1 WHERE Artist = 'Acme' AND SongTitle = 'A1'",
    )
    refused = await user.client(
        "BatchExecuteStatement",
        Statements=[{"Statement": "INSERT INTO Music VALUE {'Artist': 'x', 'SongTitle': 'y'}"}],
    )
    assert refused["Responses"][0]["Error"]["Code"] == "AccessDenied"
    audited = await world.audited()
    assert ("dynamodb:ExecuteStatement", "failure") in audited
    assert ("dynamodb:ExecuteStatement", "success") not in audited  # data calls, as CloudTrail's


async def test_a_partition_key_equality_is_a_query_else_a_scan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _music(world)
    used: list[str] = []
    for name in ("query", "scan", "query_index", "scan_index"):
        real = getattr(world.dynamodb, name)

        async def spy(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            used.append(_name)
            return await _real(*args, **kw)

        monkeypatch.setattr(world.dynamodb, name, spy)
    await _select(world, "SELECT * FROM Music WHERE Artist = 'Acme' AND \"Year\" > 1")
    await _select(world, "SELECT * FROM Music WHERE Artist = 'Acme' OR Artist = 'Zed'")
    await _select(world, "SELECT * FROM Music WHERE Artist = 1")  # not the key's type
    await _select(world, "SELECT * FROM Music.\"by-label\" WHERE Label = 'Indie'")
    await _select(world, 'SELECT * FROM Music."by-label"')
    assert used == ["query", "scan", "scan", "query_index", "scan_index"]
