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
- a ``JSON``, ``JSONL`` or ``CSV`` object whose key ends in ``.gz`` (AWS's GZIP input):
  decompressed as it is read.

Nothing holds a whole data file: text files are decompressed and cut into lines as their
chunks arrive (one record at most ``record_bytes``), Parquet is read by ranges (the host's
``parquet_rows``), and reading stops once ``limit`` items are read. A CSV row with fewer
fields than headers gets ``""`` for the others, one with more loses the extra ones (AWS's
rules). Any failure is ``States.ItemReaderFailed``."""

from __future__ import annotations

import codecs
import csv
import json
import zlib
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

from andromede.stepfunctions.map_checks import CSV_DELIMITERS
from andromede.stepfunctions.map_items import READER_FAILED
from andromede.stepfunctions.states_error import StatesError

__all__ = ["ObjectSource", "is_streamed", "json_value", "streamed_items"]


class ObjectSource(Protocol):
    """S3 as the state machine's role, as the readers need it."""

    async def read_object(self, context: Mapping[str, Any], bucket: str, key: str) -> str: ...

    def object_chunks(
        self, context: Mapping[str, Any], bucket: str, key: str
    ) -> AsyncGenerator[bytes]:
        """The object's bytes a chunk at a time (authorised at the first)."""
        ...

    def parquet_rows(
        self, context: Mapping[str, Any], bucket: str, key: str
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        """A Parquet object's rows, a batch at a time, as JSON values."""
        ...


def is_streamed(config: Mapping[str, Any], key: str) -> bool:
    """Whether this module reads the ``ReaderConfig``'s items (else ``map_items``): the
    manifests, Parquet, and a gzip object of the text types."""
    return (
        "ManifestType" in config
        or config.get("InputType") in ("MANIFEST", "PARQUET")
        or key.endswith(".gz")
    )


def _failed(cause: str) -> StatesError:
    return StatesError(READER_FAILED, cause)


async def streamed_items(
    source: ObjectSource, context: Mapping[str, Any], bucket: str, key: str,
    config: Mapping[str, Any], limit: int, record_bytes: int,
) -> list[Any]:  # fmt: skip
    """At most ``limit`` items of the object ``config`` describes."""
    items: list[Any] = []
    kind = config.get("InputType")
    if "ManifestType" not in config and kind != "MANIFEST":
        await _data_file(source, context, (bucket, key), config, None, items, limit, record_bytes)
        return items
    manifest = await source.read_object(context, bucket, key)
    if config.get("ManifestType") == "ATHENA_DATA":
        files = _athena_files(manifest)
        headers = None
    else:
        files_bucket, schema, keys = _inventory(manifest, bucket)
        files = [(files_bucket, data_key) for data_key in keys]
        headers = schema
        config = {**config, "InputType": "CSV"}
    for where in files:
        if len(items) >= limit:
            break
        await _data_file(source, context, where, config, headers, items, limit, record_bytes)
    return items


async def _data_file(
    source: ObjectSource, context: Mapping[str, Any], where: tuple[str, str],
    config: Mapping[str, Any], schema: list[str] | None, items: list[Any], limit: int,
    record_bytes: int,
) -> None:  # fmt: skip
    """One file's items, as ``InputType`` says; ``schema``: an inventory's columns."""
    kind = config.get("InputType")
    if kind == "PARQUET":
        await _parquet(source, context, *where, items, limit)
        return
    chunks = source.object_chunks(context, *where)
    async with aclosing(_lines(chunks, where[1].endswith(".gz"), record_bytes)) as lines:
        if kind == "JSONL":
            await _json_lines(lines, items, limit)
        elif kind == "JSON":
            await _json_array(lines, items, limit, record_bytes)
        else:
            given = _given(config) or (
                None if config.get("CSVHeaderLocation") == "FIRST_ROW" else schema)  # fmt: skip
            await _csv_rows(lines, given, _delimiter(config), items, limit)


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


async def _lines(
    chunks: AsyncGenerator[bytes], gzipped: bool, record_bytes: int
) -> AsyncGenerator[str]:
    """The text's lines as its chunks arrive (gzip undone, at most ``record_bytes`` of it at
    once); a line longer than ``record_bytes`` fails the read rather than growing in memory."""
    unzip = zlib.decompressobj(wbits=31) if gzipped else None
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                for data in _unzipped(unzip, chunk, record_bytes):
                    pending += decoder.decode(data)
                    *complete, pending = pending.split("\n")
                    for line in complete:
                        yield line.removesuffix("\r")
                    if len(pending) > record_bytes:
                        raise _failed(f"A record of the object is larger than {record_bytes} "
                                      "bytes")  # fmt: skip
        if unzip is not None and not unzip.eof:
            raise _failed("A gzip data file ends before its end")
        pending += decoder.decode(b"", final=True)
    except zlib.error:
        raise _failed("A data file is not valid gzip") from None
    except UnicodeDecodeError:
        raise _failed("A data file is not UTF-8 text") from None
    if pending:
        yield pending.removesuffix("\r")


def _unzipped(unzip: Any, chunk: bytes, most: int) -> Iterator[bytes]:
    """A chunk's data, decompressed ``most`` bytes at a time (a small chunk may hold a lot)."""
    if unzip is None:
        yield chunk
        return
    data = unzip.decompress(chunk, most)
    yield data
    while unzip.unconsumed_tail:
        yield unzip.decompress(unzip.unconsumed_tail, most)


def _delimiter(config: Mapping[str, Any]) -> str:
    return CSV_DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")), ",")


async def _csv_rows(
    lines: AsyncGenerator[str], headers: list[str] | None, delimiter: str, items: list[Any],
    limit: int,
) -> None:  # fmt: skip
    """Each record an object of the headers' names (``None``: the first record's)."""
    record = ""
    async for line in lines:
        record = f"{record}\n{line}" if record else line
        if record.count('"') % 2:  # a quoted field goes on over the line's end
            continue
        fields, record = next(csv.reader([record], delimiter=delimiter)) if record else [], ""
        if not fields:
            continue
        if headers is None:
            headers = fields
            continue
        items.append({h: (fields[i] if i < len(fields) else "") for i, h in enumerate(headers)})
        if len(items) >= limit:
            return
    if record:
        raise _failed("The CSV data ends within a quoted field")


async def _json_lines(lines: AsyncGenerator[str], items: list[Any], limit: int) -> None:
    async for line in lines:
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except ValueError:
            raise _failed("A line of the object is not valid JSON") from None
        if len(items) >= limit:
            return


async def _json_array(
    lines: AsyncGenerator[str], items: list[Any], limit: int, record_bytes: int
) -> None:
    """A JSON array (a gzip ``JSON`` object): held whole, at most ``record_bytes``."""
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
    if not isinstance(parsed, list):
        raise _failed("The JSON object must be an array of items")
    items.extend(parsed[: limit - len(items)])


async def _parquet(
    source: ObjectSource, context: Mapping[str, Any], bucket: str, key: str,
    items: list[Any], limit: int,
) -> None:  # fmt: skip
    async with aclosing(source.parquet_rows(context, bucket, key)) as batches:
        async for rows in batches:
            items.extend(rows[: limit - len(items)])
            if len(items) >= limit:
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
