"""The blob store of one RADOS pool and namespace: create, ranged reads (fetched ahead, a
stripe's pieces at a time), delete, listings for the sweeper, and each librados operation as an
asyncio future.

Split off ``blob_rados.py`` for size; its docstring has the layout of a blob and the recovery
that :class:`~andromede.storage.blob_rados_cluster.RadosCluster` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rados

from andromede.storage.blob_rados_ops import (
    _BLOB_ID,
    _STAT_CONCURRENCY,
    _TAIL,
    _UNAVAILABLE,
    _XATTR,
    DEFAULT_READ_BLOCK_SIZE,
    DEFAULT_STRIPE_SIZE,
    _failure,
    _keep_thread_state,
    _next_batch,
    _set_result,
    _translate,
)
from andromede.storage.blob_rados_writer import RadosBlobWriter
from andromede.storage.errors import BlobError, BlobStoreUnavailable

__all__ = ["RadosBlobStore"]


@dataclass(frozen=True, slots=True)
class _Piece:
    """Bytes ``[start, start+length)`` of RADOS object ``name``, or already read (``data``)."""

    name: str
    start: int
    length: int
    data: bytes | None = None


class RadosBlobStore:
    """The blob store of one pool (and namespace). Build it with :meth:`RadosCluster.blob_store`."""

    def __init__(
        self,
        ioctx: Any,
        *,
        stripe_size: int = DEFAULT_STRIPE_SIZE,
        writes_in_flight: int = 4,
        reads_in_flight: int = 4,
        read_block_size: int = DEFAULT_READ_BLOCK_SIZE,
        namespace: str = "",
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        if min(stripe_size, writes_in_flight, reads_in_flight, read_block_size) < 1:
            raise ValueError("sizes and operations in flight must be positive")
        # None while RadosCluster connects a new client: operations then fail at once.
        self._ioctx: Any = ioctx
        self.pool = str(ioctx.get_pool_name())
        self.namespace = namespace
        self._on_unavailable = on_unavailable
        self.stripe_size = stripe_size
        self.writes_in_flight = writes_in_flight
        self.reads_in_flight = reads_in_flight
        self.read_block_size = read_block_size
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    def _detach(self) -> Any:
        """Stop using the current I/O context (its client is being replaced); returns it."""
        ioctx, self._ioctx = self._ioctx, None
        return ioctx

    def _attach(self, ioctx: Any) -> None:
        self._ioctx = ioctx

    async def create(self, blob_id: str) -> RadosBlobWriter:
        self._check_id(blob_id)
        return RadosBlobWriter(self, blob_id)

    async def read(
        self, blob_id: str, offset: int, length: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        self._check_id(blob_id)
        if offset < 0 or length < 0 or chunk_size <= 0:
            raise BlobError(f"blob {blob_id}: bad range {offset}+{length} / {chunk_size}")
        head_part, stripe = await self._open(blob_id, offset, length)
        if len(head_part) == length:
            # The head held the whole range (any blob up to a stripe): nothing more to fetch,
            # so no pieces, no read-ahead tasks.
            for start in range(0, length, chunk_size):
                yield head_part if length <= chunk_size else head_part[start : start + chunk_size]
            return
        end = offset + length
        # RADOS reads of at least read_block_size (a multiple of the chunk size, so chunks
        # keep their boundaries): the operation count, not the bytes, bounds a large read.
        block = chunk_size * max(1, -(-self.read_block_size // chunk_size))
        pieces = self._pieces(blob_id, head_part, stripe, offset, end, block)
        pending: deque[asyncio.Future[bytes]] = deque()
        try:
            while True:
                while len(pending) < self.reads_in_flight:
                    chunk_pieces = next(pieces, None)
                    if chunk_pieces is None:
                        break
                    pending.append(asyncio.ensure_future(self._fetch(blob_id, chunk_pieces)))
                if not pending:
                    return
                data = await pending[0]
                pending.popleft()
                if len(data) <= chunk_size:
                    yield data
                    continue
                for start in range(0, len(data), chunk_size):
                    yield data[start : start + chunk_size]
        finally:
            for future in pending:
                future.cancel()
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: the reader stopped, nobody else will

    async def delete(self, blob_id: str) -> None:
        """Remove the head: the blob is gone for new readers; its tails go at the next sweep."""
        self._check_id(blob_id)
        code = await self._remove(blob_id)
        if code < 0 and code != -errno.ENOENT:
            raise _failure(blob_id, "cannot delete", code)

    async def list_blobs(self, older_than: datetime) -> AsyncIterator[str]:
        limit = older_than.timestamp()
        async for names in self._list_names():
            heads = [name for name in names if _BLOB_ID.fullmatch(name)]
            for name, (code, _size, mtime) in zip(heads, await self._stat_all(heads), strict=True):
                if code == 0 and mtime < limit:
                    yield name
                elif code < 0 and code != -errno.ENOENT:
                    raise _failure(name, "cannot stat", code)

    async def remove_stale_temporaries(self, older_than: datetime) -> int:
        """Remove tails without a head and older than ``older_than``; returns how many blobs'
        leftovers went. A committed blob's tails are never touched."""
        limit = older_than.timestamp()
        removed_ids: set[str] = set()
        async for names in self._list_names():
            tails = [(m.group(1), name) for name in names if (m := _TAIL.fullmatch(name))]
            if not tails:
                continue
            tail_stats = await self._stat_all([name for _, name in tails])
            heads = sorted({blob_id for blob_id, _ in tails})
            head_codes = dict(zip(heads, (s[0] for s in await self._stat_all(heads)), strict=True))
            for (blob_id, name), (code, _size, mtime) in zip(tails, tail_stats, strict=True):
                if code != 0 or head_codes[blob_id] != -errno.ENOENT or mtime >= limit:
                    continue
                result = await self._remove(name)
                if result < 0 and result != -errno.ENOENT:
                    raise _failure(blob_id, f"cannot remove stale stripe {name}", result)
                removed_ids.add(blob_id)
        return len(removed_ids)

    async def close(self) -> None:
        """Wait for background cleanups, then let the I/O context go."""
        if self._closed:
            return
        self._closed = True
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        ioctx = self._detach()
        if ioctx is not None:
            await asyncio.to_thread(ioctx.close)

    # -- reading ----------------------------------------------------------------------------
    async def _open(self, blob_id: str, offset: int, length: int) -> tuple[bytes, int]:
        """Check that the blob holds the range; return the range's bytes that the head holds
        and the blob's stripe size (its head's size, when it has tails).

        A range that one read of the head answers costs that read alone; otherwise the head
        is stat'ed (beside the read, when the range is longer than a stripe) and so is the
        last tail the range needs.
        """
        end = offset + length
        want = min(length, self.stripe_size)
        stat = self._stat(blob_id) if length > want else None
        data = b""
        if want:
            code, data = await self._read(blob_id, offset, want)
            if code == -errno.ENOENT:
                raise BlobError(f"blob {blob_id} is missing")
            if code < 0:
                raise _failure(blob_id, "cannot read", code)
            if len(data) == length:
                return data, self.stripe_size
        code, head_size, _ = await (stat or self._stat(blob_id))
        if code == -errno.ENOENT:
            raise BlobError(f"blob {blob_id} is missing")
        if code < 0:
            raise _failure(blob_id, "cannot stat", code)
        head_end = min(head_size, end)
        if offset + len(data) < head_end:  # a head larger than this store's stripes
            more_at = offset + len(data)
            code, more = await self._read(blob_id, more_at, head_end - more_at)
            if code < 0:
                raise _failure(blob_id, "cannot read", code)
            data += more
        data = data[: max(0, head_end - offset)]
        if end > head_size:
            await self._check_end(blob_id, end, head_size)
        return data, head_size

    async def _check_end(self, blob_id: str, end: int, stripe: int) -> None:
        """The blob holds at least ``end`` bytes: its last stripe needed is there and long."""
        if stripe == 0:
            raise BlobError(f"blob {blob_id}: {end} bytes wanted, 0 stored")
        index = (end - 1) // stripe
        code, size, _ = await self._stat(f"{blob_id}.{index}")
        if code == -errno.ENOENT or (code == 0 and index * stripe + size < end):
            stored = index * stripe + (size if code == 0 else 0)
            raise BlobError(f"blob {blob_id}: {end} bytes wanted, fewer stored ({stored}+)")
        if code < 0:
            raise _failure(blob_id, "cannot stat", code)

    @staticmethod
    def _pieces(
        blob_id: str,
        head_part: bytes,
        stripe: int,
        offset: int,
        end: int,
        chunk_size: int,
    ) -> Iterator[list[_Piece]]:
        """Each chunk of the range as the pieces of RADOS objects that hold it."""
        head_end = offset + len(head_part)
        for start in range(offset, end, chunk_size):
            stop = min(start + chunk_size, end)
            pieces: list[_Piece] = []
            if start < head_end:
                upto = min(stop, head_end)
                pieces.append(
                    _Piece(blob_id, start, upto - start, head_part[start - offset : upto - offset])
                )
                position = upto
            else:
                position = start
            while position < stop:
                index = position // stripe
                upto = min(stop, (index + 1) * stripe)
                pieces.append(
                    _Piece(f"{blob_id}.{index}", position - index * stripe, upto - position)
                )
                position = upto
            yield pieces

    async def _fetch(self, blob_id: str, pieces: list[_Piece]) -> bytes:
        futures = [self._read(p.name, p.start, p.length) for p in pieces if p.data is None]
        results = iter(await asyncio.gather(*futures))
        parts: list[bytes] = []
        for piece in pieces:
            if piece.data is not None:
                parts.append(piece.data)
                continue
            code, data = next(results)
            if code < 0:
                raise _failure(blob_id, f"cannot read {piece.name}", code)
            if len(data) != piece.length:
                raise BlobError(f"blob {blob_id}: {piece.name} shorter than expected")
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # -- librados operations, as futures ----------------------------------------------------
    # Each resolves to librados' return code (negative: an errno) and never raises: without a
    # client (being replaced) or when the binding refuses the call, to -ESHUTDOWN at once.
    def _submit(
        self, start: Callable[[Any, Callable[[Any], None]], None], value: Callable[[int], Any]
    ) -> asyncio.Future[Any]:
        """Start one asynchronous operation: ``start(ioctx, resolve)``; ``value(code)`` is what
        the future resolves to when librados cannot even take the operation.

        ``resolve`` runs on a librados thread: it hands the result to the loop, where the
        future is resolved and the result judged in the same call (no done-callback, which
        would cost the loop one more turn per operation)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        ioctx = self._ioctx
        watcher = self if self._on_unavailable is not None else None

        def resolve(result: Any) -> None:
            _keep_thread_state()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(_set_result, future, result, watcher, ioctx)

        try:
            if ioctx is None:
                raise rados.Error("no librados client: reconnecting")
            start(ioctx, resolve)
        except rados.Error:
            _set_result(future, value(-errno.ESHUTDOWN), watcher, ioctx)
        return future

    def _watch(self, result: Any, ioctx: Any) -> None:
        """A "cluster away" result starts the client's replacement, unless the operation ran
        on a client already replaced (its late timeouts say nothing of the new one)."""
        if self._on_unavailable is None or self._ioctx is not ioctx:
            return
        code = result[0] if isinstance(result, tuple) else result
        if -code in _UNAVAILABLE:
            self._on_unavailable()

    def _write_full(self, name: str, data: bytes) -> asyncio.Future[int]:
        return self._submit(
            lambda ioctx, resolve: ioctx.aio_write_full(
                name, data, oncomplete=lambda c: resolve(c.get_return_value())
            ),
            lambda code: code,
        )

    def _write_head(self, name: str, data: bytes, meta: bytes) -> asyncio.Future[int]:
        """Data and xattr in one operation: RADOS applies both or neither."""

        def start(ioctx: Any, resolve: Callable[[Any], None]) -> None:
            op = ioctx.create_write_op()
            try:
                op.write_full(data)
                op.set_xattr(_XATTR, meta)
                # The binding passes mtime to librados as given: 0 would date the head 1970.
                ioctx.operate_aio_write_op(
                    op, name, oncomplete=lambda c: resolve(c.get_return_value()),
                    mtime=int(time.time()),
                )  # fmt: skip
            finally:
                ioctx.release_write_op(op)

        return self._submit(start, lambda code: code)

    def _read(self, name: str, offset: int, length: int) -> asyncio.Future[tuple[int, bytes]]:
        def start(ioctx: Any, resolve: Callable[[Any], None]) -> None:
            def done(completion: Any, data: bytes | None) -> None:
                code = completion.get_return_value()
                # The binding hands back its whole buffer when nothing was read (code 0).
                resolve((code, b"" if code <= 0 or data is None else data[:code]))

            ioctx.aio_read(name, length, offset, oncomplete=done)

        return self._submit(start, lambda code: (code, b""))

    def _stat(self, name: str) -> asyncio.Future[tuple[int, int, float]]:
        def start(ioctx: Any, resolve: Callable[[Any], None]) -> None:
            def done(completion: Any, size: int | None, mtime: time.struct_time | None) -> None:
                code = completion.get_return_value()
                # The binding converts the mtime with localtime(); mktime() is its inverse.
                when = time.mktime(mtime) if code == 0 and mtime is not None else 0.0
                resolve((code, size or 0, when))

            ioctx.aio_stat(name, done)

        return self._submit(start, lambda code: (code, 0, 0.0))

    async def _stat_all(self, names: list[str]) -> list[tuple[int, int, float]]:
        results: list[tuple[int, int, float]] = []
        for start in range(0, len(names), _STAT_CONCURRENCY):
            batch = names[start : start + _STAT_CONCURRENCY]
            results.extend(await asyncio.gather(*(self._stat(name) for name in batch)))
        return results

    def _remove(self, name: str) -> asyncio.Future[int]:
        return self._submit(
            lambda ioctx, resolve: ioctx.aio_remove(
                name, oncomplete=lambda c: resolve(c.get_return_value())
            ),
            lambda code: code,
        )

    async def _list_names(self) -> AsyncIterator[list[str]]:
        """Object names of the namespace in batches; the listing blocks, so it runs in a
        thread, one batch per hop."""
        ioctx = self._ioctx
        if ioctx is None:
            raise BlobStoreUnavailable(f"cannot list pool {self.pool}: reconnecting to Ceph")
        try:
            objects = await asyncio.to_thread(ioctx.list_objects)
            while True:
                batch = await asyncio.to_thread(_next_batch, objects)
                if not batch:
                    return
                yield batch
        except rados.Error as exc:
            raise _translate(exc, f"cannot list pool {self.pool}") from exc

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @staticmethod
    def _check_id(blob_id: str) -> None:
        if not _BLOB_ID.fullmatch(blob_id):
            raise BlobError(f"invalid blob id {blob_id!r}")

    # -- for tests ------------------------------------------------------------------------
    def object_names(self) -> list[str]:
        """Every RADOS object of the namespace (blocking; tests only)."""
        return [obj.key for obj in self._ioctx.list_objects()]

    def blob_ids(self) -> set[str]:
        """Every committed blob id (tests use it to check that nothing was left behind)."""
        return {name for name in self.object_names() if _BLOB_ID.fullmatch(name)}

    def temporary_count(self) -> int:
        """How many blobs have tails but no head."""
        names = self.object_names()
        heads = {name for name in names if _BLOB_ID.fullmatch(name)}
        return len({m.group(1) for n in names if (m := _TAIL.fullmatch(n))} - heads)
