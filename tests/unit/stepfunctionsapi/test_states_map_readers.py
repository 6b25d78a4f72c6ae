"""Decision 0345 through the API and the object service: a distributed Map reading an S3
Inventory manifest (its gzip CSV rows as S3 Inventory writes them) and a Parquet object (read
by ranges, as S3 Select reads Parquet) as the state machine's role — each data file judged by
S3's authoriser — and ResultWriter's WriterConfig shaping the files it writes, or the state's
output when it writes none."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from andromede.storage.encryption import ObjectEncryption
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.inventory import InventoryRow
from andromede.storage.model import ContentHeaders
from support.statesapp import REGION, World
from unit.stepfunctionsapi.test_states_map_runs import allow, put, read, start

SCHEMA = ["Bucket", "Key", "Size", "LastModifiedDate"]
GET = "arn:aws:states:::s3:getObject"


async def put_bytes(world: World, bucket: str, key: str, data: bytes) -> None:
    """``put`` of bytes (a gzip file, a Parquet object)."""

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await world.objects.put_object(
        bucket, key, chunks(), size=len(data), headers=ContentHeaders(),
        owner_id=world.tenant_id, integrity=BodyIntegrity(),
        encryption=ObjectEncryption(tenant_id=world.tenant_id),
    )  # fmt: skip


def machine(reader: dict[str, Any], **fields: Any) -> str:
    return json.dumps({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "End": True, "ItemReader": reader,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
        **fields}}})  # fmt: skip


async def buckets(world: World, *names: str) -> None:
    for name in names:
        await world.objects.create_bucket(name, tenant_id=world.tenant_id,
                                          owner_id=world.tenant_id, region=REGION)  # fmt: skip


async def write_inventory(world: World, keys: list[str]) -> None:
    """A report of ``photos`` into ``reports`` with the rows S3 Inventory (and this platform's
    reporter, ``InventoryRow.values``) writes: every value quoted, the key URL-encoded."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    moment = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    for key in keys:
        writer.writerow(InventoryRow(key, size=len(key), last_modified=moment)
                        .values("photos", SCHEMA))  # fmt: skip
    data = gzip.compress(out.getvalue().encode())
    await put_bytes(world, "reports", "photos/cfg/data/one.csv.gz", data)
    manifest = {"sourceBucket": "photos", "destinationBucket": "arn:aws:s3:::reports",
                "version": "2016-11-30", "creationTimestamp": "1765015200000",
                "fileFormat": "CSV", "fileSchema": ", ".join(SCHEMA),
                "files": [{"key": "photos/cfg/data/one.csv.gz", "size": len(data),
                           "MD5checksum": "0" * 32}]}  # fmt: skip
    await put(world, "reports", "photos/cfg/2026-12-06T00-00Z/manifest.json", json.dumps(manifest))


MANIFEST = {"Resource": GET, "ReaderConfig": {"InputType": "MANIFEST", "MaxItems": 3},
            "Parameters": {"Bucket": "reports",
                           "Key": "photos/cfg/2026-12-06T00-00Z/manifest.json"}}  # fmt: skip


async def test_an_inventory_mapped_its_results_written_as_json_lines(world: World) -> None:
    await buckets(world, "reports", "outbox")
    await write_inventory(world, [f"day/{i}.jpg" for i in range(5)])
    role = await world.role("inv", policy=allow("s3:GetObject", "s3:PutObject"))
    definition = machine(MANIFEST, ResultWriter={
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "outbox", "Prefix": "runs"},
        "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}})  # fmt: skip
    done = await start(world, definition, role, {})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    manifest = await read(world, "outbox", output["ResultWriterDetails"]["Key"])
    (listed,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert listed["Key"].endswith("/SUCCEEDED_0.jsonl")
    record = await world.objects.head_object("outbox", listed["Key"])
    body = b"".join([c async for c in world.objects.read_object(record, 0, record.size - 1)])
    items = sorted((json.loads(line) for line in body.decode().splitlines()),
                   key=lambda i: i["Key"])  # fmt: skip
    assert items == [
        {"Bucket": "photos", "Key": f"day/{i}.jpg", "Size": "9",
         "LastModifiedDate": "2026-12-06T10:00:00.000Z"} for i in range(3)]  # fmt: skip


async def test_each_data_file_is_read_as_the_role(world: World) -> None:
    await buckets(world, "reports")
    await write_inventory(world, ["a.jpg"])
    key = MANIFEST["Parameters"]["Key"]
    manifest_only = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::reports/{key}"}]})  # fmt: skip
    role = await world.role("half", policy=manifest_only)
    done = await start(world, machine(MANIFEST), role, {})
    assert done["status"] == "FAILED" and done["error"] == "States.ItemReaderFailed"
    assert "AccessDenied" in done["cause"]


async def test_a_parquet_object_read_by_ranges_its_output_flattened(world: World) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    await buckets(world, "lake")
    sink = io.BytesIO()
    rows = [{"id": i, "tags": [f"t{i}", "x"], "at": datetime(2026, 12, 7, i, tzinfo=UTC)}
            for i in range(6)]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), sink, row_group_size=2)
    await put_bytes(world, "lake", "part-0.parquet", sink.getvalue())
    role = await world.role("pq", policy=allow("s3:GetObject"))
    reader = {"Resource": GET, "ReaderConfig": {"InputType": "PARQUET"},
              "Parameters": {"Bucket": "lake", "Key": "part-0.parquet"}}  # fmt: skip
    definition = json.dumps({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "End": True, "ItemReader": reader,
        "ItemSelector": {"tags.$": "$$.Map.Item.Value.tags"},
        "ResultWriter": {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Tags", "States": {"Tags": {"Type": "Pass", "End": True,
                                                   "OutputPath": "$.tags"}}}}}})  # fmt: skip
    done = await start(world, definition, role, {})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [t for i in range(6) for t in (f"t{i}", "x")]
    plain = machine(reader)
    made = await world.client("CreateStateMachine", name="plain", definition=plain, roleArn=role)
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    again = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert json.loads(again["output"])[5] == {"id": 5, "tags": ["t5", "x"],
                                              "at": "2026-12-07T05:00:00Z"}  # fmt: skip
    # Not Parquet: the reader fails in S3 Select's place with the state's error
    await put(world, "lake", "part-0.parquet", "id,tags\n1,x\n")
    made = await world.client("CreateStateMachine", name="broken", definition=plain,
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    broken = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert broken["status"] == "FAILED" and broken["error"] == "States.ItemReaderFailed"


async def test_validation_at_create_in_awss_words(world: World) -> None:
    role = await world.role("v")
    reader = {**MANIFEST, "ReaderConfig": {"ManifestType": "S3_INVENTORY", "InputType": "CSV"}}
    refused = await world.fails("CreateStateMachine", "InvalidDefinition", name="bad",
                                definition=machine(reader), roleArn=role)  # fmt: skip
    assert "'InputType' must not be given when 'ManifestType' is S3_INVENTORY" in refused.message
    checked = await world.client("ValidateStateMachineDefinition", definition=machine(
        MANIFEST, ResultWriter={"WriterConfig": {"OutputType": "CSV"}}))  # fmt: skip
    assert checked["result"] == "FAIL"
    assert (
        checked["diagnostics"][0]["location"] == "/States/Map/ResultWriter/WriterConfig/OutputType"
    )
