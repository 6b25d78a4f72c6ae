"""S3 Inventory's ORC and Parquet reports (decision 0170): the data file writer on a listing of
thousands of rows with tiny row groups, read back by pyarrow (schema, values, row groups,
codec, bounded memory), and whole reports made by the reporter in process, their manifest's
``fileFormat`` and ``fileSchema`` as S3 writes them."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from andromede.inventory_grants import S3InventoryGrants
from andromede.storage.inventory import OPTIONAL_FIELDS, InventoryConfiguration, InventoryRow
from andromede.storage.inventory_columnar import ColumnarDataFile, file_schema
from andromede.storage.inventory_report import InventoryReport, InventoryReporter
from support.s3app import Client, in_process_client

SOURCE = "lake"
DEST = "lake-inventory"
ALL = InventoryConfiguration("all", True, DEST, all_versions=True, optional_fields=OPTIONAL_FIELDS)
_WHEN = datetime(2026, 12, 5, 10, 0, 0, 123000, tzinfo=UTC)

# What AWS's documentation and manifests show for a report of every field.
ORC_SCHEMA = (
    "struct<bucket:string,key:string,version_id:string,is_latest:boolean,"
    "is_delete_marker:boolean,size:bigint,last_modified_date:timestamp,e_tag:string,"
    "storage_class:string,is_multipart_uploaded:boolean,replication_status:string,"
    "encryption_status:string,object_lock_retain_until_date:timestamp,object_lock_mode:string,"
    "object_lock_legal_hold_status:string,intelligent_tiering_access_tier:string,"
    "bucket_key_status:string,checksum_algorithm:string,object_access_control_list:string,"
    "object_owner:string>"
)
PARQUET_SCHEMA = (
    "message s3.inventory {  required binary bucket (STRING);  required binary key (STRING);"
    "  optional binary version_id (STRING);  optional boolean is_latest;"
    "  optional boolean is_delete_marker;  optional int64 size;"
    "  optional int64 last_modified_date (TIMESTAMP(MILLIS,true));"
    "  optional binary e_tag (STRING);  optional binary storage_class (STRING);"
    "  optional boolean is_multipart_uploaded;  optional binary replication_status (STRING);"
    "  optional binary encryption_status (STRING);"
    "  optional int64 object_lock_retain_until_date (TIMESTAMP(MILLIS,true));"
    "  optional binary object_lock_mode (STRING);"
    "  optional binary object_lock_legal_hold_status (STRING);"
    "  optional binary intelligent_tiering_access_tier (STRING);"
    "  optional binary bucket_key_status (STRING);  optional binary checksum_algorithm (STRING);"
    "  optional binary object_access_control_list (STRING);"
    "  optional binary object_owner (STRING);}"
)


def test_the_manifest_schemas_are_s3s() -> None:
    assert file_schema(ALL.columns, "ORC") == ORC_SCHEMA
    assert file_schema(ALL.columns, "Parquet") == PARQUET_SCHEMA


def _row(n: int) -> InventoryRow:
    marker = n % 10 == 3
    return InventoryRow(
        key=f"logs/{n:05d} a+b",
        version_id=f"v{n}",
        is_latest=n % 2 == 0,
        delete_marker=marker,
        size=n * 7,
        last_modified=_WHEN + timedelta(seconds=n, microseconds=456),  # cut to the ms
        etag=f"{n:032x}" + ("-2" if n % 5 == 0 else ""),
        replication_status="COMPLETED" if n % 4 == 0 else None,
        encryption_status="SSE-S3",
        retain_until=_WHEN + timedelta(days=1) if n % 3 == 0 else None,
        lock_mode="GOVERNANCE" if n % 3 == 0 else None,
        legal_hold=n % 6 == 0,
        bucket_key=False,
        checksum_algorithm="CRC32C",
        acl_json='{"grants":[]}',
        owner_id="owner",
    )


def _read(data: bytes, file_format: str) -> pa.Table:
    if file_format == "Parquet":
        return pq.read_table(io.BytesIO(data))
    return orc.read_table(io.BytesIO(data))


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
def test_thousands_of_rows_are_written_a_row_group_at_a_time(file_format: str) -> None:
    rows = 3000
    writer = ColumnarDataFile(ALL.columns, file_format, 1 << 30, group_rows=64)
    peak_held = 0
    allocated = []
    for n in range(rows):
        writer.write(_row(n), SOURCE)
        peak_held = max(peak_held, writer.held)
        allocated.append(pa.total_allocated_bytes())
    assert peak_held == 63  # the 64th row writes the group out
    assert writer.groups == rows // 64
    spool, size = writer.close()
    with spool:
        spool.seek(0)
        data = spool.read()
    assert len(data) == size
    table = _read(data, file_format)
    assert table.num_rows == rows
    # Bounded: what the writer held never came near the whole listing's columns.
    whole = pa.Table.from_pylist(table.to_pylist(), schema=table.schema)
    assert max(allocated) < whole.nbytes // 4
    if file_format == "Parquet":
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
        assert meta.num_row_groups == -(-rows // 64)
        assert meta.row_group(0).column(0).compression == "SNAPPY"
        assert table.schema.field("last_modified_date").type == pa.timestamp("ms", tz="UTC")
        assert not table.schema.field("key").nullable
    else:
        assert orc.ORCFile(io.BytesIO(data)).compression == "ZLIB"
        assert table.schema.field("last_modified_date").type == pa.timestamp("ns")
    assert table.schema.names == [c.split(":")[0] for c in ORC_SCHEMA[7:-1].split(",")]
    got = table.to_pylist()
    first, marker = got[0], got[3]
    assert first["bucket"] == SOURCE and first["key"] == "logs/00000 a+b"  # not URL-encoded
    assert first["version_id"] == "v0" and first["is_latest"] is True
    assert first["is_delete_marker"] is False and first["size"] == 0
    assert first["is_multipart_uploaded"] is True and first["replication_status"] == "COMPLETED"
    assert first["object_lock_mode"] == "GOVERNANCE"
    assert first["object_lock_legal_hold_status"] == "ON"
    assert first["bucket_key_status"] == "DISABLED" and first["storage_class"] == "STANDARD"
    assert first["intelligent_tiering_access_tier"] is None
    assert first["object_access_control_list"] == "eyJncmFudHMiOltdfQ=="
    retain = first["object_lock_retain_until_date"]
    stamp = first["last_modified_date"]
    if file_format == "ORC":  # ORC's timestamp has no zone: UTC
        retain, stamp = retain.replace(tzinfo=UTC), stamp.replace(tzinfo=UTC)
    assert stamp == _WHEN and retain == _WHEN + timedelta(days=1)
    # A delete marker: only what applies to it.
    assert marker["is_delete_marker"] is True and marker["size"] is None
    assert marker["e_tag"] is None and marker["is_multipart_uploaded"] is None
    assert marker["last_modified_date"] is not None and marker["object_owner"] == "owner"
    assert [r["size"] for r in got if not r["is_delete_marker"]] == [
        n * 7 for n in range(rows) if n % 10 != 3
    ]


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
def test_a_data_file_is_cut_by_its_size(file_format: str) -> None:
    writer = ColumnarDataFile(("Bucket", "Key", "Size"), file_format, 2048, group_rows=10)
    n = 0
    while not writer.full():
        writer.write_values(["b", f"{n:x}" * 40, n])
        n += 1
        assert n < 100_000
    assert writer.rows == n
    spool, size = writer.close()
    spool.close()
    # Late by one row group at most (Parquet), or one stripe, 64 KiB at least (ORC).
    assert 2048 <= size < 2048 + (4096 if file_format == "Parquet" else 2 * 64 * 1024)


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
def test_an_empty_bucket_s_file_is_a_file_of_no_row(file_format: str) -> None:
    spool, size = ColumnarDataFile(("Bucket", "Key"), file_format, 1 << 20, 10).close()
    with spool:
        spool.seek(0)
        table = _read(spool.read(), file_format)
    assert size > 0 and table.num_rows == 0 and table.schema.names == ["bucket", "key"]


# -- whole reports ------------------------------------------------------------------------------

_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{DEST}/*",
        }
    ],
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        for bucket in (SOURCE, DEST):
            assert (await made.request("PUT", f"/{bucket}")).status == 200
        policy = json.dumps(_POLICY).encode()
        assert (await made.request("PUT", f"/{DEST}?policy", policy)).status == 204
        yield made


def _config_xml(config_id: str, file_format: str) -> bytes:
    return (
        '<InventoryConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Id>{config_id}</Id><IsEnabled>true</IsEnabled><Destination><S3BucketDestination>"
        f"<Bucket>arn:aws:s3:::{DEST}</Bucket><Format>{file_format}</Format>"
        "<Prefix>columnar</Prefix></S3BucketDestination></Destination>"
        "<IncludedObjectVersions>Current</IncludedObjectVersions><OptionalFields>"
        "<Field>Size</Field><Field>LastModifiedDate</Field><Field>IsMultipartUploaded</Field>"
        "<Field>EncryptionStatus</Field></OptionalFields>"
        "<Schedule><Frequency>Daily</Frequency></Schedule></InventoryConfiguration>"
    ).encode()


async def _read_object(client: Client, key: str) -> bytes:
    reply = await client.request("GET", f"/{DEST}/{key}")
    assert reply.status == 200, reply.body
    return reply.body


async def test_the_reporter_writes_parquet_and_orc_reports(client: Client) -> None:
    names = [f"k/{n:03d} x" for n in range(40)]
    for name in names:
        assert (await client.request("PUT", f"/{SOURCE}/{name}", name.encode())).status == 200
    for config_id, file_format in (("pq", "Parquet"), ("orc", "ORC")):
        reply = await client.request(
            "PUT", f"/{SOURCE}?inventory&id={config_id}", _config_xml(config_id, file_format)
        )
        assert reply.status == 200, reply.body
        got = await client.request("GET", f"/{SOURCE}?inventory&id={config_id}")
        assert f"<Format>{file_format}</Format>".encode() in got.body
    made = InventoryReporter(
        client.objects,  # type: ignore[arg-type]
        client.store,  # type: ignore[arg-type]
        S3InventoryGrants(),
        interval=1.0,
        file_size=1 << 20,
        claim_seconds=600,
        on_report=lambda report: None,
        row_group_rows=8,
        clock=lambda: _WHEN,
    )
    reports: list[InventoryReport] = sorted(await made.run_once(), key=lambda r: r.config_id)
    assert [(r.config_id, r.delivered, r.rows, r.files) for r in reports] == [
        ("orc", True, 40, 1),
        ("pq", True, 40, 1),
    ]
    for report, file_format, ending in zip(
        reports, ("ORC", "Parquet"), (".orc", ".parquet"), strict=True
    ):
        manifest_bytes = await _read_object(client, report.manifest_key)
        checksum_key = report.manifest_key.replace("manifest.json", "manifest.checksum")
        checksum = (await _read_object(client, checksum_key)).decode()
        assert checksum == hashlib.md5(manifest_bytes, usedforsecurity=False).hexdigest()
        manifest: dict[str, Any] = json.loads(manifest_bytes)
        assert manifest["fileFormat"] == file_format
        columns = ("Bucket", "Key", "Size", "LastModifiedDate", "IsMultipartUploaded")
        assert manifest["fileSchema"] == file_schema((*columns, "EncryptionStatus"), file_format)
        [entry] = manifest["files"]
        assert entry["key"].startswith(f"columnar/{SOURCE}/{report.config_id}/data/")
        assert entry["key"].endswith(ending)
        data = await _read_object(client, entry["key"])
        assert len(data) == entry["size"]
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == entry["MD5checksum"]
        head = await client.request("HEAD", f"/{DEST}/{entry['key']}")
        assert head.headers["x-amz-server-side-encryption"] == "AES256"
        table = _read(data, file_format)
        assert [r["key"] for r in table.to_pylist()] == names
        assert table.column("size").to_pylist() == [len(n) for n in names]
        assert set(table.column("encryption_status").to_pylist()) == {"SSE-S3"}
        assert set(table.column("is_multipart_uploaded").to_pylist()) == {False}
        if file_format == "Parquet":
            assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups == 5
