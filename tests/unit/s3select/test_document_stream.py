"""A JSON DOCUMENT that is one big top-level array, read element by element under
``FROM S3Object[*]``: each element bounded by ``max_record_size``, never the whole array."""

from __future__ import annotations

import json

import pytest

from andromede.s3select.errors import SelectError
from andromede.s3select.records import DocumentReader, JsonOutput
from unit.s3select.test_scan import Object, messages, output, request


def read_all(data: bytes, size: int, limit: int = 1000) -> list[tuple[object, bool]]:
    reader = DocumentReader(limit, spread=True)
    found: list[tuple[object, bool]] = []
    for at in range(0, len(data), size):
        found.extend(reader.feed(data[at : at + size]))
    found.extend(reader.feed(b"", final=True))
    return found


@pytest.mark.parametrize("size", [1, 2, 7, 1000])
def test_elements_one_by_one_then_other_values(size: int) -> None:
    data = b' [1, 23 ,{"a":[4,5]}, "x]", [], null,true] {"b":1} [] [6]'
    assert read_all(data, size) == [
        (1, True),
        (23, True),
        ({"a": [4, 5]}, True),
        ("x]", True),
        ([], True),
        (None, True),
        (True, True),
        ({"b": 1}, False),
        ([], False),  # an empty array is one value (the wildcard's MISSING row)
        (6, True),
    ]


@pytest.mark.parametrize("data", [b"[1 2]", b"[1,,2]", b"[1,2", b"[,1]", b"[1,]"])
def test_a_broken_array_is_refused(data: bytes) -> None:
    with pytest.raises(SelectError) as raised:
        read_all(data, 1)
    assert raised.value.code == "JSONParsingError"


def test_an_element_over_the_record_size_is_refused() -> None:
    with pytest.raises(SelectError) as raised:
        read_all(b'[1, "' + b"x" * 2000 + b'"]', 100)
    assert raised.value.code == "OverMaxRecordSize"


def test_memory_stays_bounded_over_a_big_array() -> None:
    elements = b",".join(b'{"n":%d,"pad":"%s"}' % (n, b"p" * 40) for n in range(40000))
    data = b"[" + elements + b"]"  # 2.4 MB, one top-level value
    reader = DocumentReader(4096, spread=True)
    count, most_held = 0, 0
    for at in range(0, len(data), 8192):
        count += sum(1 for _ in reader.feed(data[at : at + 8192]))
        most_held = max(most_held, reader.held)
    count += sum(1 for _ in reader.feed(b"", final=True))
    assert count == 40000
    assert most_held < 100_000  # the 64 KiB parse step and a chunk, not the 2.4 MB array


async def test_a_query_streams_the_array_over_the_record_size() -> None:
    rows = [{"id": n, "tags": ["a"] * (n % 3)} for n in range(20000)]
    data = json.dumps(rows).encode()  # about 600 KB, over the 64 KiB records allowed
    found, _ = await messages(
        request(
            "SELECT s.id FROM S3Object[*] s WHERE s.tags[1] IS NOT MISSING LIMIT 2",
            csv_input=None,
            json_type="DOCUMENT",
            output=JsonOutput(),
            max_record_size=64 * 1024,
        ),
        Object(data, 4096),
    )
    assert output(found) == b'{"id":2}\n{"id":5}\n'
    found, _ = await messages(
        request(
            "SELECT COUNT(*) FROM S3Object[*] s WHERE s.id >= 19990",
            csv_input=None,
            json_type="DOCUMENT",
            max_record_size=64 * 1024,
        ),
        Object(data, 65536),
    )
    assert output(found) == b"10\n"
    with pytest.raises(SelectError) as raised:  # no wildcard: the array is one record
        await messages(
            request(
                "SELECT * FROM S3Object s",
                csv_input=None,
                json_type="DOCUMENT",
                max_record_size=64 * 1024,
            ),
            Object(data, 65536),
        )
    assert raised.value.code == "OverMaxRecordSize"
