"""Decision 0237's Query, Scan and batches through botocore's own model: sort order as
DynamoDB's (N numerically, negatives and decimals included; S by UTF-8 bytes; B bytewise),
every key condition operator, ScanIndexForward, Limit and LastEvaluatedKey pages, filters
counted after the read, Select COUNT, parallel scan segments that partition the table,
BatchGetItem and BatchWriteItem with their bounds."""

from __future__ import annotations

from typing import Any

from support.dynamodbapp import World

NUMBERS = ["-100", "-1.5", "-1.25", "0", "0.001", "2", "10", "1e3", "123456.789"]


async def _query(world: World, condition: str, values: dict[str, Any], **more: Any) -> list[str]:
    answer = await world.client(
        "Query",
        TableName="sorted",
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        **more,
    )
    return [i["sk"]["N"] if "N" in i["sk"] else i["sk"]["S"] for i in answer["Items"]]


async def test_numbers_sort_numerically_under_every_operator(world: World) -> None:
    await world.table("sorted", sort="sk", kind="N")
    for number in NUMBERS:
        await world.client(
            "PutItem",
            TableName="sorted",
            Item={"pk": {"S": "h"}, "sk": {"N": number}, "v": {"S": number}},
        )
    await world.client("PutItem", TableName="sorted", Item={"pk": {"S": "other"}, "sk": {"N": "5"}})
    h = {":h": {"S": "h"}}
    everything = await _query(world, "pk = :h", h)
    assert everything == ["-100", "-1.5", "-1.25", "0", "0.001", "2", "10", "1000", "123456.789"]
    assert await _query(world, "pk = :h", h, ScanIndexForward=False) == everything[::-1]
    two = h | {":v": {"N": "2"}}
    assert await _query(world, "pk = :h AND sk < :v", two) == everything[:5]
    assert await _query(world, "pk = :h AND sk <= :v", two) == everything[:6]
    assert await _query(world, "pk = :h AND sk > :v", two) == everything[6:]
    assert await _query(world, "pk = :h AND sk >= :v", two) == everything[5:]
    assert await _query(world, "pk = :h AND sk = :v", two) == ["2"]
    assert (
        await _query(
            world,
            "pk = :h AND sk BETWEEN :a AND :b",
            h | {":a": {"N": "-1.5"}, ":b": {"N": "0.001"}},
        )
        == everything[1:5]
    )
    for bad in ("sk = :v", "pk = :h OR sk = :v", "pk = :h AND v = :v", "pk < :h"):
        await world.fails(
            "Query",
            "ValidationException",
            TableName="sorted",
            KeyConditionExpression=bad,
            ExpressionAttributeValues=two,
        )


async def test_strings_sort_by_utf8_bytes_and_begins_with(world: World) -> None:
    await world.table("sorted", sort="sk")
    for text in ("b", "a", "é", "Z", "ab", "abc", "\U0001f600", "\uffff"):
        await world.client(
            "PutItem", TableName="sorted", Item={"pk": {"S": "h"}, "sk": {"S": text}}
        )
    listed = await _query(world, "pk = :h", {":h": {"S": "h"}})
    # UTF-8's order (UTF-16's would put the emoji, a surrogate pair, before U+FFFF).
    assert listed == ["Z", "a", "ab", "abc", "b", "é", "\uffff", "\U0001f600"]
    assert await _query(
        world, "pk = :h AND begins_with(sk, :p)", {":h": {"S": "h"}, ":p": {"S": "ab"}}
    ) == ["ab", "abc"]


async def test_pages_limits_filters_and_counts(world: World) -> None:
    await world.table("sorted", sort="sk", kind="N")
    for n in range(10):
        await world.client(
            "PutItem",
            TableName="sorted",
            Item={"pk": {"S": "h"}, "sk": {"N": str(n)}, "even": {"BOOL": n % 2 == 0}},
        )
    seen: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        more = {} if start is None else {"ExclusiveStartKey": start}
        page = await world.client(
            "Query",
            TableName="sorted",
            KeyConditionExpression="pk = :h",
            ExpressionAttributeValues={":h": {"S": "h"}},
            Limit=4,
            **more,
        )
        seen += [i["sk"]["N"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
        assert start == {"pk": {"S": "h"}, "sk": {"N": seen[-1]}}
    assert seen == [str(n) for n in range(10)]
    filtered = await world.client(
        "Query",
        TableName="sorted",
        KeyConditionExpression="pk = :h",
        Limit=5,
        FilterExpression="even = :t",
        ExpressionAttributeValues={":h": {"S": "h"}, ":t": {"BOOL": True}},
    )
    assert filtered["Count"] == 3 and filtered["ScannedCount"] == 5  # filtered after the read
    message = await world.fails(
        "Query",
        "ValidationException",
        TableName="sorted",
        KeyConditionExpression="pk = :h",
        FilterExpression="even = :t OR size(sk) > :h",
        ExpressionAttributeValues={":h": {"S": "h"}, ":t": {"BOOL": True}},
    )
    assert "Primary key attribute: sk" in message  # as DynamoDB refuses it
    counted = await world.client(
        "Query",
        TableName="sorted",
        KeyConditionExpression="pk = :h",
        ExpressionAttributeValues={":h": {"S": "h"}},
        Select="COUNT",
    )
    assert counted["Count"] == 10 and "Items" not in counted
    projected = await world.client("Scan", TableName="sorted", ProjectionExpression="sk", Limit=1)
    assert list(projected["Items"][0]) == ["sk"]


async def test_a_scan_pages_and_its_segments_partition_the_table(world: World) -> None:
    await world.table()
    keys = {f"item-{n}" for n in range(40)}
    for key in keys:
        await world.client("PutItem", TableName="things", Item={"pk": {"S": key}})
    paged: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        more = {} if start is None else {"ExclusiveStartKey": start}
        page = await world.client("Scan", TableName="things", Limit=7, **more)
        paged += [i["pk"]["S"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert sorted(paged) == sorted(keys) and len(paged) == 40
    segments = []
    for segment in range(3):
        page = await world.client("Scan", TableName="things", Segment=segment, TotalSegments=3)
        segments.append({i["pk"]["S"] for i in page["Items"]})
    assert set().union(*segments) == keys and sum(len(s) for s in segments) == 40
    assert all(segments)  # MACs spread the keys
    await world.fails("Scan", "ValidationException", TableName="things", Segment=3, TotalSegments=3)
    await world.fails("Scan", "ValidationException", TableName="things", IndexName="gsi")


async def test_batches(world: World) -> None:
    await world.table()
    puts = [{"PutRequest": {"Item": {"pk": {"S": f"k{n}"}, "n": {"N": str(n)}}}} for n in range(25)]
    assert await world.client("BatchWriteItem", RequestItems={"things": puts}) == {
        "UnprocessedItems": {}
    }
    got = await world.client(
        "BatchGetItem",
        RequestItems={
            "things": {
                "Keys": [{"pk": {"S": f"k{n}"}} for n in (1, 2, 99)],
                "ProjectionExpression": "n",
            }
        },
    )
    assert sorted(i["n"]["N"] for i in got["Responses"]["things"]) == ["1", "2"]
    assert got["UnprocessedKeys"] == {}
    await world.client(
        "BatchWriteItem", RequestItems={"things": [{"DeleteRequest": {"Key": {"pk": {"S": "k1"}}}}]}
    )
    left = await world.client("Scan", TableName="things", Select="COUNT")
    assert left["Count"] == 24
    duplicate = {"DeleteRequest": {"Key": {"pk": {"S": "k2"}}}}
    await world.fails(
        "BatchWriteItem", "ValidationException", RequestItems={"things": [duplicate, duplicate]}
    )
    reply = await world.raw("BatchWriteItem", {"RequestItems": {"things": puts + puts[:1]}})
    assert reply.json()["__type"].endswith("ValidationException")
    await world.fails(
        "BatchGetItem",
        "ValidationException",
        RequestItems={"things": {"Keys": [{"pk": {"S": f"k{n}"}} for n in range(101)]}},
    )
    await world.fails(
        "BatchGetItem",
        "ResourceNotFoundException",
        RequestItems={"nope": {"Keys": [{"pk": {"S": "k"}}]}},
    )
