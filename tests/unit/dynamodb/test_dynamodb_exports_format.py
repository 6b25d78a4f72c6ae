"""Decision 0261's file formats: DynamoDB JSON lines written and read back, gzip streams
decompressed chunk by chunk (several members too, a truncated one refused), lines split
across chunks, a line longer than any item refused, CSV rows as AWS imports them, the
manifest's checksum in base64."""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import AsyncIterator

import pytest

from andromede.dynamodb.exports_format import (
    LineError,
    csv_item,
    csv_row,
    decompressed,
    item_line,
    lines,
    manifest_line,
    md5_base64,
    parse_json_line,
)


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(data: bytes, compression: str, size: int = 7) -> list[bytes]:
    return [line async for line in lines(decompressed(_chunks(data, size), compression))]


async def test_items_round_trip_through_gzip_in_small_chunks() -> None:
    items = [{"pk": {"S": f"k{n}"}, "n": {"N": str(n)}} for n in range(20)]
    body = gzip.compress(b"".join(item_line(i) for i in items[:10])) + gzip.compress(
        b"".join(item_line(i) for i in items[10:])
    )
    read = await _read(body, "GZIP")
    assert [parse_json_line(line) for line in read] == items
    assert await _read(b"".join(item_line(i) for i in items), "NONE", 3) == read


async def test_a_truncated_gzip_and_an_endless_line_are_refused() -> None:
    with pytest.raises(LineError):
        await _read(gzip.compress(item_line({"pk": {"S": "a"}}))[:-12], "GZIP")
    with pytest.raises(LineError):
        await _read(b"x" * (1024 * 1024 + 10), "NONE", 65536)


def test_lines_that_are_no_item() -> None:
    for bad in (b"{", b"[]", b'{"Item": {}, "More": 1}', b'{"Item": {"a": {"Q": "1"}}}'):
        with pytest.raises(LineError):
            parse_json_line(bad)


def test_csv_rows_and_the_manifest_checksum() -> None:
    names = csv_row(b"pk,colour", ",")
    assert csv_item(names, csv_row(b'"k,1",', ",")) == {"pk": {"S": "k,1"}}
    with pytest.raises(LineError):
        csv_item(names, ["a"])
    md5 = hashlib.md5(b"x")  # noqa: S324 (S3's ETag)
    digest = md5.hexdigest()
    assert md5_base64(f'"{digest}"') == base64.b64encode(md5.digest()).decode()
    assert b'"itemCount": 3' in manifest_line(3, digest, "p/data/a.json.gz")
