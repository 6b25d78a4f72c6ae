"""Running a Select query over an object's bytes, as they are read: decompressed piece by
piece, cut into records, each filtered and projected, the output batched into ``Records``
events of at most 64 KiB, then ``Progress`` (when asked), ``Stats`` and ``End``. A ``Cont``
keep-alive goes when a scan runs ``KEEPALIVE_SECONDS`` without anything to send.

Memory is bounded whatever the object's size: one chunk, one unfinished record, one batch of
output, and the aggregates' running values. ``LIMIT`` stops the read.
"""

from __future__ import annotations

import asyncio
import bz2
import json
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.s3select import eventstream
from andromede.s3select.errors import SelectError
from andromede.s3select.evaluate import Accumulators, compile_expr
from andromede.s3select.parquet import parquet_rows
from andromede.s3select.records import (
    CsvInput,
    CsvOutput,
    CsvRecords,
    DocumentReader,
    JsonOutput,
    LineSplitter,
    decode_record,
)
from andromede.s3select.syntax import Field, Path, Query, Step, Wildcard
from andromede.s3select.values import MISSING, CsvRow, follow

__all__ = ["KEEPALIVE_SECONDS", "Counters", "SelectRequest", "run"]

KEEPALIVE_SECONDS: Final = 5.0
THREAD_FROM: Final = 64 * 1024  # a chunk at least this large is evaluated in a worker thread
_INFLATE_STEP: Final = 256 * 1024  # decompressed bytes made at a time (no bomb in memory)


class Reader(Protocol):
    def __call__(self, start: int, end: int) -> AsyncIterator[bytes]:
        """The object's plaintext bytes ``start``..``end`` inclusive."""
        ...


@dataclass(frozen=True, slots=True)
class SelectRequest:
    """A SelectObjectContent request, parsed and checked."""

    query: Query
    csv_input: CsvInput | None  # None: JSON input
    json_type: str  # DOCUMENT or LINES (JSON input)
    compression: str  # NONE, GZIP, BZIP2
    output: CsvOutput | JsonOutput
    progress: bool
    scan_start: int | None
    scan_end: int | None
    max_record_size: int
    parquet: bool = False  # Parquet input (``csv_input`` None, ``json_type`` unused)
    parquet_max_read: int = 128 * 1024 * 1024


@dataclass(slots=True)
class Counters:
    scanned: int = 0  # bytes read from the object
    processed: int = 0  # bytes after decompression
    returned: int = 0  # bytes of the Records events' payloads


def scan_bounds(request: SelectRequest, size: int) -> tuple[int, int]:
    """The first and last byte a scan range asks for (AWS: ``End`` alone is the last N)."""
    start, end = request.scan_start, request.scan_end
    if start is None and end is None:
        return 0, size - 1
    if start is None:
        return max(size - (end or 0), 0), size - 1
    return start, size - 1 if end is None else min(end, size - 1)


async def run(
    request: SelectRequest,
    size: int,
    read: Reader,
    counters: Counters,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[bytes]:
    """The event stream's messages. A SelectError raised before the first message is the
    caller's to answer (HTTP 400); after it, it becomes an error message and the stream ends."""
    started = False
    try:
        async for message in _messages(request, size, read, counters, clock):
            started = True
            yield message
    except SelectError as exc:
        if not started:
            raise
        yield eventstream.error(exc.code, exc.message)


async def _messages(
    request: SelectRequest,
    size: int,
    read: Reader,
    counters: Counters,
    clock: Callable[[], float],
) -> AsyncIterator[bytes]:
    if request.parquet:
        async for message in _parquet_messages(request, size, read, counters, clock):
            yield message
        return
    first, last = scan_bounds(request, size)
    source = _Source(request, first, last)
    if first > 0 and request.csv_input is not None and request.csv_input.header_info != "NONE":
        await _read_header(source, request, size, read)
    output = _Output(request)
    last_sent, emitted = clock(), False
    if first < size:
        begin = max(first - source.lookbehind, 0)
        stream = read(begin, size - 1)
        try:
            async for chunk in stream:
                # A large chunk's rows are evaluated in a worker thread: the event loop goes
                # on serving the gateway's other requests meanwhile.
                made, failed = (
                    await asyncio.to_thread(_step, source, output, counters, chunk)
                    if len(chunk) >= THREAD_FROM
                    else _step(source, output, counters, chunk)
                )
                if failed is not None and not emitted:
                    raise failed  # nothing went yet: an HTTP 400, as AWS answers
                for message in made:
                    last_sent, emitted = clock(), True
                    yield message
                if failed is not None:
                    raise failed
                if output.done or source.past_range:
                    break
                if clock() - last_sent >= KEEPALIVE_SECONDS:
                    last_sent, emitted = clock(), True
                    yield (
                        eventstream.progress(
                            counters.scanned, counters.processed, counters.returned
                        )
                        if request.progress
                        else eventstream.cont()
                    )
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                await closing()
        if not output.done and not source.past_range:
            for row in source.finish():
                output.take(row)
                if output.done:
                    break
    output.conclude()
    for message in output.flush(counters, whole=True):
        yield message
    if request.progress:
        yield eventstream.progress(counters.scanned, counters.processed, counters.returned)
    yield eventstream.stats(counters.scanned, counters.processed, counters.returned)
    yield eventstream.end()


def _take_rows(
    output: _Output, counters: Counters, rows: list[dict[str, object]], steps: tuple[Step, ...]
) -> tuple[list[bytes], SelectError | None]:
    """A batch of Parquet rows through the query, as :func:`_step` takes a chunk."""
    made: list[bytes] = []
    try:
        for value in rows:
            for row in _expand(value, steps):
                output.take(row)
                if output.full:
                    made.extend(output.flush(counters, whole=False))
                if output.done:
                    return made, None
    except SelectError as exc:
        made.extend(output.flush(counters, whole=True))
        return made, exc
    return made, None


def _step(
    source: _Source, output: _Output, counters: Counters, chunk: bytes
) -> tuple[list[bytes], SelectError | None]:
    """One chunk of the object through the query: the messages it made, and the error that
    stopped it (the messages before it still go, as AWS sends the records before an error)."""
    made: list[bytes] = []
    try:
        counters.scanned += len(chunk)
        for piece in source.inflate(chunk):
            counters.processed += len(piece)
            for row in source.rows(piece):
                output.take(row)
                if output.full:
                    made.extend(output.flush(counters, whole=False))
                if output.done:
                    break
            if output.done or source.past_range:
                break
        made.extend(output.flush(counters, whole=False))
    except SelectError as exc:
        made.extend(output.flush(counters, whole=True))  # the records before the error
        return made, exc
    return made, None


async def _parquet_messages(
    request: SelectRequest,
    size: int,
    read: Reader,
    counters: Counters,
    clock: Callable[[], float],
) -> AsyncIterator[bytes]:
    """The messages of a query over a Parquet object (``parquet.py``)."""

    async def fetch(start: int, end: int) -> bytes:
        stream = read(start, end)
        try:
            return b"".join([chunk async for chunk in stream])
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                await closing()

    def fetched(count: int) -> None:
        counters.scanned += count
        counters.processed += count

    output = _Output(request)
    last_sent, emitted = clock(), False
    if not output.done:
        scan = None
        if request.scan_start is not None or request.scan_end is not None:
            scan = scan_bounds(request, size)
        batches = parquet_rows(size, fetch, request.parquet_max_read, fetched, scan)
        try:
            async for rows in batches:
                made, failed = _take_rows(output, counters, rows, request.query.source)
                if failed is not None and not emitted:
                    raise failed
                for message in made:
                    last_sent, emitted = clock(), True
                    yield message
                if failed is not None:
                    raise failed
                if output.done:
                    break
                if clock() - last_sent >= KEEPALIVE_SECONDS:
                    last_sent, emitted = clock(), True
                    yield eventstream.cont()
        finally:
            await batches.aclose()
    output.conclude()
    for message in output.flush(counters, whole=True):
        yield message
    if request.progress:
        yield eventstream.progress(counters.scanned, counters.processed, counters.returned)
    yield eventstream.stats(counters.scanned, counters.processed, counters.returned)
    yield eventstream.end()


async def _read_header(source: _Source, request: SelectRequest, size: int, read: Reader) -> None:
    """A scan range after the object's start: its CSV header is still its first line."""
    splitter = LineSplitter(source.delimiter, request.max_record_size)
    stream = read(0, min(size, request.max_record_size + len(source.delimiter)) - 1)
    try:
        async for chunk in stream:
            for _, record in splitter.feed(chunk):
                source.csv.take_header(record)
                return
        for _, record in splitter.finish():
            source.csv.take_header(record)
    finally:
        closing = getattr(stream, "aclose", None)
        if closing is not None:
            await closing()


class _Source:
    """Bytes in, rows out: decompression, records, the scan range, FROM's path."""

    def __init__(self, request: SelectRequest, first: int, last: int) -> None:
        self._request = request
        # Offsets count decompressed bytes: a compressed object has no scan range (refused).
        self._last = last if request.compression == "NONE" else sys.maxsize
        self.past_range = False
        self._inflater: Callable[[bytes], Iterator[bytes]] = {
            "NONE": lambda data: iter((data,)),
            "GZIP": _Inflater(lambda: zlib.decompressobj(wbits=31)).inflate,
            "BZIP2": _Inflater(bz2.BZ2Decompressor).inflate,
        }[request.compression]
        options = request.csv_input
        self.csv = CsvRecords(options or CsvInput())
        self.delimiter = (options.record_delimiter if options is not None else "\n").encode()
        self.lookbehind = len(self.delimiter) if first > 0 else 0
        self._steps = request.query.source
        # ``S3Object[*]`` spreads a top-level array: read element by element, streamed.
        spread = bool(self._steps) and self._steps[0] == Wildcard()
        self._document = (
            DocumentReader(request.max_record_size, spread=spread)
            if options is None and request.json_type == "DOCUMENT"
            else None
        )
        quote = escape = comment = separator = None
        if options is not None and options.allow_quoted_record_delimiter:
            quote, escape = options.quote.encode(), options.quote_escape.encode()
            comment = options.comments.encode() if options.comments else None
            separator = options.field_delimiter.encode()
        self._lines = LineSplitter(
            self.delimiter,
            request.max_record_size,
            offset=max(first - self.lookbehind, 0),
            quote=quote,
            escape=escape,
            comment=comment,
            field_delimiter=separator,
            skip_first=first > 0,
        )

    def inflate(self, chunk: bytes) -> Iterator[bytes]:
        return self._inflater(chunk)

    def rows(self, data: bytes) -> Iterator[object]:
        if self._document is not None:
            for value, element in self._document.feed(data):
                yield from _expand(value, self._steps[1:] if element else self._steps)
            return
        for offset, record in self._lines.feed(data):
            if offset > self._last:
                self.past_range = True
                return
            yield from self._row(record)

    def finish(self) -> Iterator[object]:
        if self._document is not None:
            for value, element in self._document.feed(b"", final=True):
                yield from _expand(value, self._steps[1:] if element else self._steps)
            return
        for offset, record in self._lines.finish():
            if offset <= self._last:
                yield from self._row(record)

    def _row(self, record: bytes) -> Iterator[object]:
        if self._request.csv_input is not None:
            row = self.csv.row(record)
            if row is not None:
                yield row
            return
        text = decode_record(record).strip()
        if not text:
            return
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise SelectError("JSONParsingError") from exc
        yield from _expand(value, self._steps)


class _Inflater:
    """A compressed stream of one or more members (``cat a.gz b.gz``), inflated in steps."""

    def __init__(self, make: Callable[[], zlib._Decompress | bz2.BZ2Decompressor]) -> None:
        self._make = make
        self._engine = make()

    def inflate(self, data: bytes) -> Iterator[bytes]:
        try:
            while True:
                engine = self._engine
                piece = engine.decompress(data, _INFLATE_STEP)
                if piece:
                    yield piece
                if engine.eof:
                    data = engine.unused_data
                    self._engine = self._make()
                    if not data:
                        return
                elif isinstance(engine, bz2.BZ2Decompressor):
                    if engine.needs_input:
                        return
                    data = b""  # more output is waiting for its step
                else:
                    data = engine.unconsumed_tail
                    if not data and len(piece) < _INFLATE_STEP:
                        return  # else more output may wait in the engine for its step
        except (zlib.error, OSError, EOFError, ValueError) as exc:
            raise SelectError("InvalidCompressionFormat") from exc


def _expand(value: object, steps: tuple[Step, ...]) -> Iterator[object]:
    """The rows FROM's path gives from one JSON value: ``[*]`` spreads an array, ``.*`` an
    object's values. As AWS, a wildcard always emits at least one row: MISSING where the
    path leads nowhere (written as an empty record)."""
    if not steps:
        yield value
        return
    step, rest = steps[0], steps[1:]
    if isinstance(step, Wildcard):
        if step.members:
            items = list(value.values()) if isinstance(value, dict) else [value]
        else:
            items = value if isinstance(value, list) else [value]
        if not items:
            yield MISSING
        for item in items:
            yield from _expand(item, rest)
        return
    yield from _expand(follow(value, (step,)), rest)


class _Output:
    """Rows in, output text out, batched into Records events."""

    def __init__(self, request: SelectRequest) -> None:
        self._query = request.query
        self._format = request.output
        self._max = request.max_record_size
        self._batch = bytearray()
        self._count = 0
        self._accumulators = Accumulators(self._query) if self._query.aggregates else None
        self.done = self._query.limit == 0
        where = self._query.where
        self._where = None if where is None else compile_expr(where)
        projections = self._query.projections or ()
        self._names = [
            projection.alias or _name_of(projection.expr) or f"_{position + 1}"
            for position, projection in enumerate(projections)
        ]
        self._projections = [compile_expr(projection.expr) for projection in projections]

    def take(self, row: object) -> None:
        where = self._where
        if where is not None and where(row, None) is not True:
            return
        if self._accumulators is not None:
            self._accumulators.add(row)
            return
        self._write(row, None)
        self._count += 1
        if self._query.limit is not None and self._count >= self._query.limit:
            self.done = True

    def conclude(self) -> None:
        if self._accumulators is not None:
            self._write(None, self._accumulators.totals())

    def _write(self, row: object, totals: list[object] | None) -> None:
        projections = self._query.projections
        pairs: list[tuple[str, object]]
        if projections is None:
            if isinstance(row, CsvRow):
                pairs = list(row.as_mapping().items())
            elif isinstance(row, dict):
                pairs = list(row.items())
            else:
                pairs = [("_1", row)]
        else:
            values = [projection(row, totals) for projection in self._projections]
            pairs = list(zip(self._names, values, strict=True))
        if isinstance(self._format, JsonOutput):
            text = self._format.write(pairs)
        else:
            text = self._format.write([value for _, value in pairs])
        encoded = text.encode()
        if len(encoded) > self._max:
            raise SelectError("OverMaxRecordSize")
        self._batch += encoded

    @property
    def full(self) -> bool:
        """A Records event's worth of output is waiting."""
        return len(self._batch) >= eventstream.MAX_RECORDS_PAYLOAD

    def flush(self, counters: Counters, *, whole: bool) -> Iterator[bytes]:
        limit = eventstream.MAX_RECORDS_PAYLOAD
        while len(self._batch) >= limit or (whole and self._batch):
            payload = bytes(self._batch[:limit])
            del self._batch[:limit]
            counters.returned += len(payload)
            yield eventstream.records(payload)


def _name_of(expr: object) -> str | None:
    if isinstance(expr, Path) and isinstance(expr.steps[-1], Field):
        return expr.steps[-1].name
    return None
