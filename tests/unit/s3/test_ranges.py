"""Range and x-amz-copy-source-range parsing, case by case as AWS S3 answers them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andromede.s3.ranges import (
    COPY_SOURCE_RANGE_FORMAT_MESSAGE,
    ByteRange,
    InvalidCopySourceRange,
    RangeNotSatisfiable,
    parse_copy_source_range,
    parse_range,
)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=4-7", 11, ByteRange(4, 7)),
        ("bytes=0-0", 1, ByteRange(0, 0)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=0-", 100, ByteRange(0, 99)),
        ("bytes=-7", 11, ByteRange(4, 10)),  # ceph s3-tests: "bytes 4-10/11"
        ("bytes=-11", 11, ByteRange(0, 10)),
        ("bytes=-500", 11, ByteRange(0, 10)),  # suffix longer than the object: all of it
        ("bytes=90-1000", 100, ByteRange(90, 99)),  # end clamped
        ("bytes=99-99", 100, ByteRange(99, 99)),
        ("Bytes=1-2", 10, ByteRange(1, 2)),  # range unit is case-insensitive (RFC 9110)
        (" bytes=1-2 ", 10, ByteRange(1, 2)),
    ],
)
def test_satisfiable_ranges(header: str, size: int, expected: ByteRange) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=40-50", 11),  # ceph s3-tests test_ranged_request_invalid_range
        ("bytes=11-", 11),
        ("bytes=11-20", 11),
        ("bytes=-0", 11),
        ("bytes=40-50", 0),  # ceph s3-tests test_ranged_request_empty_object
        ("bytes=0-", 0),  # minio/minio#6557: AWS answers 416 here
        ("bytes=0-0", 0),
        ("bytes=-0", 0),
    ],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)
    assert caught.value.size == size


@pytest.mark.parametrize(
    ("header", "size"),
    [
        (None, 10),
        ("", 10),
        ("bytes", 10),
        ("bytes=", 10),
        ("bytes=-", 10),
        ("bytes=5-2", 10),  # last before first: ignored, not 416
        ("bytes=abc-def", 10),
        ("bytes=1-x", 10),
        ("bytes=x-", 10),
        ("bytes=1--2", 10),
        ("bytes=+1-2", 10),
        ("bytes=1 -2", 10),
        ("bytes=²-3", 10),  # a Unicode digit is not a DIGIT
        ("items=0-1", 10),
        ("0-1", 10),
        ("bytes=0-1,3-4", 10),  # several ranges: AWS returns the whole object
        ("bytes=0-1, 3-4", 10),
        ("bytes=0-1,", 10),
        ("bytes=-5", 0),  # suffix on an empty object: 200 with the empty body
        ("bytes=50-40", 0),
    ],
)
def test_ignored_headers_mean_the_whole_object(header: str | None, size: int) -> None:
    assert parse_range(header, size) is None


def test_length_and_content_range() -> None:
    byte_range = ByteRange(4, 10)
    assert byte_range.length == 7
    assert byte_range.content_range(11) == "bytes 4-10/11"


@given(
    size=st.integers(min_value=0, max_value=1000),
    first=st.integers(min_value=0, max_value=1200),
    last=st.integers(min_value=0, max_value=1200) | st.none(),
)
def test_a_parsed_range_always_lies_within_the_object(
    size: int, first: int, last: int | None
) -> None:
    header = f"bytes={first}-" + ("" if last is None else str(last))
    try:
        byte_range = parse_range(header, size)
    except RangeNotSatisfiable:
        assert first >= size
        return
    if byte_range is None:
        assert last is not None and last < first
        return
    assert 0 <= byte_range.start <= byte_range.end < size
    assert byte_range.start == first
    assert byte_range.length == min(size - 1 if last is None else last, size - 1) - first + 1


@given(size=st.integers(min_value=1, max_value=1000), suffix=st.integers(1, 1200))
def test_suffix_ranges_end_at_the_last_byte(size: int, suffix: int) -> None:
    byte_range = parse_range(f"bytes=-{suffix}", size)
    assert byte_range is not None
    assert byte_range.end == size - 1
    assert byte_range.length == min(suffix, size)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=0-99", 100, ByteRange(0, 99)),
        ("bytes=5-5", 6, ByteRange(5, 5)),
        (" bytes=1-2", 10, ByteRange(1, 2)),
    ],
)
def test_copy_source_ranges(header: str, size: int, expected: ByteRange) -> None:
    assert parse_copy_source_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "0-1024",  # gaul/s3proxy#304: no "bytes=" prefix
        "bytes=0-",
        "bytes=-5",
        "bytes=0",
        "bytes=hello-world",
        "bytes=0-2,3-5",
        "bytes=5-2",
        "Bytes=0-1",
        "bytes=²-3",
    ],
)
def test_malformed_copy_source_ranges(header: str) -> None:
    with pytest.raises(InvalidCopySourceRange) as caught:
        parse_copy_source_range(header, 100)
    assert caught.value.message == COPY_SOURCE_RANGE_FORMAT_MESSAGE


@pytest.mark.parametrize(("header", "size"), [("bytes=0-100", 100), ("bytes=200-300", 100)])
def test_copy_source_range_past_the_source(header: str, size: int) -> None:
    with pytest.raises(InvalidCopySourceRange) as caught:
        parse_copy_source_range(header, size)
    assert caught.value.message == "Range specified is not valid for source object of size: 100"
