"""Decision 0352: a distributed Map's ``ReaderConfig.ItemsPointer`` (a JSON object's array of
items at a JSON pointer), ``Transformation`` ``LOAD_AND_FLATTEN`` (the objects
``listObjectsV2`` or an S3 Inventory lists, each read as ``InputType`` says and their items
flattened, a file at a time, stopped at ``MaxItems``), and each item's
``$states.context.Map.Item.Source`` (its file and its place there) in the ``ItemSelector``;
the validation of these fields. (ZSTD inputs, refused here until decision 0358, are
``test_sfn_map_zstd``'s.)"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_items import pointed, positioned_items
from unit.stepfunctions.test_sfn_distributed_map import Host, distributed, run, said
from unit.stepfunctions.test_sfn_jsonata_map import jsonata_map
from unit.stepfunctions.test_sfn_jsonata_map import run as run_jsonata

GET = "arn:aws:states:::s3:getObject"
LIST = "arn:aws:states:::s3:listObjectsV2"
WHERE = "/States/M/ItemReader/ReaderConfig"
WITH_SOURCE = {"v.$": "$$.Map.Item.Value", "at.$": "$$.Map.Item.Source"}


def reader(resource: str = GET, key: str = "in.json", **config: Any) -> dict[str, Any]:
    params = {"Bucket": "b", "Key": key} if resource == GET else {"Bucket": "b", "Prefix": key}
    return {"Resource": resource, "ReaderConfig": config, "Parameters": params}


def test_a_json_pointer_selects_the_array() -> None:
    document = {"data": {"items": [1, 2]}, "a/b": [[3]], "t~": {"x": []}}
    assert pointed(document, "/data/items") == [1, 2]
    assert pointed(document, "/a~1b/0") == [3]
    assert pointed(document, "/t~0/x") == []
    assert pointed([4], None) == [4] and pointed([[5]], "/0") == [5]
    for pointer, cause in (("/data/none", "selects nothing"), ("/data", "must select an array"),
                           ("/a~1b/7", "selects nothing")):  # fmt: skip
        with pytest.raises(StatesError, match=cause) as raised:
            pointed(document, pointer)
        assert raised.value.error == "States.ItemReaderFailed"


def test_each_items_place_in_its_object() -> None:
    text = 'name,note\na,"two\nlines"\n\nb,x\n'
    items, places, keys = positioned_items(text, {"InputType": "CSV",
                                                  "CSVHeaderLocation": "FIRST_ROW"})  # fmt: skip
    assert items == [{"name": "a", "note": "two\nlines"}, {"name": "b", "note": "x"}]
    assert places == ["line=2", "line=5"] and keys is None
    assert positioned_items('{"a": 1}\n\n[2]\n', {"InputType": "JSONL"}) == (
        [{"a": 1}, [2]], ["line=1", "line=3"], None)  # fmt: skip
    assert positioned_items('{"d": [7, 8]}', {"InputType": "JSON", "ItemsPointer": "/d"}) == (
        [7, 8], ["index=0", "index=1"], None)  # fmt: skip
    # A top-level object's entries carry their keys (decision 0365).
    assert positioned_items('{"d": [7], "e": 1}', {"InputType": "JSON"}) == (
        [{"Key": "d", "Value": [7]}, {"Key": "e", "Value": 1}], ["index=0", "index=1"],
        ["d", "e"])  # fmt: skip


@pytest.mark.parametrize("key", ["in.json", "in.json.gz"])
async def test_items_pointer_reads_a_json_objects_nested_array(key: str) -> None:
    body = json.dumps({"meta": {"n": 2}, "data": {"items": [{"id": "a"}, {"id": "b"}]}})
    host = Host({})
    host.blobs[f"b/{key}"] = gzip.compress(body.encode()) if key.endswith(".gz") else body.encode()
    host.objects[f"b/{key}"] = body
    definition = distributed(ItemReader=reader(key=key, InputType="JSON",
                                               ItemsPointer="/data/items"),
                             ItemSelector=WITH_SOURCE)  # fmt: skip
    output, _ = await run(definition, {}, host)
    assert output == [{"v": {"id": "a"}, "at": f"s3://b/{key}#index=0"},
                      {"v": {"id": "b"}, "at": f"s3://b/{key}#index=1"}]  # fmt: skip
    missing = distributed(ItemReader=reader(key=key, InputType="JSON", ItemsPointer="/data/x"))
    error, _ = await run(missing, {}, host)
    assert error.error == "States.ItemReaderFailed"
    assert "The ItemsPointer '/data/x' selects nothing" in error.cause


def listed_files(host: Host) -> None:
    """Three JSONL objects under ``logs/`` (one gzip), a "folder" key, an object elsewhere."""
    for name, lines in (("logs/a.jsonl", ['{"n": 1}', '{"n": 2}']),
                        ("logs/b.jsonl", ['{"n": 3}', "", '{"n": 4}']),
                        ("other/c.jsonl", ['{"n": 99}'])):  # fmt: skip
        host.objects[f"b/{name}"] = "\n".join(lines) + "\n"
        host.blobs[f"b/{name}"] = host.objects[f"b/{name}"].encode()
    host.objects["b/logs/"] = ""
    host.blobs["b/logs/"] = b""
    host.objects["b/logs/c.jsonl.gz"] = "(gzip)"
    host.blobs["b/logs/c.jsonl.gz"] = gzip.compress(b'{"n": 5}\n{"n": 6}\n')


async def test_load_and_flatten_reads_each_listed_object() -> None:
    host = Host({})
    listed_files(host)
    definition = distributed(ItemReader=reader(LIST, "logs/", InputType="JSONL",
                                               Transformation="LOAD_AND_FLATTEN"),
                             ItemSelector=WITH_SOURCE)  # fmt: skip
    output, _ = await run(definition, {}, host)
    assert [o["v"]["n"] for o in output] == [1, 2, 3, 4, 5, 6]
    assert [o["at"] for o in output] == [
        "s3://b/logs/a.jsonl#line=1", "s3://b/logs/a.jsonl#line=2",
        "s3://b/logs/b.jsonl#line=1", "s3://b/logs/b.jsonl#line=3",
        "s3://b/logs/c.jsonl.gz#line=1", "s3://b/logs/c.jsonl.gz#line=2"]  # fmt: skip
    # Without the transformation the listed objects' metadata are the items, as before.
    plain = distributed(ItemReader=reader(LIST, "logs/"), ItemSelector=WITH_SOURCE)
    output, _ = await run(plain, {}, host)
    assert [o["v"]["Key"] for o in output] == ["logs/", "logs/a.jsonl", "logs/b.jsonl",
                                               "logs/c.jsonl.gz"]  # fmt: skip
    assert output[1]["at"] == "s3://b/logs/a.jsonl"


async def test_load_and_flatten_stops_at_max_items_without_reading_further_files() -> None:
    host = Host({})
    listed_files(host)
    read: list[str] = []
    chunks = host.object_chunks

    def counted(context: Any, bucket: str, key: str, named: Any = None) -> Any:
        read.append(key)
        return chunks(context, bucket, key, named)

    host.object_chunks = counted  # type: ignore[method-assign]
    definition = distributed(ItemReader=reader(LIST, "logs/", InputType="JSONL", MaxItems=3,
                                               Transformation="LOAD_AND_FLATTEN"))  # fmt: skip
    output, _ = await run(definition, {}, host)
    assert [o["n"] for o in output] == [1, 2, 3]
    assert read == ["logs/a.jsonl", "logs/b.jsonl"]


async def test_load_and_flatten_over_an_s3_inventory_reads_the_objects_it_lists() -> None:
    host = Host({})
    for key, body in (("photos/day 1.json", {"data": [{"p": 1}, {"p": 2}]}),
                      ("photos/day2.json", {"data": [{"p": 3}]})):  # fmt: skip
        host.objects[f"src/{key}"] = json.dumps(body)
        host.blobs[f"src/{key}"] = json.dumps(body).encode()
    # S3 Inventory writes keys URL-encoded; the objects are read by their real keys.
    rows = '"src","photos/day%201.json","10"\n"src","photos/day2.json","11"\n'
    host.blobs["dest/inv/data/0.csv.gz"] = gzip.compress(rows.encode())
    host.objects["dest/inv/manifest.json"] = json.dumps({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::dest", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size", "files": [{"key": "inv/data/0.csv.gz"}]})  # fmt: skip
    config = {"ManifestType": "S3_INVENTORY", "Transformation": "LOAD_AND_FLATTEN",
              "InputType": "JSON", "ItemsPointer": "/data"}  # fmt: skip
    definition = distributed(
        ItemReader={"Resource": GET, "ReaderConfig": config,
                    "Parameters": {"Bucket": "dest", "Key": "inv/manifest.json"}},
        ItemSelector=WITH_SOURCE)  # fmt: skip
    output, _ = await run(definition, {}, host)
    assert output == [{"v": {"p": 1}, "at": "s3://src/photos/day 1.json#index=0"},
                      {"v": {"p": 2}, "at": "s3://src/photos/day 1.json#index=1"},
                      {"v": {"p": 3}, "at": "s3://src/photos/day2.json#index=0"}]  # fmt: skip
    # Without it, the inventory's rows are the items, each at its line of the data file.
    del config["Transformation"], config["InputType"], config["ItemsPointer"]
    output, _ = await run(definition, {}, host)
    assert output[1] == {"v": {"Bucket": "src", "Key": "photos/day2.json", "Size": "11"},
                         "at": "s3://dest/inv/data/0.csv.gz#line=2"}  # fmt: skip


async def test_the_source_of_parquet_rows_and_csv_records_and_in_jsonata() -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"n": i} for i in range(3)]), sink)
    host = Host({"b/t.csv": "k\nx\ny\n"})
    host.blobs["b/p.parquet"] = sink.getvalue()
    output, _ = await run(distributed(ItemReader=reader(key="p.parquet", InputType="PARQUET"),
                                      ItemSelector=WITH_SOURCE), {}, host)  # fmt: skip
    assert [o["at"] for o in output] == ["s3://b/p.parquet#row=1", "s3://b/p.parquet#row=2",
                                         "s3://b/p.parquet#row=3"]  # fmt: skip
    definition = jsonata_map(
        processor={"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        ItemReader={"Resource": GET, "Arguments": {"Bucket": "b", "Key": "t.csv"},
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}},
        ItemSelector="{% $states.context.Map.Item.Value.k & ' @ ' & "
                     "$states.context.Map.Item.Source %}")  # fmt: skip
    output, _ = await run_jsonata(definition, {}, host)
    assert output == ["x @ s3://b/t.csv#line=2", "y @ s3://b/t.csv#line=3"]
    # Items of the state's input have no Source, as they come from no file.
    inline = distributed(ItemsPath="$.xs", ItemSelector={"i.$": "$$.Map.Item.Index"})
    output, _ = await run(inline, {"xs": ["a"]}, host)
    assert output == [{"i": 0}]


FLAT = "LOAD_AND_FLATTEN"


@pytest.mark.parametrize(
    "item_reader",
    [
        reader(InputType="JSON", ItemsPointer="/data/items"),
        reader(LIST, "p/", InputType="CSV", CSVHeaderLocation="FIRST_ROW", Transformation=FLAT),
        reader(LIST, "p/", InputType="JSON", ItemsPointer="", Transformation=FLAT),
        reader(ManifestType="S3_INVENTORY", Transformation=FLAT, InputType="PARQUET"),
        reader(ManifestType="ATHENA_DATA", Transformation=FLAT, InputType="JSONL"),
        reader(LIST, "p/", Transformation="NONE"),
    ],
)
def test_awss_combinations_pass(item_reader: dict[str, Any]) -> None:
    assert said(distributed(ItemReader=item_reader)) == []
    jsonata = {**item_reader, "Arguments": item_reader["Parameters"]}
    del jsonata["Parameters"]
    assert said(jsonata_map(ItemReader=jsonata)) == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "ItemsPointer": "/a"},
         f"Field 'ItemsPointer' is only supported with the JSON InputType at {WHERE}"),
        ({"InputType": "JSON", "ItemsPointer": "data/items"},
         f"The field 'ItemsPointer' must be a JSON pointer (such as '/data/items') at "
         f"{WHERE}/ItemsPointer"),
        ({"InputType": "JSON", "ItemsPointer": "/a~2"},
         "The field 'ItemsPointer' must be a JSON pointer"),
        ({"InputType": "JSON", "Transformation": "LOAD_AND_FLATTEN"},
         "The field 'Transformation' LOAD_AND_FLATTEN is only supported with s3:listObjectsV2 "
         f"or a 'ManifestType' at {WHERE}"),
        ({"InputType": "JSON", "Transformation": "EXPAND"},
         f"The field 'Transformation' should have one of these values: [NONE, "
         f"LOAD_AND_FLATTEN] at {WHERE}"),
        ({"ManifestType": "S3_INVENTORY", "Transformation": "LOAD_AND_FLATTEN"},
         f"The field 'InputType' is required when 'Transformation' is LOAD_AND_FLATTEN at "
         f"{WHERE}"),
        ({"ManifestType": "S3_INVENTORY", "Transformation": "LOAD_AND_FLATTEN",
          "InputType": "MANIFEST"},
         "The field 'InputType' should have one of these values with 'Transformation' "
         f"LOAD_AND_FLATTEN: [CSV, JSON, JSONL, PARQUET] at {WHERE}"),
    ],
)  # fmt: skip
def test_get_object_reader_fields_are_checked(config: dict[str, Any], expected: str) -> None:
    found = said(distributed(ItemReader=reader(**config)))
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith("SCHEMA_VALIDATION_FAILED: ")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"InputType": "JSONL"},
         "The field 'InputType' is not supported with s3:listObjectsV2 unless 'Transformation' "
         f"is LOAD_AND_FLATTEN at {WHERE}"),
        ({"Transformation": "LOAD_AND_FLATTEN"},
         "The field 'InputType' is required when 'Transformation' is LOAD_AND_FLATTEN"),
        ({"Transformation": "LOAD_AND_FLATTEN", "InputType": "CSV"},
         "The field 'CSVHeaderLocation' should have one of these values: [FIRST_ROW, GIVEN]"),
        ({"Transformation": "LOAD_AND_FLATTEN", "InputType": "JSONL", "ItemsPointer": "/x"},
         "Field 'ItemsPointer' is only supported with the JSON InputType"),
    ],
)  # fmt: skip
def test_list_objects_reader_fields_are_checked(config: dict[str, Any], expected: str) -> None:
    found = said(distributed(ItemReader=reader(LIST, "p/", **config)))
    assert len(found) == 1 and expected in found[0], found
