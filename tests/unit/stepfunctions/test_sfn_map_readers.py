"""Decision 0345: a distributed Map's ItemReader over an S3 Inventory manifest (``InputType``
``MANIFEST`` or ``ManifestType`` ``S3_INVENTORY``: gzip CSV data files, each row an object of
the manifest's ``fileSchema``), an Athena manifest (``ATHENA_DATA``), a Parquet object, read a
chunk at a time and stopped at ``MaxItems``; ResultWriter's ``WriterConfig``
(``Transformation`` NONE / COMPACT / FLATTEN, ``OutputType`` JSON / JSONL) with and without
S3, in JSONPath and JSONata; the validation of these fields in AWS's terms."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest

from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_readers import json_value
from andromede.stepfunctions.map_results import serialised, shaped, writer_config
from unit.stepfunctions.test_sfn_distributed_map import TASK, Host, distributed, run, said
from unit.stepfunctions.test_sfn_jsonata_map import jsonata_map
from unit.stepfunctions.test_sfn_jsonata_map import run as run_jsonata

GET = "arn:aws:states:::s3:getObject"
PUT = "arn:aws:states:::s3:putObject"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def inventory(host: Host, rows: list[list[str]], files: int = 1, file_format: str = "CSV") -> None:
    """A manifest as S3 Inventory writes it, its rows spread over ``files`` gzip files."""
    listed = []
    for number in range(files):
        text = "".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows[number::files])
        key = f"src/inv/data/part-{number}.csv.gz"
        host.blobs[f"dest/{key}"] = gzip.compress(text.encode())
        listed.append({"key": key, "size": len(host.blobs[f"dest/{key}"]), "MD5checksum": "x"})
    host.objects["dest/src/inv/2026-12-07T00-00Z/manifest.json"] = json.dumps({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::dest",
        "version": "2016-11-30", "creationTimestamp": "1765065600000",
        "fileFormat": file_format, "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": listed})  # fmt: skip


def manifest_reader(**config: Any) -> dict[str, Any]:
    return {"Resource": GET, "ReaderConfig": config or {"InputType": "MANIFEST"},
            "Parameters": {"Bucket": "dest",
                           "Key": "src/inv/2026-12-07T00-00Z/manifest.json"}}  # fmt: skip


ROWS = [["src", f"photos/{i:03d}.jpg", str(100 + i), "2026-12-06T10:00:00.000Z"]
        for i in range(12)]  # fmt: skip


async def test_an_inventory_manifests_rows_are_the_items_with_awss_names() -> None:
    host = Host({})
    inventory(host, ROWS, files=3)
    output, _ = await run(distributed(ItemReader=manifest_reader()), {}, host)
    assert len(output) == 12
    assert output[0] == {"Bucket": "src", "Key": "photos/000.jpg", "Size": "100",
                         "LastModifiedDate": "2026-12-06T10:00:00.000Z"}  # fmt: skip
    assert sorted(o["Key"] for o in output) == [r[1] for r in ROWS]
    # AWS's newer spelling reads the same
    again, _ = await run(distributed(ItemReader=manifest_reader(ManifestType="S3_INVENTORY")),
                         {}, host)  # fmt: skip
    assert again == output


async def test_max_items_stops_the_reading() -> None:
    host = Host({})
    inventory(host, ROWS * 40)  # 480 rows in one file of many 5-byte chunks
    whole = await run(distributed(ItemReader=manifest_reader(InputType="MANIFEST")), {}, host)
    assert isinstance(whole[0], StatesError)  # beyond the host's 20 items
    assert whole[0].error == "States.ItemReaderFailed" and "More than 20 items" in whole[0].cause
    host.chunks_read = 0
    output, _ = await run(distributed(
        ItemReader=manifest_reader(InputType="MANIFEST", MaxItems=3)), {}, host)  # fmt: skip
    assert [o["Key"] for o in output] == ["photos/000.jpg", "photos/001.jpg", "photos/002.jpg"]
    compressed = len(host.blobs["dest/src/inv/data/part-0.csv.gz"])
    assert host.chunks_read < compressed / 5  # the file was not read to its end


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (lambda h: inventory(h, ROWS, file_format="ORC"), "reads CSV inventories only"),
        (lambda h: h.objects.update({"dest/src/inv/2026-12-07T00-00Z/manifest.json": "[1"}),
         "The manifest is not valid JSON"),
        (lambda h: h.blobs.update({"dest/src/inv/data/part-0.csv.gz": b"not gzip at all"}),
         "is not valid GZIP"),
        (lambda h: h.blobs.update({"dest/src/inv/data/part-0.csv.gz": gzip.compress(
            b'"src","' + b"k" * 2000 + b'"\n')}), "larger than 1024 bytes"),
    ],
)  # fmt: skip
async def test_a_bad_manifest_or_data_file_is_item_reader_failed(change: Any, cause: str) -> None:
    host = Host({})
    inventory(host, ROWS)
    change(host)
    error, _ = await run(distributed(ItemReader=manifest_reader()), {}, host)
    assert isinstance(error, StatesError) and error.error == "States.ItemReaderFailed"
    assert cause in error.cause


def parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink, row_group_size=2)
    return sink.getvalue()


async def test_a_parquet_objects_rows_are_json_objects() -> None:
    host = Host({})
    rows = [{"id": i, "name": f"n{i}", "score": i / 2, "tags": ["a", "b"]} for i in range(5)]
    host.blobs["b/data.parquet"] = parquet(rows)
    reader = {"Resource": GET, "ReaderConfig": {"InputType": "PARQUET", "MaxItems": 4},
              "Parameters": {"Bucket": "b", "Key": "data.parquet"}}  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader), {}, host)
    assert output == rows[:4]


async def test_an_athena_manifest_reads_each_file_as_its_input_type() -> None:
    host = Host({"q/run-manifest.csv": "s3://q/out/1.gz\ns3://q/out/2\n"})
    host.blobs["q/out/1.gz"] = gzip.compress(b'{"a": 1}\n{"a": 2}\n')
    host.blobs["q/out/2"] = b'{"a": 3}'
    reader = {"Resource": GET, "Parameters": {"Bucket": "q", "Key": "run-manifest.csv"},
              "ReaderConfig": {"ManifestType": "ATHENA_DATA", "InputType": "JSONL"}}  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader), {}, host)
    assert output == [{"a": 1}, {"a": 2}, {"a": 3}]
    host.blobs["q/out/1.gz"] = gzip.compress(b'x,"multi\nline",z\n1,2\n')
    host.blobs["q/out/2"] = b"4,5,6,7\n"
    reader["ReaderConfig"] = {
        "ManifestType": "ATHENA_DATA", "InputType": "CSV", "CSVHeaderLocation": "GIVEN",
        "CSVHeaders": ["p", "q", "r"]}  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader), {}, host)
    # AWS's rules: fewer fields than headers are "", more are dropped
    assert output == [{"p": "x", "q": "multi\nline", "r": "z"}, {"p": "1", "q": "2", "r": ""},
                      {"p": "4", "q": "5", "r": "6"}]  # fmt: skip


async def test_csv_delimiter_as_aws_names_them() -> None:
    host = Host({"b/semi.csv": "a;b\n1;2\n", "q/m.csv": "s3://q/pipes\n"})
    host.blobs["q/pipes"] = b'x|"y|z"\n'
    reader = {"Resource": GET, "Parameters": {"Bucket": "b", "Key": "semi.csv"},
              "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW",
                               "CSVDelimiter": "SEMICOLON"}}  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader), {}, host)
    assert output == [{"a": "1", "b": "2"}]
    reader = {"Resource": GET, "Parameters": {"Bucket": "q", "Key": "m.csv"},
              "ReaderConfig": {"ManifestType": "ATHENA_DATA", "InputType": "CSV",
                               "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["p", "q"],
                               "CSVDelimiter": "PIPE"}}  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader), {}, host)
    assert output == [{"p": "x", "q": "y|z"}]


@pytest.mark.parametrize(
    ("config", "body", "items"),
    [
        ({"InputType": "JSON"}, b'[{"a": 1},\n 2]', [{"a": 1}, 2]),
        ({"InputType": "JSONL"}, b'{"a": 1}\n2\n', [{"a": 1}, 2]),
        ({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, b"a,b\n1,2\n",
         [{"a": "1", "b": "2"}]),
    ],
)  # fmt: skip
async def test_a_gzip_object_of_the_text_types(
    config: dict[str, Any], body: bytes, items: list[Any]
) -> None:
    host = Host({})
    host.blobs["b/in.gz"] = gzip.compress(body)
    reader = {"Resource": GET, "ReaderConfig": config,
              "Parameters": {"Bucket": "b", "Key": "in.gz"}}  # fmt: skip
    output, _ = await run(distributed(ItemReader=reader), {}, host)
    assert output == items
    host.blobs["b/in.gz"] = gzip.compress(b"[" + b"1," * 600 + b"1]")
    big, _ = await run(distributed(ItemReader={**reader, "ReaderConfig": {"InputType": "JSON"}}),
                       {}, host)  # fmt: skip
    assert isinstance(big, StatesError) and "larger than 1024 bytes" in big.cause


def test_parquet_values_become_json() -> None:
    from datetime import UTC, date, datetime
    from decimal import Decimal

    assert json_value({"t": datetime(2026, 12, 7, 9, 0, tzinfo=UTC), "d": date(2026, 1, 2),
                       "n": Decimal("1.50"), "i": Decimal("3"), "b": b"hi",
                       "m": [("k", 1)], "l": [1, None], "f": float("nan")}) == {
        "t": "2026-12-07T09:00:00Z", "d": "2026-01-02", "n": 1.5, "i": 3, "b": "hi",
        "m": {"k": 1}, "l": [1, None], "f": None}  # fmt: skip


RECORDS = [{"Status": "SUCCEEDED", "Output": "[1,2]"}, {"Status": "FAILED", "Error": "E"},
           {"Status": "SUCCEEDED", "Output": '{"x":1}'}]  # fmt: skip
OUTPUTS = [[1, 2], None, {"x": 1}]


def test_the_transformations_as_aws_documents_them() -> None:
    assert shaped(RECORDS, OUTPUTS, "NONE") == RECORDS
    assert shaped(RECORDS, OUTPUTS, "COMPACT") == [[1, 2], RECORDS[1], {"x": 1}]
    assert shaped(RECORDS, OUTPUTS, "FLATTEN") == [1, 2, RECORDS[1], {"x": 1}]
    assert serialised([1, {"a": 2}], "JSONL") == '1\n{"a":2}\n'
    assert serialised([1, {"a": 2}], "JSON") == '[1,{"a":2}]'
    assert writer_config({"Resource": PUT}) == ("NONE", "JSON")
    assert writer_config({"WriterConfig": {"OutputType": "JSONL"}}) == ("COMPACT", "JSONL")


async def test_writer_config_alone_shapes_the_states_output() -> None:
    items = [[{"n": 1}], [{"n": 2}, {"n": 3}]]
    host = Host({})
    flat = distributed(processor=PASS, ItemsPath="$.items",
                       ResultWriter={"WriterConfig": {"Transformation": "FLATTEN",
                                                      "OutputType": "JSON"}})  # fmt: skip
    output, _ = await run(flat, {"items": items}, host)
    assert output == [{"n": 1}, {"n": 2}, {"n": 3}] and host.written == {}
    none = distributed(processor=PASS, ItemsPath="$.items",
                       ResultWriter={"WriterConfig": {"Transformation": "NONE"}})  # fmt: skip
    output, _ = await run(none, {"items": items}, host)
    assert [json.loads(r["Output"]) for r in output] == items
    assert {r["Status"] for r in output} == {"SUCCEEDED"}


async def test_writer_config_shapes_the_files_written() -> None:
    items = [{"n": i, "fail": i == 1} for i in range(3)]
    host = Host({})
    definition = distributed(
        processor=TASK, ItemsPath="$.items", ToleratedFailureCount=1,
        ResultWriter={
            "Resource": PUT, "Parameters": {"Bucket": "out", "Prefix": "p"},
            "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}})  # fmt: skip
    output, _ = await run(definition, {"items": items}, host)
    base = output["ResultWriterDetails"]["Key"].rsplit("/", 1)[0]
    lines = host.written[f"out/{base}/SUCCEEDED_0.jsonl"].splitlines()
    assert sorted(lines) == ['{"done":0}', '{"done":2}']
    (failed,) = host.written[f"out/{base}/FAILED_0.jsonl"].splitlines()
    assert json.loads(failed)["Error"] == "Boom"  # a failed child's record unchanged
    manifest = json.loads(host.written[f"out/{base}/manifest.json"])
    assert manifest["ResultFiles"]["SUCCEEDED"][0]["Key"] == f"{base}/SUCCEEDED_0.jsonl"


async def test_writer_config_in_jsonata() -> None:
    host = Host({})
    definition = jsonata_map(
        processor={"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True,
                                                    "Output": "{% [$states.input, 0] %}"}}},
        Items="{% $states.input.items %}",
        ResultWriter={"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}},
        Output={"all": "{% $states.result %}"})  # fmt: skip
    output, _ = await run_jsonata(definition, {"items": ["a", "b"]}, host)
    assert output == {"all": ["a", 0, "b", 0]}


def test_awss_combinations_pass() -> None:
    assert said(distributed(ItemReader=manifest_reader())) == []
    assert said(distributed(ItemReader=manifest_reader(ManifestType="S3_INVENTORY",
                                                       MaxItems=5))) == []  # fmt: skip
    assert said(distributed(ItemReader=manifest_reader(
        ManifestType="ATHENA_DATA", InputType="CSV", CSVHeaderLocation="GIVEN",
        CSVHeaders=["a"]))) == []  # fmt: skip
    assert said(distributed(ItemReader=manifest_reader(InputType="PARQUET"))) == []
    flat = {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSONL"}}
    assert said(distributed(ResultWriter=flat)) == []
    assert said(distributed(ResultWriter={
        "Resource": PUT, "Parameters": {"Bucket": "b"},
        "WriterConfig": {"Transformation": "NONE", "OutputType": "JSON"}})) == []  # fmt: skip
    assert said(jsonata_map(ResultWriter={
        "Resource": PUT, "Arguments": {"Bucket": "b"},
        "WriterConfig": {"Transformation": "COMPACT"}})) == []  # fmt: skip


WHERE = "/States/M/ItemReader/ReaderConfig"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"ItemReader": manifest_reader(ManifestType="S3_INVENTORY", InputType="CSV")},
         f"The field 'InputType' must not be given when 'ManifestType' is S3_INVENTORY: the "
         f"inventory's type is CSV at {WHERE}"),
        ({"ItemReader": manifest_reader(ManifestType="ATHENA_DATA", InputType="JSON")},
         "The field 'InputType' should have one of these values with 'ManifestType' "
         f"ATHENA_DATA: [CSV, JSONL, PARQUET] at {WHERE}"),
        ({"ItemReader": manifest_reader(ManifestType="GLUE")},
         f"The field 'ManifestType' should have one of these values: [ATHENA_DATA, "
         f"S3_INVENTORY] at {WHERE}"),
        ({"ItemReader": manifest_reader(InputType="PARQUET", CSVHeaderLocation="FIRST_ROW")},
         f"Field 'CSVHeaderLocation' is only supported with the CSV and MANIFEST InputTypes at "
         f"{WHERE}"),
        ({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                         "Parameters": {"Bucket": "b"},
                         "ReaderConfig": {"ManifestType": "S3_INVENTORY"}}},
         f"The field 'ManifestType' is not supported with s3:listObjectsV2 at {WHERE}"),
        ({"ItemReader": manifest_reader(InputType="MANIFEST", CSVDelimiter="COLON")},
         "The field 'CSVDelimiter' should have one of these values: [COMMA, PIPE, SEMICOLON, "
         f"SPACE, TAB] at {WHERE}"),
        ({"ItemReader": manifest_reader(InputType="JSONL", CSVDelimiter="TAB")},
         f"Field 'CSVDelimiter' is only supported with the CSV and MANIFEST InputTypes at {WHERE}"),
        ({"ResultWriter": {}},
         "The ResultWriter needs either 'WriterConfig', or 'Resource' and 'Parameters', or all "
         "three at /States/M/ResultWriter"),
        ({"ResultWriter": {"Parameters": {"Bucket": "b"}, "WriterConfig": {}}},
         "The ResultWriter needs either 'WriterConfig', or 'Resource' and 'Parameters'"),
        ({"ResultWriter": {"WriterConfig": {"Transformation": "SQUASH"}}},
         "The field 'Transformation' should have one of these values: [NONE, COMPACT, FLATTEN] "
         "at /States/M/ResultWriter/WriterConfig/Transformation"),
        ({"ResultWriter": {"WriterConfig": {"OutputType": "CSV"}}},
         "The field 'OutputType' should have one of these values: [JSON, JSONL] at "
         "/States/M/ResultWriter/WriterConfig/OutputType"),
        ({"ResultWriter": {"WriterConfig": {"Compression": "GZIP"}}},
         "Field 'Compression' is not supported at /States/M/ResultWriter/WriterConfig"),
        ({"ResultWriter": {"WriterConfig": "JSONL"}},
         "The field 'WriterConfig' must be an object at /States/M/ResultWriter/WriterConfig"),
    ],
)  # fmt: skip
def test_these_fields_are_checked(fields: dict[str, Any], expected: str) -> None:
    found = said(distributed(**fields))
    assert found == [f"SCHEMA_VALIDATION_FAILED: {expected}"] or (
        len(found) == 1 and expected in found[0]), found  # fmt: skip
