"""Parquet input for S3 Select: the object's rows, read with pyarrow a batch at a time.

A Parquet file is read from its end (the footer names the row groups and their column
chunks), so it cannot be cut into records as it streams: pyarrow reads the byte ranges it
needs through a file object whose reads are the object's own ranged reads (the same
decrypting reader as GetObject). pyarrow runs in a worker thread, which asks the event loop
for each range and waits for it; the loop goes on serving meanwhile. Memory is bounded by
what pyarrow holds of one row group's columns, and ``BATCH_ROWS`` rows as Python values.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncGenerator, Callable, Coroutine
from datetime import UTC, datetime
from typing import IO, Any, Final, cast

from andromede.s3select.errors import SelectError

__all__ = ["BATCH_ROWS", "parquet_rows"]

BATCH_ROWS: Final = 1024
READ_STEP: Final = 1024 * 1024  # the most pyarrow reads at once of a column chunk
_FETCH_TIMEOUT: Final = 300.0

Fetch = Callable[[int, int], Coroutine[Any, Any, bytes]]


class _RangedFile(io.RawIOBase):
    """A read-only file over an object's ranged reads, for pyarrow in a worker thread."""

    def __init__(
        self, size: int, fetch: Fetch, loop: asyncio.AbstractEventLoop, max_read: int
    ) -> None:
        super().__init__()
        self._size = size
        self._fetch = fetch
        self._loop = loop
        self._max_read = max_read
        self._position = 0
        self.fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        if wanted > self._max_read:
            # A column chunk larger than S3 Select reads at once: the file is refused rather
            # than held in memory (AWS: OverMaxRecordSize for Parquet's oversized records).
            raise _TooLarge
        start = self._position
        # Bounded: a loop that stopped (the server shutting down) must not hold the thread.
        data: bytes = asyncio.run_coroutine_threadsafe(
            self._fetch(start, start + wanted - 1), self._loop
        ).result(timeout=_FETCH_TIMEOUT)
        view[: len(data)] = data
        self._position += len(data)
        self.fetched += len(data)
        return len(data)


class _TooLarge(OSError):
    """A read pyarrow asked for is larger than allowed."""


async def parquet_rows(
    size: int,
    fetch: Fetch,
    max_read: int,
    fetched: Callable[[int], None],
    scan: tuple[int, int] | None = None,
) -> AsyncGenerator[list[dict[str, object]]]:
    """The object's rows, ``BATCH_ROWS`` at a time, as dictionaries of Python values;
    ``fetched`` is told the bytes each batch made pyarrow read. ``scan``: a ScanRange's
    first and last byte — as AWS, only the row groups that start within it are read."""
    import pyarrow as pa  # imported here: importing pyarrow starts a thread
    import pyarrow.parquet as pq

    loop = asyncio.get_running_loop()
    source = _RangedFile(size, fetch, loop, max_read)

    def open_batches() -> Any:
        # One row group after another, its column chunks read in pieces of READ_STEP: never
        # the whole file at once (pyarrow's default reads every row group's chunks together).
        parquet = pq.ParquetFile(cast(IO[bytes], source), buffer_size=READ_STEP, pre_buffer=False)
        for group in range(parquet.num_row_groups):
            if scan is not None and not scan[0] <= _group_start(parquet, group) <= scan[1]:
                continue
            yield from parquet.iter_batches(
                batch_size=BATCH_ROWS, row_groups=[group], use_threads=False
            )

    def next_batch(batches: Any) -> list[dict[str, object]] | None:
        batch = next(batches, None)
        return None if batch is None else batch.to_pylist()

    told = 0
    try:
        batches = open_batches()  # a generator: it runs in the worker, at each next_batch
        while True:
            rows = await asyncio.to_thread(next_batch, batches)
            fetched(source.fetched - told)
            told = source.fetched
            if rows is None:
                return
            yield [_plain(row) for row in rows]
    except _TooLarge as exc:
        raise SelectError("OverMaxRecordSize") from exc
    except (pa.ArrowException, OSError, ValueError, TimeoutError) as exc:
        raise SelectError("ParquetParsingError") from exc


def _group_start(parquet: Any, group: int) -> int:
    """Where a row group starts in the file: its first column chunk's first page (the
    dictionary page when it has one)."""
    meta = parquet.metadata.row_group(group)
    starts = []
    for column in range(meta.num_columns):
        chunk = meta.column(column)
        dictionary = chunk.dictionary_page_offset if chunk.has_dictionary_page else None
        starts.append(dictionary if dictionary is not None else chunk.data_page_offset)
    return min(starts) if starts else 0


def _plain(row: dict[str, object]) -> dict[str, object]:
    """pyarrow's values as Select's: a timestamp without a zone is UTC."""
    for name, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[name] = value.replace(tzinfo=UTC)
    return row
