"""A VPC flow log's records as the Apache Parquet file EC2 writes for ``FileFormat=parquet``
(decision 0170), pure: bytes in memory, no I/O.

One column per field of the flow log's ``LogFormat``, in its order, named as EC2 names them in
Parquet (``account-id`` -> ``account_id``) and typed as EC2 documents them: ``INT_32`` for
``version``, the ports and ``protocol``, ``INT_64`` for the counts and the times, ``STRING``
for the rest; a field a record does not have (plain text's ``-``) is null. Gzip-compressed,
as EC2's flow log Parquet files are. No header row: the schema names the columns.

Importing pyarrow starts a thread: this module is imported when a Parquet file is written,
never at a server's start (see ``storage/inventory_columnar.py``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["parquet_body", "parquet_column"]

_INT32: Final = frozenset({"version", "srcport", "dstport", "protocol"})
_INT64: Final = frozenset({"packets", "bytes", "start", "end"})


def parquet_column(field: str) -> str:
    return field.replace("-", "_")


def _type(field: str) -> pa.DataType:
    if field in _INT32:
        return pa.int32()
    if field in _INT64:
        return pa.int64()
    return pa.string()


def parquet_body(log_format: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """The Parquet file of ``rows`` (each the record's plain-text values in ``log_format``
    order). One interval's records of one flow log: held in memory as its text would be."""
    schema = pa.schema([pa.field(parquet_column(f), _type(f)) for f in log_format])
    columns = []
    for index, field in enumerate(log_format):
        raw = [row[index] for row in rows]
        if field in _INT32 or field in _INT64:
            columns.append(pa.array([None if v == "-" else int(v) for v in raw], type=_type(field)))
        else:
            columns.append(pa.array([None if v == "-" else v for v in raw], type=pa.string()))
    table = pa.Table.from_arrays(columns, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="gzip")
    return sink.getvalue()
