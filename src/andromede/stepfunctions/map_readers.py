"""A distributed Map's items read from manifests and Parquet, streamed (decision 0345).

An ``ItemReader`` over ``s3:getObject`` whose ``ReaderConfig`` says:

- ``InputType`` ``MANIFEST``, or ``ManifestType`` ``S3_INVENTORY`` (AWS's newer spelling of
  the same): the object is an S3 Inventory's ``manifest.json``. Its ``fileFormat`` must be
  ``CSV`` (AWS refuses an ORC or Parquet inventory); each data file it lists (in the
  manifest's ``destinationBucket``, gzip when its key ends in ``.gz``) is read a piece at a
  time, each row an item whose names are the manifest's ``fileSchema`` (``Bucket``, ``Key``,
  ``Size``, ``LastModifiedDate``…, or ``CSVHeaders`` when given) and whose values are the text
  the inventory holds, as AWS gives them;
- ``ManifestType`` ``ATHENA_DATA``: the object is an Athena ``UNLOAD`` manifest (a line an
  ``s3://bucket/key`` data file); each file is read as ``InputType`` says — ``CSV`` (headers
  ``GIVEN`` or each file's first row), ``JSONL``, ``PARQUET``;
- ``CSVDelimiter`` (``COMMA``, ``PIPE``, ``SEMICOLON``, ``SPACE``, ``TAB``) for CSV data;
- ``InputType`` ``PARQUET``: the object's rows, a row group at a time, as JSON objects;
- a ``JSON``, ``JSONL`` or ``CSV`` object whose key ends in ``.gz`` (AWS's GZIP input) or
  ``.zst`` / ``.zstd`` (AWS's ZSTD input, decision 0358): decompressed as it is read
  (``map_unzip``), a manifest's data files and ``LOAD_AND_FLATTEN``'s objects too;
- ``Transformation`` ``LOAD_AND_FLATTEN`` (decision 0352): the objects an S3 Inventory lists
  (its ``Bucket`` and ``Key`` columns) or ``listObjectsV2`` lists (:func:`flattened_items`)
  are each read as ``InputType`` says, one after the other, and their items flattened into
  the Map's, each object read as the role;
- ``ItemsPointer`` (decision 0352): a ``JSON`` object's array of items at that pointer.

Each item comes with its ``Source`` (``$states.context.Map.Item.Source``, decision 0352):
``s3://<bucket>/<key>#<place>``: the file it was read from and its place there — ``line=<n>``
(a JSONL line, a CSV record's first line, counted from 1 with the header), ``row=<n>`` (a
Parquet row, from 1), ``index=<n>`` (a JSON array's element, from 0).

Nothing holds a whole data file: text files are decompressed and cut into lines as their
chunks arrive (one record at most ``record_bytes``), Parquet is read by ranges (the host's
``parquet_rows``), and reading stops once ``limit`` items are read. A CSV row with fewer
fields than headers gets ``""`` for the others, one with more loses the extra ones (AWS's
rules). Any failure is ``States.ItemReaderFailed``."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final, Protocol
from urllib.parse import unquote

from andromede.stepfunctions.map_checks import CSV_DELIMITERS
from andromede.stepfunctions.map_items import READER_FAILED, keyed
from andromede.stepfunctions.map_unzip import compression_of, decompressed
from andromede.stepfunctions.states_error import StatesError

__all__ = [
    "LOAD_AND_FLATTEN",
    "Named",
    "ObjectSource",
    "Read",
    "flattened_items",
    "is_streamed",
    "json_value",
    "source_of",
    "streamed_items",
]

LOAD_AND_FLATTEN: Final = "LOAD_AND_FLATTEN"


@dataclass(frozen=True)
class Named:
    """What an ``ItemReader``'s ``Arguments`` add to a read (decision 0358): the version of the
    object they name (``VersionId``), the account that must own the bucket
    (``ExpectedBucketOwner``)."""

    version_id: str | None = None
    expected_owner: str | None = None


class ObjectSource(Protocol):
    """S3 as the state machine's role, as the readers need it."""

    async def read_object(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> str: ...

    def object_chunks(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[bytes]:
        """The object's bytes a chunk at a time (authorised at the first)."""
        ...

    def parquet_rows(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        """A Parquet object's rows, a batch at a time, as JSON values."""
        ...


def is_streamed(config: Mapping[str, Any], key: str) -> bool:
    """Whether this module reads the ``ReaderConfig``'s items (else ``map_items``): the
    manifests, Parquet, and a GZIP or ZSTD object of the text types."""
    return (
        "ManifestType" in config
        or config.get("InputType") in ("MANIFEST", "PARQUET")
        or compression_of(key) is not None
    )


def source_of(bucket: str, key: str, place: str = "") -> str:
    """An item's ``Source``: its file's S3 URI, and its place there when it has one."""
    return f"s3://{bucket}/{key}" + (f"#{place}" if place else "")


class Read:
    """The items read so far, each with its ``Source`` and, a JSON object's entry, its key
    (``$$.Map.Item.Key``, decision 0365), up to ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[Any] = []
        self.sources: list[str] = []
        self.keys: list[str | None] = []

    def add(self, item: Any, source: str, key: str | None = None) -> bool:
        """Keep the item; whether the reading is done."""
        self.items.append(item)
        self.sources.append(source)
        self.keys.append(key)
        return self.full

    @property
    def keyed(self) -> list[str | None] | None:
        """The items' keys, ``None`` when none is an entry."""
        return self.keys if any(key is not None for key in self.keys) else None

    @property
    def full(self) -> bool:
        return len(self.items) >= self.limit


def _failed(cause: str) -> StatesError:
    return StatesError(READER_FAILED, cause)


async def streamed_items(
    source: ObjectSource, context: Mapping[str, Any], bucket: str, key: str,
    config: Mapping[str, Any], limit: int, record_bytes: int,
) -> Read:  # fmt: skip
    """At most ``limit`` items of the object ``config`` describes."""
    read = Read(limit)
    kind = config.get("InputType")
    if "ManifestType" not in config and kind != "MANIFEST":
        await _data_file(source, context, (bucket, key), config, None, read, record_bytes)
        return read
    manifest = await source.read_object(context, bucket, key)
    if config.get("ManifestType") == "ATHENA_DATA":
        for where in _athena_files(manifest):
            if read.full:
                break
            await _data_file(source, context, where, config, None, read, record_bytes)
        return read
    files_bucket, schema, keys = _inventory(manifest, bucket)
    if config.get("Transformation") == LOAD_AND_FLATTEN:
        for data_key in keys:
            # The inventory's rows name the objects; each is then read as InputType says.
            rows = Read(limit)
            inventory_config = {"InputType": "CSV", "CSVDelimiter": "COMMA"}
            await _data_file(source, context, (files_bucket, data_key), inventory_config,
                             schema, rows, record_bytes)  # fmt: skip
            listed = [(str(r.get("Bucket", "")), unquote(str(r.get("Key", ""))))
                      for r in rows.items]  # fmt: skip
            await _each_object(source, context, listed, config, read, record_bytes)
            if read.full:
                break
        return read
    csv_config = {**config, "InputType": "CSV"}
    for data_key in keys:
        if read.full:
            break
        await _data_file(source, context, (files_bucket, data_key), csv_config, schema, read,
                         record_bytes)  # fmt: skip
    return read


async def flattened_items(
    source: ObjectSource, context: Mapping[str, Any], bucket: str,
    listed: Sequence[Mapping[str, Any]], config: Mapping[str, Any], limit: int,
    record_bytes: int,
) -> Read:  # fmt: skip
    """``listObjectsV2``'s objects under ``LOAD_AND_FLATTEN``: each read, its items kept."""
    read = Read(limit)
    keys = [(bucket, str(o.get("Key", ""))) for o in listed]
    await _each_object(source, context, keys, config, read, record_bytes)
    return read


async def _each_object(
    source: ObjectSource, context: Mapping[str, Any], objects: Sequence[tuple[str, str]],
    config: Mapping[str, Any], read: Read, record_bytes: int,
) -> None:  # fmt: skip
    """Each object (a "folder" key ending in ``/`` skipped) read in turn until ``read`` is
    full: one file's reader open at a time."""
    for where in objects:
        if read.full:
            return
        if where[1].endswith("/"):
            continue
        await _data_file(source, context, where, config, None, read, record_bytes)


async def _data_file(
    source: ObjectSource, context: Mapping[str, Any], where: tuple[str, str],
    config: Mapping[str, Any], schema: list[str] | None, read: Read, record_bytes: int,
) -> None:  # fmt: skip
    """One file's items, as ``InputType`` says; ``schema``: an inventory's columns."""
    kind = config.get("InputType")
    if kind == "PARQUET":
        await _parquet(source, context, *where, read)
        return
    at = source_of(*where)
    data = decompressed(source.object_chunks(context, *where), compression_of(where[1]),
                        record_bytes, source_of(where[0][:64], where[1][:256]))  # fmt: skip
    async with aclosing(_lines(data, record_bytes)) as lines:
        if kind == "JSONL":
            await _json_lines(lines, at, read)
        elif kind == "JSON":
            await _json_array(lines, at, config.get("ItemsPointer"), read, record_bytes)
        else:
            given = _given(config) or (
                None if config.get("CSVHeaderLocation") == "FIRST_ROW" else schema)  # fmt: skip
            await _csv_rows(lines, at, given, _delimiter(config), read)


def _given(config: Mapping[str, Any]) -> list[str] | None:
    if config.get("CSVHeaderLocation") != "GIVEN":
        return None
    return [str(h) for h in config.get("CSVHeaders") or []]


def _inventory(text: str, bucket: str) -> tuple[str, list[str], list[str]]:
    """An S3 Inventory manifest's data files: their bucket, the columns, their keys."""
    try:
        manifest = json.loads(text)
    except ValueError:
        raise _failed("The manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise _failed("The manifest is not an S3 Inventory manifest: it has no 'files'")
    file_format = str(manifest.get("fileFormat", ""))
    if file_format.upper() != "CSV":
        raise _failed(f"The S3 Inventory's fileFormat is {file_format[:16]!r}: an ItemReader "
                      "reads CSV inventories only")  # fmt: skip
    schema = [name.strip() for name in str(manifest.get("fileSchema", "")).split(",")]
    if not all(schema):
        raise _failed("The manifest's fileSchema names no columns")
    destination = str(manifest.get("destinationBucket", ""))
    files_bucket = destination.removeprefix("arn:aws:s3:::") or bucket
    keys = [str(f.get("key", "")) for f in manifest["files"] if isinstance(f, dict)]
    return files_bucket, schema, keys


def _athena_files(text: str) -> list[tuple[str, str]]:
    """An Athena ``UNLOAD`` manifest's data files, a ``s3://bucket/key`` a line."""
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("s3://") or "/" not in line[5:]:
            raise _failed(f"The manifest's line {line[:64]!r} is not an s3:// location")
        data_bucket, data_key = line[5:].split("/", 1)
        found.append((data_bucket, data_key))
    return found


async def _lines(data: AsyncGenerator[bytes], record_bytes: int) -> AsyncGenerator[str]:
    """The text's lines as its (decompressed) data arrives, at most ``record_bytes`` of it at
    once; a line longer than ``record_bytes`` fails the read rather than growing in memory."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    try:
        async with aclosing(data):
            async for piece in data:
                pending += decoder.decode(piece)
                *complete, pending = pending.split("\n")
                for line in complete:
                    yield line.removesuffix("\r")
                if len(pending) > record_bytes:
                    raise _failed(f"A record of the object is larger than {record_bytes} bytes")
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _failed("A data file is not UTF-8 text") from None
    if pending:
        yield pending.removesuffix("\r")


def _delimiter(config: Mapping[str, Any]) -> str:
    return CSV_DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")), ",")


async def _csv_rows(
    lines: AsyncGenerator[str], at: str, headers: list[str] | None, delimiter: str, read: Read
) -> None:
    """Each record an object of the headers' names (``None``: the first record's)."""
    record = ""
    number = first = 0
    async for line in lines:
        number += 1
        first = first if record else number
        record = f"{record}\n{line}" if record else line
        if record.count('"') % 2:  # a quoted field goes on over the line's end
            continue
        fields, record = next(csv.reader([record], delimiter=delimiter)) if record else [], ""
        if not fields:
            continue
        if headers is None:
            headers = fields
            continue
        item = {h: (fields[i] if i < len(fields) else "") for i, h in enumerate(headers)}
        if read.add(item, f"{at}#line={first}"):
            return
    if record:
        raise _failed("The CSV data ends within a quoted field")


async def _json_lines(lines: AsyncGenerator[str], at: str, read: Read) -> None:
    number = 0
    async for line in lines:
        number += 1
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise _failed("A line of the object is not valid JSON") from None
        if read.add(item, f"{at}#line={number}"):
            return


async def _json_array(
    lines: AsyncGenerator[str], at: str, pointer: Any, read: Read, record_bytes: int
) -> None:
    """A JSON document (a gzip ``JSON`` object, or one of ``LOAD_AND_FLATTEN``'s): held whole,
    at most ``record_bytes``; its items the array itself or the one at ``pointer``."""
    text: list[str] = []
    held = 0
    async for line in lines:
        held += len(line) + 1
        if held > record_bytes:
            raise _failed(f"The JSON object is larger than {record_bytes} bytes")
        text.append(line)
    try:
        parsed = json.loads("\n".join(text))
    except ValueError:
        raise _failed("The object's content is not valid JSON") from None
    items, keys = keyed(parsed, pointer)
    for index, item in enumerate(items):
        if read.add(item, f"{at}#index={index}", None if keys is None else keys[index]):
            return


async def _parquet(
    source: ObjectSource, context: Mapping[str, Any], bucket: str, key: str, read: Read
) -> None:
    number = 0
    async with aclosing(source.parquet_rows(context, bucket, key)) as batches:
        async for rows in batches:
            for row in rows:
                number += 1
                if read.add(row, f"{source_of(bucket, key)}#row={number}"):
                    return


def json_value(value: Any) -> Any:
    """A Parquet value as JSON: dates and times in ISO 8601, decimals as numbers, bytes as
    text, lists and maps (pyarrow's pairs) kept as structures."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(p, tuple) and len(p) == 2 for p in value):
            return {str(k): json_value(v) for k, v in value}  # a Parquet MAP
        return [json_value(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value != value:  # NaN: JSON has none
        return None
    return value
