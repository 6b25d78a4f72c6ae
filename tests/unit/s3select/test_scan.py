"""A Select query run over chunks of an object: the events, their order and sizes, the
scan range, compression, LIMIT stopping the read, keep-alives, errors after output began."""

from __future__ import annotations

import bz2
import gzip
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from botocore.eventstream import EventStreamBuffer

from andromede.s3select.errors import SelectError
from andromede.s3select.records import CsvInput, CsvOutput, JsonOutput
from andromede.s3select.scan import Counters, SelectRequest, run
from andromede.s3select.sql import parse

PEOPLE = b"name,age\nAlice,30\nBob,25\nEve,41\n"


def request(expression: str, **more: object) -> SelectRequest:
    made = SelectRequest(
        query=parse(expression),
        csv_input=CsvInput(header_info="USE"),
        json_type="",
        compression="NONE",
        output=CsvOutput(),
        progress=False,
        scan_start=None,
        scan_end=None,
        max_record_size=1 << 20,
    )
    return replace(made, **more)  # type: ignore[arg-type]


class Object:
    """An object read in chunks of ``chunk`` bytes, remembering what was read."""

    def __init__(self, data: bytes, chunk: int = 5) -> None:
        self.data = data
        self.chunk = chunk
        self.read_up_to = 0
        self.ranges: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> AsyncIterator[bytes]:
        self.ranges.append((start, end))
        return self._chunks(start, end)

    async def _chunks(self, start: int, end: int) -> AsyncIterator[bytes]:
        for at in range(start, end + 1, self.chunk):
            piece = self.data[at : min(at + self.chunk, end + 1)]
            self.read_up_to = at + len(piece)
            yield piece


async def messages(
    made: SelectRequest, source: Object, clock: object = None
) -> tuple[list[tuple[str, bytes]], Counters]:
    counters = Counters()
    raw = b""
    kwargs = {} if clock is None else {"clock": clock}
    async for message in run(made, len(source.data), source, counters, **kwargs):  # type: ignore[arg-type]
        raw += message
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    found = []
    for message in buffer:
        headers = message.headers
        found.append(
            (str(headers.get(":event-type") or headers[":error-code"]), bytes(message.payload))
        )
    return found, counters


def output(found: list[tuple[str, bytes]]) -> bytes:
    return b"".join(payload for kind, payload in found if kind == "Records")


async def test_records_then_stats_then_end() -> None:
    found, counters = await messages(request("SELECT s.name FROM S3Object s"), Object(PEOPLE))
    assert [kind for kind, _ in found] == ["Records", "Stats", "End"]
    assert output(found) == b"Alice\nBob\nEve\n"
    assert (counters.scanned, counters.processed, counters.returned) == (
        len(PEOPLE),
        len(PEOPLE),
        14,
    )


async def test_progress_when_asked() -> None:
    found, _ = await messages(request("SELECT * FROM S3Object", progress=True), Object(PEOPLE))
    assert [kind for kind, _ in found] == ["Records", "Progress", "Stats", "End"]


async def test_records_events_are_batched_at_most_64_kib() -> None:
    data = b"".join(b"%06d\n" % n for n in range(40000))  # 280,000 bytes
    found, _ = await messages(
        request("SELECT * FROM S3Object", csv_input=CsvInput()), Object(data, 65536)
    )
    sizes = [len(payload) for kind, payload in found if kind == "Records"]
    assert len(sizes) == 5 and max(sizes) == 65536
    assert output(found) == data


async def test_limit_stops_the_read() -> None:
    data = PEOPLE + b"".join(b"x%d,1\n" % n for n in range(10000))
    source = Object(data, 16)
    found, _ = await messages(request("SELECT s.name FROM S3Object s LIMIT 2"), source)
    assert output(found) == b"Alice\nBob\n"
    assert source.read_up_to < 64
    none, _ = await messages(request("SELECT * FROM S3Object LIMIT 0"), Object(PEOPLE))
    assert [kind for kind, _ in none] == ["Stats", "End"]


async def test_aggregates_make_one_record() -> None:
    found, _ = await messages(
        request("SELECT COUNT(*), AVG(s.age), MIN(s.name) FROM S3Object s WHERE s.age > 26"),
        Object(PEOPLE),
    )
    assert output(found) == b"2,35.5,Alice\n"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 9, b"Alice\n"),  # Alice's record starts at 9: in [0, 9]
        (9, 9, b"Alice\n"),
        (10, 24, b"Bob\n"),  # Bob's starts at 18
        (18, 100, b"Bob\nEve\n"),
        (None, 7, b"Eve\n"),  # the last 7 bytes hold Eve's start
        (25, None, b"Eve\n"),
        (26, None, b""),
    ],
)
async def test_a_scan_range_takes_the_records_starting_in_it(
    start: int | None, end: int | None, expected: bytes
) -> None:
    source = Object(PEOPLE, 3)
    found, _ = await messages(
        request("SELECT s.name FROM S3Object s", scan_start=start, scan_end=end), source
    )
    assert output(found) == expected


async def test_json_lines_and_documents_with_a_from_path() -> None:
    lines = b'{"a":{"b":1}}\n\n{"a":{"b":2}}\n{"x":1}\n'
    found, _ = await messages(
        request(
            "SELECT s.b FROM S3Object[*].a s",
            csv_input=None,
            json_type="LINES",
            output=JsonOutput(),
        ),
        Object(lines, 4),
    )
    assert output(found) == b'{"b":1}\n{"b":2}\n{}\n'  # AWS: MISSING is an empty record
    document = b'{"items": [{"n": 1}, {"n": 2}]}\n{"items": [{"n": 3}]}'
    found, _ = await messages(
        request(
            "SELECT i.n FROM S3Object[*].items[*] i WHERE i.n > 1",
            csv_input=None,
            json_type="DOCUMENT",
        ),
        Object(document, 7),
    )
    assert output(found) == b"2\n3\n"
    found, _ = await messages(
        request("SELECT * FROM S3Object s", csv_input=None, json_type="LINES"),
        Object(b'{"a":1,"b":{"c":2}}\n'),
    )
    assert output(found) == b'1,"{""c"":2}"\n'


@pytest.mark.parametrize("chunk", [1, 10, 100000])
async def test_gzip_and_bzip2_members_inflate_in_pieces(chunk: int) -> None:
    for compression, packed in (
        ("GZIP", gzip.compress(PEOPLE) + gzip.compress(b"Zoe,2\n")),
        ("BZIP2", bz2.compress(PEOPLE) + bz2.compress(b"Zoe,2\n")),
    ):
        found, counters = await messages(
            request("SELECT s.name FROM S3Object s", compression=compression),
            Object(packed, chunk),
        )
        assert output(found) == b"Alice\nBob\nEve\nZoe\n"
        assert counters.scanned == len(packed)
        assert counters.processed == len(PEOPLE) + 6


async def test_a_decompression_bomb_is_read_in_bounded_pieces() -> None:
    bomb = gzip.compress(b"0\n" * 1_000_000)  # 2 MB from ~2 KB
    source = Object(bomb, 1 << 20)
    found, counters = await messages(
        request("SELECT COUNT(*) FROM S3Object", csv_input=CsvInput(), compression="GZIP"),
        source,
    )
    assert output(found) == b"1000000\n"
    assert counters.processed == 2_000_000


async def test_a_keep_alive_goes_when_nothing_was_sent_for_a_while() -> None:
    ticks = iter(range(0, 10_000, 3))

    def clock() -> float:
        return float(next(ticks))

    data = PEOPLE * 4
    found, _ = await messages(
        request("SELECT * FROM S3Object s WHERE s.name = 'nobody'"), Object(data, 8), clock
    )
    kinds = [kind for kind, _ in found]
    assert "Cont" in kinds and kinds[-2:] == ["Stats", "End"]


@pytest.mark.parametrize("chunk", [4096, 65536])  # evaluated in the loop, in a worker thread
async def test_an_error_before_output_is_raised_after_it_an_error_event(chunk: int) -> None:
    with pytest.raises(SelectError) as raised:
        await messages(request("SELECT CAST(s.name AS INT) FROM S3Object s"), Object(PEOPLE))
    assert raised.value.code == "CastFailed"
    rows = b"".join(b"abcdefgh,%d\n" % n for n in range(20000))  # 200 KB of output
    data = b"name,age\n" + rows + b"b,x\n"
    found, _ = await messages(
        request("SELECT s.name FROM S3Object s WHERE CAST(s.age AS INT) >= 0"),
        Object(data, chunk),
    )
    assert found[0][0] == "Records" and found[-1][0] == "CastFailed"
    assert output(found) == b"".join(  # every record before the error
        b"abcdefgh\n" for _ in range(20000)
    )
    assert "End" not in [kind for kind, _ in found]


async def test_bad_input_has_selects_error_codes() -> None:
    cases = [
        (b"a,b\n\xff\n", {}, "InvalidTextEncoding"),
        (b'a,b\n"x\n', {}, "CSVEscapingRecordDelimiter"),
        (b"not gzip at all", {"compression": "GZIP"}, "InvalidCompressionFormat"),
        (b"{bad\n", {"csv_input": None, "json_type": "LINES"}, "JSONParsingError"),
    ]
    for data, more, code in cases:
        with pytest.raises(SelectError) as raised:
            await messages(request("SELECT * FROM S3Object", **more), Object(data))
        assert raised.value.code == code


def parquet_file(rows: int, row_group: int = 1000) -> bytes:
    import io
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": list(range(rows)),
            "name": [f"n{i}" for i in range(rows)],
            "price": [i / 4 for i in range(rows)],
            "at": [datetime(2024, 1, 1 + i % 28) for i in range(rows)],
            "tags": [["a", "b"][: i % 3] for i in range(rows)],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group)
    return sink.getvalue()


async def test_parquet_rows_are_read_by_ranges() -> None:
    data = parquet_file(5000)
    source = Object(data, 4096)
    found, counters = await messages(
        request(
            "SELECT s.name, s.price FROM S3Object s WHERE s.id BETWEEN 2 AND 3 "
            "OR s.at >= TO_TIMESTAMP('2024-01-28T') AND s.id < 30",
            csv_input=None,
            parquet=True,
        ),
        source,
    )
    assert output(found) == b"n2,0.5\nn3,0.75\nn27,6.75\n"
    assert counters.scanned > 0 and all(end >= start for start, end in source.ranges)
    found, _ = await messages(
        request(
            "SELECT COUNT(*), SUM(s.id), MAX(s.tags[1]) FROM S3Object s",
            csv_input=None,
            parquet=True,
            output=JsonOutput(),
        ),
        Object(data, 4096),
    )
    assert output(found) == b'{"_1":5000,"_2":12497500,"_3":"b"}\n'


async def test_a_limit_stops_reading_the_row_groups() -> None:
    data = parquet_file(20000, row_group=1000)
    source = Object(data, 1 << 20)
    found, counters = await messages(
        request("SELECT s.id FROM S3Object s LIMIT 3", csv_input=None, parquet=True), source
    )
    assert output(found) == b"0\n1\n2\n"
    assert counters.scanned < len(data) // 4


async def test_a_broken_or_oversized_parquet_file_is_refused() -> None:
    with pytest.raises(SelectError) as raised:
        await messages(
            request("SELECT * FROM S3Object", csv_input=None, parquet=True),
            Object(b"PAR1 not really parquet PAR1"),
        )
    assert raised.value.code == "ParquetParsingError"
    with pytest.raises(SelectError) as raised:
        await messages(
            request("SELECT * FROM S3Object", csv_input=None, parquet=True, parquet_max_read=1024),
            Object(parquet_file(5000, row_group=5000)),
        )
    assert raised.value.code == "OverMaxRecordSize"
