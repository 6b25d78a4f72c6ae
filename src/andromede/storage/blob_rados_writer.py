"""One blob being written to RADOS: the first stripe kept in memory, each later full stripe
sent as a tail at once, and the head written last as the commit marker (``blob_rados.py``'s
docstring has the layout).

Split off ``blob_rados.py`` for size.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
from collections import deque
from typing import TYPE_CHECKING

from andromede.storage.blob_rados_ops import _FORMAT, _failure
from andromede.storage.errors import BlobError

if TYPE_CHECKING:
    from andromede.storage.blob_rados_store import RadosBlobStore

__all__ = ["RadosBlobWriter"]

# The name the module had before it was split: operators' log filters keep working.
_log = logging.getLogger("andromede.storage.blob_rados")


class RadosBlobWriter:
    """Accumulates one blob: the first stripe in memory, each later full stripe sent at once."""

    def __init__(self, store: RadosBlobStore, blob_id: str) -> None:
        self._store = store
        self._blob_id = blob_id
        # Views, so that cutting a large chunk into stripes copies each byte once.
        self._pending: deque[memoryview] = deque()
        self._pending_size = 0
        self._head: bytes | None = None
        self._size = 0
        self._tails_sent = 0  # tails X.1 .. X.<tails_sent> were handed to librados
        self._in_flight: deque[asyncio.Future[int]] = deque()
        self._head_write: asyncio.Future[int] | None = None
        self._done = False
        self._cleanup: asyncio.Task[None] | None = None

    async def write(self, data: bytes | bytearray) -> None:
        if self._done:
            raise BlobError(f"blob {self._blob_id}: write after the writer ended")
        if not data:
            return
        self._pending.append(memoryview(data))
        self._pending_size += len(data)
        self._size += len(data)
        stripe_size = self._store.stripe_size
        while self._pending_size >= stripe_size:
            stripe = self._take(stripe_size)
            if self._head is None:
                self._head = stripe
            else:
                await self._send_tail(stripe)

    async def commit(self) -> None:
        if self._done:
            raise BlobError(f"blob {self._blob_id}: commit after the writer ended")
        self._done = True
        try:
            rest = self._take(self._pending_size)
            if self._head is None:
                self._head = rest
            elif rest:
                await self._send_tail(rest)
            while self._in_flight:
                await self._wait_oldest()
            await self._check_tails()
            await self._write_head()
        except BaseException:
            await self.abort()
            raise

    async def abort(self) -> None:
        """Remove what was sent. Shielded: a cancellation does not stop the cleanup, which
        waits for the writes still in flight first (else one could land after its removal)."""
        self._done = True
        self._pending.clear()
        self._pending_size = 0
        if not self._tails_sent and self._head_write is None:
            return
        if self._cleanup is None:
            self._cleanup = self._store._spawn(self._remove_sent())
        await asyncio.shield(self._cleanup)

    # -- internals --------------------------------------------------------------------------
    def _take(self, size: int) -> bytes:
        """The first ``size`` pending bytes, as one buffer; the remainder stays pending."""
        parts: list[memoryview] = []
        taken = 0
        while taken < size:
            chunk = self._pending[0]
            need = size - taken
            if len(chunk) <= need:
                parts.append(self._pending.popleft())
                taken += len(chunk)
            else:
                parts.append(chunk[:need])
                self._pending[0] = chunk[need:]
                taken += need
        self._pending_size -= size
        if len(parts) != 1:
            return b"".join(parts)
        whole = parts[0].obj
        if isinstance(whole, bytes) and len(whole) == parts[0].nbytes:
            return whole  # a chunk that is exactly a stripe: no copy
        return bytes(parts[0])

    async def _send_tail(self, stripe: bytes) -> None:
        while len(self._in_flight) >= self._store.writes_in_flight:
            await self._wait_oldest()
        self._tails_sent += 1
        self._in_flight.append(
            self._store._write_full(f"{self._blob_id}.{self._tails_sent}", stripe)
        )

    async def _wait_oldest(self) -> None:
        # Shielded: a cancelled caller must not cancel the future, whose result tells when
        # librados is done with the stripe (abort waits for it before removing).
        code = await asyncio.shield(self._in_flight[0])
        self._in_flight.popleft()
        if code < 0:
            raise _failure(self._blob_id, "cannot write a stripe", code)

    async def _check_tails(self) -> None:
        """Every tail is still there: the sweeper removes the tails of writers that look dead
        (older than its grace), and a head must never name missing data."""
        if not self._tails_sent:
            return
        names = [f"{self._blob_id}.{k}" for k in range(1, self._tails_sent + 1)]
        results = await asyncio.gather(*(self._store._stat(name) for name in names))
        for (code, _size, _mtime), _name in zip(results, names, strict=True):
            if code == -errno.ENOENT:
                raise BlobError(f"blob {self._blob_id}: temporary data was removed")
            if code < 0:
                raise _failure(self._blob_id, "cannot check a stripe", code)

    async def _write_head(self) -> None:
        head = self._head if self._head is not None else b""
        meta = {"format": _FORMAT, "size": self._size, "stripe_size": self._store.stripe_size}
        self._head_write = self._store._write_head(self._blob_id, head, json.dumps(meta).encode())
        code = await asyncio.shield(self._head_write)
        if code < 0:
            raise _failure(self._blob_id, "cannot write the head", code)

    async def _remove_sent(self) -> None:
        writes = [*self._in_flight, *([self._head_write] if self._head_write else [])]
        await asyncio.gather(*writes)  # their results no longer matter, only that they ended
        self._in_flight.clear()
        names = [f"{self._blob_id}.{k}" for k in range(1, self._tails_sent + 1)]
        if self._head_write is not None:
            # The head write may have landed after its caller gave up: remove it first.
            names.insert(0, self._blob_id)
        codes = await asyncio.gather(*(self._store._remove(name) for name in names))
        failed = [code for code in codes if code < 0 and code != -errno.ENOENT]
        if failed:
            _log.warning(
                "blob %s: %d stripes left for the sweeper (%s)",
                self._blob_id,
                len(failed),
                os.strerror(-failed[0]),
            )
