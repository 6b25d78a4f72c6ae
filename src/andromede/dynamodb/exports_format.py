"""The files of DynamoDB's exports and imports, as AWS lays them out ("DynamoDB data export to
Amazon S3: output format", "Import from Amazon S3: input formats"): the DynamoDB JSON lines
``{"Item": {...}}`` gzip'd into ``data/<id>.json.gz``, the ``manifest-files.json`` lines and
the ``manifest-summary.json``; read back, a DynamoDB JSON line (``{"Item": ...}``) or a CSV
row (every value a string, as AWS imports CSV), decompressed chunk by chunk. Pure: no I/O.
"""

from __future__ import annotations

import base64
import csv
import json
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any, Final

from andromede.dynamodb.values import Item, check_item

__all__ = [
    "LineError",
    "csv_item",
    "csv_row",
    "decompressed",
    "item_line",
    "lines",
    "manifest_line",
    "md5_base64",
    "parse_json_line",
]

_GZIP: Final = 31  # zlib's window bits for a gzip wrapper
_MAX_LINE: Final = 1024 * 1024  # an item is 400 KB at most; a longer line is refused


class LineError(ValueError):
    """A line that is no item of the format (counted in the import's ErrorCount)."""


def item_line(item: Item) -> bytes:
    return json.dumps({"Item": item}, separators=(",", ":")).encode() + b"\n"


def md5_base64(etag: str) -> str:
    return base64.b64encode(bytes.fromhex(etag.strip('"'))).decode()


def manifest_line(item_count: int, etag: str, key: str) -> bytes:
    entry = {
        "itemCount": item_count,
        "md5Checksum": md5_base64(etag),
        "etag": etag.strip('"'),
        "dataFileS3Key": key,
    }
    return json.dumps(entry).encode() + b"\n"


async def decompressed(chunks: AsyncIterable[bytes], compression: str) -> AsyncIterator[bytes]:
    """``chunks`` as they were before ``compression`` (GZIP or NONE), piece by piece."""
    if compression == "NONE":
        async for chunk in chunks:
            yield chunk
        return
    inflater = zlib.decompressobj(_GZIP)
    async for chunk in chunks:
        while chunk:
            yield inflater.decompress(chunk, 1024 * 1024)
            chunk = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data:  # concatenated gzip members
                chunk = inflater.unused_data
                inflater = zlib.decompressobj(_GZIP)
    if not inflater.eof:
        raise LineError("The gzip stream ends early")


async def lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The lines of ``chunks`` (without their ends), none longer than an item may be."""
    held = b""
    async for chunk in chunks:
        held += chunk
        *whole, held = held.split(b"\n")
        for line in whole:
            yield line.rstrip(b"\r")
        if len(held) > _MAX_LINE:
            raise LineError("A line is longer than any item may be")
    if held.strip():
        yield held.rstrip(b"\r")


def parse_json_line(line: bytes) -> Item:
    try:
        parsed: Any = json.loads(line)
    except ValueError:
        raise LineError("Unexpected token in the line") from None
    if not isinstance(parsed, dict) or set(parsed) != {"Item"}:
        raise LineError('Each line must be an object of one member, "Item"')
    try:
        return check_item(parsed["Item"])
    except Exception as exc:  # a value DynamoDB refuses: the line's error, counted
        raise LineError(str(exc)[:256]) from None


def csv_row(line: bytes, delimiter: str) -> list[str]:
    """One CSV line's values (a value quoted across lines is not read: each line a row)."""
    return next(csv.reader([line.decode("utf-8", "replace")], delimiter=delimiter), [])


def csv_item(names: Sequence[str], values: Sequence[str]) -> Item:
    """A row as AWS imports CSV: each non-empty value a string attribute; a row of another
    width than the header is an error."""
    if len(values) != len(names):
        raise LineError("The row's number of values is not the header's")
    return {n: {"S": v} for n, v in zip(names, values, strict=True) if v != ""}
