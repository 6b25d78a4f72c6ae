"""The compressed inputs of a distributed Map's readers, undone as their chunks arrive
(decisions 0345, 0358): an object whose key ends in ``.gz`` is GZIP (zlib), one ending in
``.zst`` or ``.zstd`` is ZSTD, as AWS's ``ItemReader`` tells them apart.

ZSTD goes through Arrow's streaming decompressor (``pyarrow.CompressedInputStream``, pyarrow
being already a dependency for Parquet), which reads a file-like object synchronously: it runs
in a thread of its own, and each of its reads waits for the event loop to hand it the object's
next chunk, so the object is never held whole and the event loop never blocks. Either codec
gives at most ``most`` bytes of decompressed data at a time (Arrow itself decompresses at most
1 MiB ahead), so a small object that expands to a huge one — a decompression bomb — costs no
more memory than a plain one: the readers' own bound on a record (or a JSON document held
whole) stops it. A stream that is not valid, or ends before its end, is
``States.ItemReaderFailed`` naming the object. A reading closed or cancelled while the thread
waits for a chunk gives that chunk up, lets the thread's read end, then closes the chunks."""

from __future__ import annotations

import asyncio
import io
import zlib
from collections.abc import AsyncGenerator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import aclosing
from typing import Final

from andromede.stepfunctions.map_items import READER_FAILED
from andromede.stepfunctions.states_error import StatesError

__all__ = ["GZIP", "ZSTD", "compression_of", "decompressed"]

GZIP: Final = "GZIP"
ZSTD: Final = "ZSTD"
_SUFFIXES: Final = {".gz": GZIP, ".zst": ZSTD, ".zstd": ZSTD}
_ZSTD_PIECE: Final = 1 << 20  # Arrow decompresses this much ahead at most


def compression_of(key: str) -> str | None:
    """``GZIP``, ``ZSTD`` or None (plain), by the key's suffix as AWS reads it."""
    return next((kind for suffix, kind in _SUFFIXES.items() if key.endswith(suffix)), None)


async def decompressed(
    chunks: AsyncGenerator[bytes], compression: str | None, most: int, name: str
) -> AsyncGenerator[bytes]:
    """The object's data: its chunks, undone as ``compression`` says, at most ``most`` bytes
    a piece; ``name`` (``s3://b/k``) says which object failed."""
    async with aclosing(chunks):
        if compression == ZSTD:
            async with aclosing(_zstd(chunks, most, name)) as pieces:
                async for piece in pieces:
                    yield piece
            return
        unzip = zlib.decompressobj(wbits=31) if compression == GZIP else None
        async for chunk in chunks:
            if unzip is None:
                yield chunk
                continue
            try:
                yield unzip.decompress(chunk, most)
                while unzip.unconsumed_tail:  # a small chunk may hold a lot
                    yield unzip.decompress(unzip.unconsumed_tail, most)
            except zlib.error:
                raise _failed(f"The object {name} is not valid GZIP") from None
        if unzip is not None and not unzip.eof:
            raise _failed(f"The GZIP object {name} ends before its end")


def _failed(cause: str) -> StatesError:
    return StatesError(READER_FAILED, cause)


class _Feed(io.RawIOBase):
    """The compressed bytes as Arrow's reader asks for them, in its thread: a read waits for
    the event loop to yield the object's next chunk (``stop``: no more, the reading is over)."""

    def __init__(self, chunks: AsyncGenerator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._chunks = chunks
        self._loop = loop
        self._pending = memoryview(b"")
        self._ended = False
        self._fetching: asyncio.Task[bytes | None] | None = None  # on the loop, for the thread

    def readable(self) -> bool:
        return True

    async def stop(self) -> None:
        """No more reading (on the event loop): a chunk still awaited is given up — the
        thread's read then ends rather than waits for a chunk that may never come — and the
        chunks are left idle, to be closed."""
        self._ended = True
        fetching = self._fetching
        if fetching is not None:
            fetching.cancel()
            await asyncio.wait([fetching])

    async def _next(self) -> bytes | None:
        if self._ended:
            return None
        self._fetching = asyncio.current_task()
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None
        finally:
            self._fetching = None

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._ended:
            chunk = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
            if chunk is None:
                self._ended = True
            else:
                self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


async def _zstd(chunks: AsyncGenerator[bytes], most: int, name: str) -> AsyncGenerator[bytes]:
    import pyarrow as pa  # imported here: importing pyarrow starts a thread (no fork after)

    loop = asyncio.get_running_loop()
    feed = _Feed(chunks, loop)
    stream = pa.CompressedInputStream(pa.PythonFile(feed, mode="r"), "zstd")
    # A thread of its own: the default pool's threads may be what produces the chunks.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfn-zstd")
    reading: Future[bytes] | None = None
    try:
        while True:
            reading = worker.submit(stream.read, min(most, _ZSTD_PIECE))
            try:
                piece = await asyncio.wrap_future(reading)
            except (OSError, pa.ArrowException) as exc:  # Arrow's codec refusing the data
                if "Truncated" in str(exc):
                    raise _failed(f"The ZSTD object {name} ends before its end") from None
                raise _failed(f"The object {name} is not valid ZSTD") from None
            reading = None
            if not piece:
                return
            yield piece
    finally:
        await feed.stop()
        if reading is not None and not reading.done():
            # Cancelled mid-read: the thread finishes its chunk before the chunks are closed
            # (its outcome, most likely a cut stream, no longer matters).
            waiting = asyncio.wrap_future(reading)
            await asyncio.wait([waiting])
            if not waiting.cancelled():
                waiting.exception()
        worker.shutdown(wait=False)
