"""S3 Inventory's ORC and Parquet reports (decision 0170): each column's name and type as S3
writes them, the manifest's ``fileSchema`` for each format, and the writer of one data file.

S3 names a columnar report's columns in snake case (``last_modified_date``) and types them:
strings, ``bigint``/``int64`` sizes, booleans for ``is_latest``, ``is_delete_marker`` and
``is_multipart_uploaded``, millisecond timestamps for the two dates. ``bucket`` and ``key``
are required, every other column is optional (null where a field does not apply, as to a
delete marker). Unlike CSV's, the key is written as it is, not URL-encoded.

A data file is written a row group (Parquet) or a batch (ORC) of at most ``group_rows`` rows
at a time: the writer holds those rows, and pyarrow at most one encoded row group or stripe,
whatever the bucket holds. The file goes to a spooled temporary file (memory, then disk past
a few MiB), cut as the CSV files are once it passes the report's file size. Parquet files are
Snappy-compressed, ORC files ZLIB-compressed, the codecs of the writers S3's readers (Athena,
Spark, Hive) default to.

Importing pyarrow starts a thread: this module is imported when a columnar report is made,
never at a server's start (a process that forks, as the server's preload and the tests'
launcher do, must not hold a thread then).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Final

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq

from andromede.storage.inventory import InventoryRow

__all__ = [
    "COLUMNAR_FORMATS",
    "ColumnarDataFile",
    "column_name",
    "file_schema",
    "typed_values",
]

COLUMNAR_FORMATS: Final = ("ORC", "Parquet")
_SPOOL: Final = 4 * 1024 * 1024  # bytes of a data file kept in memory before it spills to disk
# ORC's stripes are cut by encoded size, and a file grows only stripe by stripe: a stripe of a
# quarter of the file size (between these bounds) bounds both the buffer and the overshoot.
_ORC_STRIPE: Final = 8 * 1024 * 1024
_ORC_STRIPE_MIN: Final = 64 * 1024

_BOOLEANS: Final = frozenset({"IsLatest", "IsDeleteMarker", "IsMultipartUploaded"})
_DATES: Final = frozenset({"LastModifiedDate", "ObjectLockRetainUntilDate"})
_REQUIRED: Final = frozenset({"Bucket", "Key"})
# S3's snake-case names where lowering the field's words is not enough.
_NAMES: Final = {"ETag": "e_tag"}


def column_name(field: str) -> str:
    """The column S3 writes for an inventory field: ``LastModifiedDate`` ->
    ``last_modified_date``, ``ETag`` -> ``e_tag``."""
    if field in _NAMES:
        return _NAMES[field]
    out: list[str] = []
    for index, char in enumerate(field):
        if char.isupper() and index and not field[index - 1].isupper():
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def _arrow_type(field: str, file_format: str) -> pa.DataType:
    if field in _BOOLEANS:
        return pa.bool_()
    if field == "Size":
        return pa.int64()
    if field in _DATES:
        # Parquet: TIMESTAMP(MILLIS, adjusted to UTC), as S3 writes it. ORC: its plain
        # ``timestamp`` (a zone would make it ``timestamp with local time zone``), in UTC.
        return pa.timestamp("ms", tz="UTC" if file_format == "Parquet" else None)
    return pa.string()


def arrow_schema(columns: Sequence[str], file_format: str) -> pa.Schema:
    return pa.schema(
        [
            pa.field(column_name(c), _arrow_type(c, file_format), nullable=c not in _REQUIRED)
            for c in columns
        ]
    )


def file_schema(columns: Sequence[str], file_format: str) -> str:
    """The manifest's ``fileSchema``: ORC's struct type string, or Parquet's message type as
    S3's manifests print it (``message s3.inventory {  required binary bucket (STRING); …}``)."""
    if file_format == "ORC":
        kinds = {pa.bool_(): "boolean", pa.int64(): "bigint", pa.string(): "string"}
        parts = []
        for c in columns:
            kind = _arrow_type(c, "ORC")
            parts.append(f"{column_name(c)}:{kinds.get(kind, 'timestamp')}")
        return "struct<" + ",".join(parts) + ">"
    fields = []
    for c in columns:
        repetition = "required" if c in _REQUIRED else "optional"
        if c in _BOOLEANS:
            fields.append(f"{repetition} boolean {column_name(c)}")
        elif c == "Size":
            fields.append(f"{repetition} int64 {column_name(c)}")
        elif c in _DATES:
            fields.append(f"{repetition} int64 {column_name(c)} (TIMESTAMP(MILLIS,true))")
        else:
            fields.append(f"{repetition} binary {column_name(c)} (STRING)")
    return "message s3.inventory {" + "".join(f"  {f};" for f in fields) + "}"


def typed_values(
    row: InventoryRow, bucket: str, columns: Sequence[str]
) -> list[str | int | bool | datetime | None]:
    """The row's values for ``columns``, typed: None where CSV has an empty field, the key
    as it is (CSV's is URL-encoded)."""
    text = row.values(bucket, columns)
    values: list[str | int | bool | datetime | None] = []
    for column, value in zip(columns, text, strict=True):
        if column == "Key":
            values.append(row.key)
        elif value == "":
            values.append(None)
        elif column in _BOOLEANS:
            values.append(value == "true")
        elif column == "Size":
            values.append(row.size)
        elif column == "LastModifiedDate":
            values.append(row.last_modified)
        elif column == "ObjectLockRetainUntilDate":
            values.append(row.retain_until)
        else:
            values.append(value)
    return values


class ColumnarDataFile:
    """One ORC or Parquet data file being written: at most ``group_rows`` rows held, then
    written as a row group (a batch of a stripe for ORC); spooled; cut past ``limit`` bytes."""

    def __init__(
        self, columns: Sequence[str], file_format: str, limit: int, group_rows: int
    ) -> None:
        self._schema = arrow_schema(columns, file_format)
        self._format = file_format
        self._limit = limit
        self._group_rows = group_rows
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
        self._parquet: pq.ParquetWriter | None = None
        self._orc: orc.ORCWriter | None = None
        if file_format == "Parquet":
            self._parquet = pq.ParquetWriter(self._spool, self._schema, compression="snappy")
        else:
            stripe = max(_ORC_STRIPE_MIN, min(_ORC_STRIPE, limit // 4))
            self._orc = orc.ORCWriter(self._spool, compression="ZLIB", stripe_size=stripe)
        self._columns = tuple(columns)
        self._held: list[list[str | int | bool | datetime | None]] = [
            [] for _ in self._schema.names
        ]
        self.rows = 0
        self.groups = 0

    @property
    def held(self) -> int:
        """The rows held in memory, not yet written to the file."""
        return len(self._held[0]) if self._held else 0

    def write(self, row: InventoryRow, bucket: str) -> None:
        self.write_values(typed_values(row, bucket, self._columns))

    def write_values(self, values: Sequence[str | int | bool | datetime | None]) -> None:
        for column, value in zip(self._held, values, strict=True):
            column.append(value)
        self.rows += 1
        if self.held >= self._group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.held:
            return
        table = pa.Table.from_arrays(
            [
                pa.array(values, type=field.type)
                for values, field in zip(self._held, self._schema, strict=True)
            ],
            schema=self._schema,
        )
        if self._parquet is not None:
            self._parquet.write_table(table, row_group_size=self._group_rows)
        elif self._orc is not None:
            self._orc.write(table)
        self._held = [[] for _ in self._schema.names]
        self.groups += 1

    def full(self) -> bool:
        return self._spool.tell() >= self._limit

    def close(self) -> tuple[IO[bytes], int]:
        self._flush()
        if self._parquet is not None:
            self._parquet.close()
        elif self._orc is not None:
            if not self.groups:
                # ORC's writer writes nothing, not even the footer, for no batch: an empty
                # bucket's report is a file of no row, with its schema, as a Parquet one is.
                self._orc.write(self._schema.empty_table())
            self._orc.close()
        size = self._spool.tell()
        return self._spool, size
