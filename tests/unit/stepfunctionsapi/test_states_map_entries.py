"""Decision 0365 through the API, as boto3 calls it: a Map over a JSON object iterates its
key-value pairs (AWS's "ItemsPath (Map, JSONPath only)"), each iteration given the pair
``{"Key", "Value"}``, its ``ItemSelector`` reading ``$$.Map.Item.Key`` (JSONata:
``$states.context.Map.Item.Key``) and the entry's value as ``Map.Item.Value`` — inline, parked
on task tokens, distributed over ``ItemsPath`` and over an S3 JSON object's top-level entries
(read whole, ZSTD-compressed, or flattened from a listing among array files); anything else
fails the state in words."""

from __future__ import annotations

import json
from typing import Any

from support.statesapp import REGION, World
from unit.stepfunctions.test_sfn_map_zstd import zstd
from unit.stepfunctionsapi.test_states_map_readers import put_bytes
from unit.stepfunctionsapi.test_states_map_runs import allow, put
from unit.stepfunctionsapi.test_states_parked_branches import ask, tokens

SERVERS = {"web": {"port": 80}, "api": {"port": 8080}, "db": {"port": 5432}}
KEYED = {"name.$": "$$.Map.Item.Key", "port.$": "$$.Map.Item.Value.port",
         "at.$": "$$.Map.Item.Index", "env.$": "$.env"}  # fmt: skip
GET = "arn:aws:states:::s3:getObject"
LIST = "arn:aws:states:::s3:listObjectsV2"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
DISTRIBUTED = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **PASS}


def mapped(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {"Type": "Map", "End": True,
                                                   "ItemProcessor": PASS, **fields}}}  # fmt: skip


async def execute(
    world: World, definition: dict[str, Any], data: Any, name: str = "m",
    policy: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    role = await world.role(f"{name}-role", policy=policy or allow("s3:GetObject"))
    made = await world.client("CreateStateMachine", name=name, definition=json.dumps(definition),
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps(data))  # fmt: skip
    await world.run()
    return await world.client("DescribeExecution", executionArn=run["executionArn"])


async def started_length(world: World, arn: str) -> int:
    history = await world.client("GetExecutionHistory", executionArn=arn)
    event = next(e for e in history["events"] if e["type"] == "MapStateStarted")
    return int(event["mapStateStartedEventDetails"]["length"])


async def test_an_inline_map_iterates_an_objects_pairs_with_their_keys(world: World) -> None:
    data = {"env": "prod", "servers": SERVERS}
    done = await execute(world, mapped(ItemsPath="$.servers", ItemSelector=KEYED), data)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [
        {"name": "web", "port": 80, "at": 0, "env": "prod"},
        {"name": "api", "port": 8080, "at": 1, "env": "prod"},
        {"name": "db", "port": 5432, "at": 2, "env": "prod"}]  # fmt: skip
    assert await started_length(world, done["executionArn"]) == 3
    # Without a selector each iteration is given the pair; the default ItemsPath is "$".
    plain = await execute(world, mapped(), {"a": 1, "b": [2]}, name="plain")
    assert json.loads(plain["output"]) == [{"Key": "a", "Value": 1}, {"Key": "b", "Value": [2]}]
    # An array's items have no Key in the context.
    whole = await execute(world, mapped(ItemSelector={"item.$": "$$.Map.Item"}), ["x"], "array")
    assert json.loads(whole["output"]) == [{"item": {"Index": 0, "Value": "x"}}]


async def test_a_value_neither_array_nor_object_fails_in_words(world: World) -> None:
    done = await execute(world, mapped(ItemsPath="$.n"), {"n": 7})
    assert done["status"] == "FAILED" and done["error"] == "States.Runtime"
    assert done["cause"] == "The Map state's ItemsPath must be a JSON array or object, not a number"
    caught = mapped(ItemsPath="$.n", Catch=[{"ErrorEquals": ["States.Runtime"], "Next": "Why"}])
    caught["States"]["Why"] = {"Type": "Pass", "End": True}
    rescued = await execute(world, caught, {"n": "text"}, name="caught")
    assert rescued["status"] == "SUCCEEDED", rescued
    assert "not a string" in json.loads(rescued["output"])["Cause"]


async def test_jsonata_reads_the_key_from_states_context(world: World) -> None:
    selector = {"name": "{% $states.context.Map.Item.Key %}",
                "port": "{% $states.context.Map.Item.Value.port %}",
                "index": "{% $states.context.Map.Item.Index %}"}  # fmt: skip
    definition = {**mapped(ItemSelector=selector), "QueryLanguage": "JSONata"}
    done = await execute(world, definition, {"web": {"port": 80}, "db": {"port": 5432}})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"name": "web", "port": 80, "index": 0},
                                          {"name": "db", "port": 5432, "index": 1}]  # fmt: skip
    # An object from ``Items`` is refused: AWS's Map page asks an array of that field.
    items = {**mapped(Items="{% $states.input %}"), "QueryLanguage": "JSONata"}
    refused = await execute(world, items, {"a": 1}, name="items")
    assert refused["status"] == "FAILED" and refused["error"] == "States.QueryEvaluationError"
    assert "The Items field must evaluate to a JSON array, not an object" in refused["cause"]
    listing = {**mapped(Items="{% $states.input.list %}"), "QueryLanguage": "JSONata"}
    listed = await execute(world, listing, {"list": [1]}, "listed")
    assert json.loads(listed["output"]) == [1]


async def test_iterations_parked_on_tokens_keep_their_keys(world: World) -> None:
    url = await world.queue("jobs")
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.jobs", "End": True,
        "ItemSelector": {"name.$": "$$.Map.Item.Key", "size.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "Ask", "States": {"Ask": {**ask(url, "$.name"),
                                                               "End": True}}}}}}  # fmt: skip
    arn = (await execute(world, definition, {"jobs": {"small": 1, "large": 9}},
                         policy=allow("sqs:SendMessage")))["executionArn"]  # fmt: skip
    asked = await tokens(world, "jobs")
    assert set(asked) == {"small", "large"}
    await world.client("SendTaskSuccess", taskToken=asked["large"], output='"L"')
    await world.client("SendTaskSuccess", taskToken=asked["small"], output='"S"')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == ["S", "L"]
    assert await started_length(world, arn) == 2


async def test_a_distributed_map_over_an_objects_pairs(world: World) -> None:
    definition = mapped(ItemsPath="$.servers", ItemSelector=KEYED, ItemProcessor=DISTRIBUTED)
    done = await execute(world, definition, {"env": "dev", "servers": SERVERS})
    assert done["status"] == "SUCCEEDED", done
    assert [(o["name"], o["port"], o["at"]) for o in json.loads(done["output"])] == [
        ("web", 80, 0), ("api", 8080, 1), ("db", 5432, 2)]  # fmt: skip
    runs = await world.client("ListMapRuns", executionArn=done["executionArn"])
    described = await world.client("DescribeMapRun", mapRunArn=runs["mapRuns"][0]["mapRunArn"])
    assert described["itemCounts"]["total"] == 3


async def test_an_s3_json_objects_entries_keep_their_keys(world: World) -> None:
    await world.objects.create_bucket("conf", tenant_id=world.tenant_id,
                                      owner_id=world.tenant_id, region=REGION)  # fmt: skip
    await put(world, "conf", "servers.json", json.dumps(SERVERS))
    reader = {"Resource": GET, "ReaderConfig": {"InputType": "JSON", "MaxItems": 2},
              "Parameters": {"Bucket": "conf", "Key": "servers.json"}}  # fmt: skip
    selector = {**KEYED, "from.$": "$$.Map.Item.Source"}
    done = await execute(world, mapped(ItemReader=reader, ItemSelector=selector,
                                       ItemProcessor=DISTRIBUTED), {"env": "qa"})  # fmt: skip
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [
        {"name": "web", "port": 80, "at": 0, "env": "qa", "from": "s3://conf/servers.json#index=0"},
        {"name": "api", "port": 8080, "at": 1, "env": "qa",
         "from": "s3://conf/servers.json#index=1"}]  # fmt: skip
    # JSONata reads the same through $states.context, here from a ZSTD object (decision 0358).
    await put_bytes(world, "conf", "pairs.json.zst", zstd(json.dumps({"x": 1, "y": 2}).encode()))
    jsonata = {"QueryLanguage": "JSONata", **mapped(
        ItemProcessor=DISTRIBUTED,
        ItemReader={"Resource": GET, "ReaderConfig": {"InputType": "JSON"},
                    "Arguments": {"Bucket": "conf", "Key": "pairs.json.zst"}},
        ItemSelector={"k": "{% $states.context.Map.Item.Key %}",
                      "v": "{% $states.context.Map.Item.Value %}"})}  # fmt: skip
    zipped = await execute(world, jsonata, {}, name="zst")
    assert zipped["status"] == "SUCCEEDED", zipped
    assert json.loads(zipped["output"]) == [{"k": "x", "v": 1}, {"k": "y", "v": 2}]


async def test_flattened_objects_give_keys_to_their_entries_only(world: World) -> None:
    """``LOAD_AND_FLATTEN`` over a listing of an object file and an array file: the entries
    have their keys, the array's elements none (their context has no ``Key``)."""
    await world.objects.create_bucket("drop", tenant_id=world.tenant_id,
                                      owner_id=world.tenant_id, region=REGION)  # fmt: skip
    await put(world, "drop", "in/a.json", json.dumps({"k1": "v1"}))
    await put(world, "drop", "in/b.json", json.dumps([{"Key": "not", "Value": "an entry"}]))
    reader = {"Resource": LIST, "Parameters": {"Bucket": "drop", "Prefix": "in/"},
              "ReaderConfig": {"InputType": "JSON",
                               "Transformation": "LOAD_AND_FLATTEN"}}  # fmt: skip
    done = await execute(world, mapped(ItemReader=reader, ItemProcessor=DISTRIBUTED,
                                       ItemSelector={"item.$": "$$.Map.Item"}), {},
                         policy=allow("s3:GetObject", "s3:ListBucket"))  # fmt: skip
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [
        {"item": {"Index": 0, "Key": "k1", "Value": "v1", "Source": "s3://drop/in/a.json#index=0"}},
        {"item": {"Index": 1, "Value": {"Key": "not", "Value": "an entry"},
                  "Source": "s3://drop/in/b.json#index=0"}}]  # fmt: skip
