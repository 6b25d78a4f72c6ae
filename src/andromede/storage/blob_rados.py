"""Blobs in a Ceph RADOS pool through librados (Debian's ``python3-rados``), striped.

Layout of blob ``X`` with stripe size ``S`` (docs/decisions/0008-librados-in-venv.md):

- the *head*, RADOS object ``X``: bytes ``[0, S)`` of the blob, and an xattr
  ``andromede.blob`` = ``{"format": 1, "size": …, "stripe_size": S}``;
- the *tails*, RADOS objects ``X.1``, ``X.2``, …: bytes ``[kS, (k+1)S)``.

A writer sends each full tail as soon as it has it (at most ``writes_in_flight`` of them in
flight per blob) and keeps the first stripe in memory; :meth:`RadosBlobWriter.commit` waits for
every tail's acknowledgement (durable on the OSDs, in Ceph's sense), checks that none was swept
meanwhile, then writes the head, data and xattr in one atomic operation. A head therefore
exists only for a complete blob: it is the commit marker, and a blob of up to ``S`` bytes costs
one RADOS write. Tails without a head are temporaries (a writer still running or crashed, or a
deleted blob); :meth:`RadosBlobStore.remove_stale_temporaries` removes those older than the
sweeper's grace.

:meth:`RadosBlobStore.delete` removes the head only: the blob disappears at once and its tails
follow at the sweeper's next pass. A read fetches the part of its range that the head holds
before it yields anything, and the tails stay until the sweeper runs, so a read that started
before a deletion finishes (the unlink semantics of the local store, bounded by the sweep
interval; the service's deletion grace is what GETs rely on). A range within one stripe is one
RADOS read, a larger one also stats the head and its last tail first.

I/O is asynchronous: librados completions resolve asyncio futures through
``loop.call_soon_threadsafe``; no thread waits on the network. librados calls completions on
its own threads, which Python does not know: each callback would make a Python thread state
and drop it again (see :func:`_keep_thread_state`), so the first callback on each such thread
keeps one for the thread's life. Only connecting and object
listings (for the sweeper) run in worker threads. Every operation has librados' own timeouts
(``rados_osd_op_timeout``, ``rados_mon_op_timeout``): a cluster that does not answer gives
:class:`BlobStoreUnavailable`, never a hang.

Recovery: a librados client does not always find its way back to a cluster whose daemons all
died at once (its reads keep timing out after the cluster is back). So an operation that fails
as "cluster away" (timed out, not connected, shut down) makes :class:`RadosCluster` drop its
client and connect a new one, retrying with a growing delay until the cluster answers, then
reopen every store's pool on it. Meanwhile operations fail at once with
:class:`BlobStoreUnavailable` (S3 answers 503) instead of waiting out a timeout each. The old
client is shut down once the operations still in flight on it have had their timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import itertools
import json
import logging
import math
import os
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import rados

from andromede.storage.errors import BlobError, BlobStoreUnavailable

__all__ = [
    "DEFAULT_READ_BLOCK_SIZE",
    "DEFAULT_STRIPE_SIZE",
    "RadosBlobStore",
    "RadosBlobWriter",
    "RadosCluster",
    "RadosConfig",
]

DEFAULT_STRIPE_SIZE = 4 * 1024 * 1024
DEFAULT_READ_BLOCK_SIZE = 1024 * 1024
_BLOB_ID = re.compile(r"[A-Za-z0-9_-]{4,128}")
_TAIL = re.compile(r"([A-Za-z0-9_-]{4,128})\.([1-9][0-9]{0,9})")
_XATTR = "andromede.blob"
_FORMAT = 1
_LIST_BATCH = 1000
_STAT_CONCURRENCY = 64
_UNAVAILABLE = {errno.ETIMEDOUT, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNREFUSED}
# A replacement this long after the previous one starts its back-off afresh.
_RECONNECT_CALM = 60.0
_DEFAULT_RECONNECT_DELAY = 0.5

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RadosConfig:
    """How to reach the cluster: a ceph.conf, a keyring and a cephx user (``client.<id>``)."""

    conf_file: Path
    keyring: Path | None = None
    user: str = "client.admin"
    connect_timeout: float = 10.0
    op_timeout: float = 30.0
    # Seconds between attempts to connect a new client: doubled after each failure, up to
    # the cap (settings ceph_reconnect_delay and ceph_reconnect_delay_max).
    reconnect_delay: float = _DEFAULT_RECONNECT_DELAY
    reconnect_delay_max: float = 15.0


def _failure(blob_id: str, what: str, code: int) -> BlobError:
    """A BlobError for a negative librados return code; timeouts mean the cluster is away."""
    err = -code
    text = f"blob {blob_id}: {what}: {os.strerror(err)} (errno {err})"
    if err in _UNAVAILABLE:
        return BlobStoreUnavailable(text)
    return BlobError(text)


def _translate(exc: rados.Error, what: str) -> BlobError:
    if isinstance(exc, rados.TimedOut | rados.NotConnected | rados.ConnectionShutdown):
        return BlobStoreUnavailable(f"{what}: {exc}")
    return BlobError(f"{what}: {exc}")


class RadosCluster:
    """One librados client for the process, shared by the blob stores of every pool; replaced
    by a new one when the cluster looks gone (see "Recovery" in the module docstring)."""

    def __init__(self, client: Any, config: RadosConfig | None = None) -> None:
        self._client = client
        self._config = config
        self._stores: weakref.WeakSet[RadosBlobStore] = weakref.WeakSet()
        self._reconnecting: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()
        self._closed = False
        self.reconnections = 0  # how many times a new client took over (logs, tests)
        # The back-off carries over from one replacement to the next when they come close
        # together (an OSD frozen, not dead, times out again on every new client).
        self._delay = config.reconnect_delay if config else _DEFAULT_RECONNECT_DELAY
        self._last_reconnected = -math.inf

    @classmethod
    async def connect(cls, config: RadosConfig) -> RadosCluster:
        """Connect, or BlobStoreUnavailable after ``connect_timeout`` seconds."""
        return cls(await _connect_client(config), config)

    async def blob_store(
        self,
        pool: str,
        *,
        namespace: str = "",
        stripe_size: int = DEFAULT_STRIPE_SIZE,
        writes_in_flight: int = 4,
        reads_in_flight: int = 4,
        read_block_size: int = DEFAULT_READ_BLOCK_SIZE,
    ) -> RadosBlobStore:
        """A blob store on ``pool`` (BlobError if the pool does not exist)."""
        ioctx = await _open_ioctx(self._client, pool, namespace)
        store = RadosBlobStore(
            ioctx,
            stripe_size=stripe_size,
            writes_in_flight=writes_in_flight,
            reads_in_flight=reads_in_flight,
            read_block_size=read_block_size,
            namespace=namespace,
            on_unavailable=self._cluster_away if self._config is not None else None,
        )
        self._stores.add(store)
        return store

    async def blob_stores_by_region(
        self, pools: Mapping[str, str], **options: Any
    ) -> dict[str, RadosBlobStore]:
        """One store per region, from a region → pool mapping: a region's data stays in its
        pool."""
        return {region: await self.blob_store(pool, **options) for region, pool in pools.items()}

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        for store in list(self._stores):
            await store.close()
        self._stores.clear()
        for task in list(self._retired):
            task.cancel()
        await asyncio.to_thread(self._client.shutdown)

    # -- recovery -----------------------------------------------------------------------------
    def _cluster_away(self) -> None:
        """An operation found the cluster away: replace the client (once at a time)."""
        config = self._config
        if config is None or self._closed or self._reconnecting is not None:
            return
        _log.warning("the Ceph cluster does not answer: connecting a new librados client")
        old = self._client
        stores = list(self._stores)
        # Fail fast from now on: requests get 503 at once while the new client connects.
        retired = [store._detach() for store in stores]
        self._reconnecting = asyncio.ensure_future(self._reconnect(config, stores))
        self._retire(old, [ioctx for ioctx in retired if ioctx is not None], config.op_timeout)

    async def _reconnect(self, config: RadosConfig, stores: list[RadosBlobStore]) -> None:
        if time.monotonic() - self._last_reconnected > _RECONNECT_CALM:
            self._delay = config.reconnect_delay
        else:
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, config.reconnect_delay_max)
        try:
            while True:
                try:
                    client = await _connect_client(config)
                except BlobError as exc:
                    _log.info("Ceph still away (%s); next try in %.1f s", exc, self._delay)
                else:
                    try:
                        ioctxs = [await _open_ioctx(client, s.pool, s.namespace) for s in stores]
                    except BlobError as exc:
                        _log.info(
                            "Ceph pools not open yet (%s); next try in %.1f s", exc, self._delay
                        )
                        await asyncio.to_thread(client.shutdown)
                    else:
                        self._client = client
                        for store, ioctx in zip(stores, ioctxs, strict=True):
                            store._attach(ioctx)
                        self.reconnections += 1
                        self._last_reconnected = time.monotonic()
                        _log.warning("a new librados client is connected to the Ceph cluster")
                        return
                await asyncio.sleep(self._delay)
                self._delay = min(self._delay * 2, config.reconnect_delay_max)
        finally:
            self._reconnecting = None

    def _retire(self, client: Any, ioctxs: list[Any], op_timeout: float) -> None:
        """Shut the old client down once what is still in flight on it had its timeout:
        librados then has called every completion, and no caller waits on it any more."""
        grace = op_timeout + 5.0

        async def shut_down() -> None:
            await asyncio.sleep(grace)
            for ioctx in ioctxs:
                with contextlib.suppress(rados.Error):
                    await asyncio.to_thread(ioctx.close)
            with contextlib.suppress(rados.Error):
                await asyncio.to_thread(client.shutdown)

        task = asyncio.ensure_future(shut_down())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)


async def _connect_client(config: RadosConfig) -> Any:
    """A connected librados client, or BlobStoreUnavailable after ``connect_timeout``."""
    # librados takes whole seconds here. The binding ignores connect()'s own timeout
    # argument: client_mount_timeout is what bounds the connection.
    op_timeout = str(max(1, math.ceil(config.op_timeout)))
    options = {
        "rados_osd_op_timeout": op_timeout,
        "rados_mon_op_timeout": op_timeout,
        "client_mount_timeout": str(max(1, math.ceil(config.connect_timeout))),
    }
    if config.keyring is not None:
        options["keyring"] = str(config.keyring)
    try:
        client = rados.Rados(conffile=str(config.conf_file), name=config.user, conf=options)
    except rados.Error as exc:
        raise BlobError(f"cannot configure librados from {config.conf_file}: {exc}") from exc
    try:
        await asyncio.to_thread(client.connect)
    except rados.Error as exc:
        await asyncio.to_thread(client.shutdown)
        raise BlobStoreUnavailable(
            f"cannot connect to the Ceph cluster of {config.conf_file} as {config.user}: {exc}"
        ) from exc
    return client


async def _open_ioctx(client: Any, pool: str, namespace: str) -> Any:
    try:
        ioctx = await asyncio.to_thread(client.open_ioctx, pool)
    except rados.Error as exc:
        raise _translate(exc, f"cannot open pool {pool}") from exc
    ioctx.set_namespace(namespace)
    return ioctx


_kept = threading.local()
_gil_state_ensure = ctypes.pythonapi.PyGILState_Ensure


def _keep_thread_state() -> None:
    """Keep the calling librados thread's Python thread state for the thread's life.

    The binding runs each completion callback under ``PyGILState_Ensure``/``Release``. On a
    thread Python did not start, that makes a thread state and destroys it again on every
    callback, and on Python 3.11 each one maps (``mmap``) and unmaps a 16 KiB frame stack:
    a TLB shoot-down of every core per RADOS operation, about a third of the completion
    thread's CPU on a 4 KiB GET (docs/decisions/0027-rados-small-gets.md). One more
    ``PyGILState_Ensure`` that is never released keeps the count above zero, so later
    callbacks reuse the state. librados' threads live as long as its client (a handful per
    client); the state of a thread that ends with a replaced client stays allocated (a few
    KiB, once per replacement).
    """
    if getattr(_kept, "state", False):
        return
    _gil_state_ensure()  # the GIL is held: only the thread state's count goes up
    _kept.state = True


def _set_result(
    future: asyncio.Future[Any], value: Any, store: RadosBlobStore | None, ioctx: Any
) -> None:
    """On the loop: resolve an operation's future, then let ``store`` (if it watches for the
    cluster going away) judge the result of an operation run on ``ioctx``."""
    if future.done():  # the awaiting task was cancelled: nobody reads this result
        return
    future.set_result(value)
    if store is not None and ioctx is not None:
        store._watch(value, ioctx)


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


def _next_batch(objects: Any) -> list[str]:
    return [obj.key for obj in itertools.islice(objects, _LIST_BATCH)]
