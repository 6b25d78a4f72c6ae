"""Blobs as files on local disk: one file per blob, written aside, fsynced, renamed into place.

Layout under ``root``: ``blobs/abc/<blob_id>`` (4,096 directories named by the id's first three
hex characters: 25,000 files each at 100 million blobs, which ext4 and XFS index well) and
``tmp/<blob_id>.<nonce>`` for blobs being written. The first layout had two levels (65,536 leaf
directories): on a young store nearly every PUT created a directory and fsynced its parent, about
a millisecond more per small PUT (docs/decisions/0005-local-blob-layout.md).

A read of a blob whose first block the page cache holds (a hot small object) opens the file
and reads that block on the event loop, with ``preadv(..., RWF_NOWAIT)``, which fails at once
rather than wait for the disk: a thread hop cost a 4 KiB GET more CPU than its system calls.
Blocks that must come from the disk, and the blocks after the first, are read in a worker
thread (docs/decisions/0025-small-request-cpu-2.md).

A writer buffers and hands the file system blocks of about 1 MiB in a worker thread;
:meth:`LocalBlobWriter.commit` writes what is left, fsyncs the file, renames it into place and
fsyncs the directory, all in one thread hop, so a small blob (the 4 KiB PUT of the benchmark)
costs exactly one ``asyncio.to_thread`` call in total. Blob ids come from the service (uuid4 hex);
only safe file-name characters are accepted.

Error messages name paths under the data directory: they are for operators' logs, never for
clients (the S3 layer answers ``InternalError`` with a request id).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import re
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from andromede.storage.errors import BlobError

__all__ = ["WRITE_BLOCK_SIZE", "LocalBlobStore", "LocalBlobWriter"]

WRITE_BLOCK_SIZE = 1024 * 1024
_BLOB_ID = re.compile(r"[A-Za-z0-9_-]{4,128}")
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_SMALL_CHUNK = 16 * 1024
_SMALL_BATCH = 64 * 1024
_IOV_MAX = 1024  # POSIX guarantees at least 16; Linux allows 1024 buffers per writev
_DIR_MODE = 0o700
_FILE_MODE = 0o600
# A first block up to this size may be read on the event loop when cached: copying more from
# the page cache would hold the loop longer than a hop to a thread costs.
_INLINE_READ_MAX = 128 * 1024
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)


def _load_sync_file_range() -> Callable[[int], None] | None:
    """``sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`` where Linux has it.

    It starts writing the file's dirty pages back without waiting: a large blob reaches the disk
    while the rest of its body is still arriving, and the fsync at commit only waits for the
    tail instead of writing the whole object then (the fsync'd PUT of 64 MiB was bound by it
    when the disk was slow). Python does not expose the call; it is found through ctypes.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    sync_file_range_write = 2

    def start(fd: int) -> None:
        function(fd, 0, 0, sync_file_range_write)  # advisory: a failure only loses the overlap

    return start


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int) -> None:
    if _sync_file_range is not None:
        _sync_file_range(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobWriter:
    """Accumulates one blob in ``tmp/``; its file is created with the first block written."""

    def __init__(self, store: LocalBlobStore, blob_id: str) -> None:
        self._store = store
        self._blob_id = blob_id
        self._tmp_path = store._tmp_dir / f"{blob_id}.{secrets.token_hex(4)}"
        # Chunks as received, written with one writev per block: copying them into a 1 MiB
        # buffer first cost a fresh mapping and its page faults per block (measured: 40 % of a
        # 64 MiB PUT's CPU), for nothing the file system needs.
        # Chunks under _SMALL_CHUNK (a client trickling bytes) are gathered in a small buffer
        # first, so the list stays short whatever the sender does.
        self._pending: list[bytes | bytearray] = []
        self._pending_size = 0
        self._small = bytearray()
        self._fd: int | None = None
        self._done = False
        self._committed: Path | None = None  # set by the commit thread once renamed
        # Held by the worker thread while it uses the file, and by abort() before it closes
        # the descriptor: a cancelled write may still be running in its thread.
        self._lock = threading.Lock()

    async def write(self, data: bytes | bytearray) -> None:
        if self._done:
            raise BlobError(f"blob {self._blob_id}: write after the writer ended")
        if not data:
            return
        if len(data) < _SMALL_CHUNK:
            self._small += data
            if len(self._small) >= _SMALL_BATCH:
                self._flush_small()
        else:
            self._flush_small()
            self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= WRITE_BLOCK_SIZE:
            block = self._take_pending()
            await asyncio.to_thread(self._write_block, block)

    async def commit(self) -> None:
        if self._done:
            raise BlobError(f"blob {self._blob_id}: commit after the writer ended")
        block = self._take_pending()
        await asyncio.to_thread(self._commit, block)
        self._done = True

    async def abort(self) -> None:
        # Synchronous on purpose: abort runs while a task is being cancelled, where another
        # await could be interrupted; closing and unlinking a file are quick system calls.
        self._done = True
        self._take_pending()
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
            with contextlib.suppress(OSError):
                os.unlink(self._tmp_path)
            if self._committed is not None:
                # The commit's thread finished after its awaiting task was cancelled: the blob
                # is in place, but its caller gave up on it.
                with contextlib.suppress(OSError):
                    os.unlink(self._committed)
                self._committed = None

    # -- in worker threads ------------------------------------------------------------------
    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self._tmp_path, _OPEN_FLAGS, _FILE_MODE)
            except FileNotFoundError:
                self._store._ensure_dir(self._tmp_path.parent)
                self._fd = os.open(self._tmp_path, _OPEN_FLAGS, _FILE_MODE)
        return self._fd

    def _flush_small(self) -> None:
        if self._small:
            self._pending.append(bytes(self._small))
            self._small.clear()

    def _take_pending(self) -> list[bytes | bytearray]:
        self._flush_small()
        block, self._pending, self._pending_size = self._pending, [], 0
        return block

    def _write_all(self, fd: int, block: list[bytes | bytearray]) -> None:
        """writev the chunks, resuming after partial writes; at most IOV_MAX buffers a call."""
        buffers: list[bytes | bytearray | memoryview] = list(block)
        first = 0
        while first < len(buffers):
            written = os.writev(fd, buffers[first : first + _IOV_MAX])
            while written:
                size = len(buffers[first])
                if written >= size:
                    written -= size
                    first += 1
                else:
                    buffers[first] = memoryview(buffers[first])[written:]
                    written = 0

    def _write_block(self, block: list[bytes | bytearray]) -> None:
        with self._lock:
            if self._done:
                return
            try:
                fd = self._open()
                self._write_all(fd, block)
                if self._store.fsync:
                    _start_writeback(fd)
            except OSError as exc:
                raise BlobError(f"blob {self._blob_id}: cannot write {self._tmp_path}") from exc

    def _commit(self, block: list[bytes | bytearray]) -> None:
        with self._lock:
            if self._done:
                raise BlobError(f"blob {self._blob_id}: writer aborted")
            final = self._store._blob_path(self._blob_id)
            try:
                fd = self._open()
                self._write_all(fd, block)
                if self._store.fsync:
                    os.fsync(fd)
                os.close(fd)
                self._fd = None
                self._store._ensure_dir(final.parent)
                os.rename(self._tmp_path, final)
                self._committed = final
                if self._store.fsync:
                    _fsync_dir(final.parent)
            except OSError as exc:
                if self._fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(self._fd)
                    self._fd = None
                with contextlib.suppress(OSError):
                    os.unlink(self._tmp_path)
                raise BlobError(f"blob {self._blob_id}: cannot commit to {final}") from exc


class _NotCached:
    """What :meth:`LocalBlobStore._read_cached` answers when the disk must be waited for."""


_NOT_CACHED = _NotCached()


class _OpenBlob:
    """A blob file opened for reading; pread keeps no shared offset, the lock guards open and
    close. Closing before the (threaded) open has happened makes that open close at once."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.closed = False
        self.lock = threading.Lock()

    def adopt(self, fd: int) -> None:
        with self.lock:
            if self.closed:  # the reader gave up (cancelled) while the file was being opened
                os.close(fd)
                raise BlobError("blob read cancelled while opening")
            self.fd = fd

    def pread(self, length: int, offset: int) -> bytes:
        with self.lock:
            if self.fd is None:
                return b""
            return os.pread(self.fd, length, offset)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


class LocalBlobStore:
    def __init__(self, root: Path, *, fsync: bool) -> None:
        self.root = root
        self.fsync = fsync
        self._blobs_dir = root / "blobs"
        self._blobs_prefix = f"{self._blobs_dir}{os.sep}"  # paths by concatenation on reads
        self._tmp_dir = root / "tmp"
        self._known_dirs: set[Path] = set()
        self._dirs_lock = threading.Lock()

    async def create(self, blob_id: str) -> LocalBlobWriter:
        self._check_id(blob_id)
        return LocalBlobWriter(self, blob_id)

    def prepare_layout(self) -> int:
        """Create the 4,096 blob directories that uuid-hex ids fall into, once; returns how many
        were missing. Blocking (call it at start-up).

        Created lazily, the first PUT into each directory also paid a mkdir and an fsync of the
        parent: on a young store most small PUTs did (an eighth of a 4 KiB PUT's time in the
        profile of the benchmark). Created here, one fsync of the parent covers them all.
        """
        self._ensure_dir(self._tmp_dir)
        self._ensure_dir(self._blobs_dir)
        existing = set(os.listdir(self._blobs_dir))
        created = 0
        for index in range(16**3):
            name = f"{index:03x}"
            if name not in existing:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(self._blobs_dir / name, _DIR_MODE)
                    created += 1
        if created and self.fsync:
            _fsync_dir(self._blobs_dir)
        with self._dirs_lock:
            self._known_dirs.update(self._blobs_dir / f"{i:03x}" for i in range(16**3))
        return created

    async def read(
        self, blob_id: str, offset: int, length: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        self._check_id(blob_id)
        if offset < 0 or length < 0 or chunk_size <= 0:
            raise BlobError(f"blob {blob_id}: bad range {offset}+{length} / {chunk_size}")
        end = offset + length
        loop = asyncio.get_running_loop()
        blob = _OpenBlob()
        first_length = min(chunk_size, length)
        try:
            data: bytes | _NotCached | None = self._read_cached(
                blob, blob_id, end, offset, first_length
            )
            if isinstance(data, _NotCached):
                # Opening the file (unless done above) and reading its first block share one
                # thread hop: most GETs are served by that block.
                data = await loop.run_in_executor(
                    None, self._open_for_read, blob, blob_id, end, offset, first_length
                )
        except BaseException:
            blob.close()  # also when cancelled while the thread still opens the file
            raise
        position = offset
        pending: asyncio.Future[bytes] | None = None
        try:
            while data is not None:
                if not data:
                    raise BlobError(f"blob {blob_id}: shorter than expected at {position}")
                position += len(data)
                if position < end:
                    # Read ahead: the next block comes off the disk while this one is sent.
                    pending = loop.run_in_executor(
                        None, blob.pread, min(chunk_size, end - position), position
                    )
                yield data
                data = None
                if pending is not None:
                    data = await pending
                    pending = None
        finally:
            if pending is not None:
                pending.cancel()
            # Waits for a read-ahead still running in its thread (at most one block).
            blob.close()

    async def delete(self, blob_id: str) -> None:
        self._check_id(blob_id)
        path = self._blob_path(blob_id)
        try:
            await asyncio.to_thread(os.unlink, path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BlobError(f"blob {blob_id}: cannot delete {path}") from exc

    async def list_blobs(self, older_than: datetime) -> AsyncIterator[str]:
        limit = older_than.timestamp()
        # One thread hop per directory: bounded memory, few hops.
        directories = await asyncio.to_thread(self._subdirs, self._blobs_dir)
        for directory in directories:
            for blob_id in await asyncio.to_thread(self._old_files_in, directory, limit):
                yield blob_id

    async def remove_stale_temporaries(self, older_than: datetime) -> int:
        return await asyncio.to_thread(self._remove_stale_temporaries, older_than.timestamp())

    # -- helpers (some in worker threads) ---------------------------------------------------
    def _check_id(self, blob_id: str) -> None:
        if not _BLOB_ID.fullmatch(blob_id):
            raise BlobError(f"invalid blob id {blob_id!r}")

    def _blob_path(self, blob_id: str) -> Path:
        return self._blobs_dir / blob_id[:3] / blob_id

    def _ensure_dir(self, path: Path) -> None:
        """Create ``path`` and missing parents, fsyncing each parent that gained an entry."""
        if path in self._known_dirs:
            return
        missing: list[Path] = []
        current = path
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for directory in reversed(missing):
            try:
                os.mkdir(directory, _DIR_MODE)
            except FileExistsError:
                continue
            if self.fsync:
                _fsync_dir(directory.parent)
        with self._dirs_lock:
            self._known_dirs.add(path)

    def _read_cached(
        self, blob: _OpenBlob, blob_id: str, needed: int, offset: int, first_length: int
    ) -> bytes | _NotCached | None:
        """On the event loop: :meth:`_open_for_read` if the first block is small and in the page
        cache; ``_NOT_CACHED`` when it must come from the disk (or the file system cannot say),
        the file then possibly open already in ``blob``.

        The open itself is not guarded: it reads the blob's directory entry and inode, which a
        hot object has in the cache as SQLite's pages are (docs/decisions/0003)."""
        if _RWF_NOWAIT is None or first_length > _INLINE_READ_MAX:
            return _NOT_CACHED
        fd = self._open_checked(blob, blob_id, needed)
        if first_length <= 0:
            return None
        buffer = bytearray(first_length)
        try:
            count = os.preadv(fd, [buffer], offset, _RWF_NOWAIT)
        except OSError as exc:
            # EAGAIN: not (all) in the cache. EOPNOTSUPP: a file system without RWF_NOWAIT.
            if exc.errno in (errno.EAGAIN, errno.EOPNOTSUPP, errno.EINVAL):
                return _NOT_CACHED
            raise BlobError(f"blob {blob_id}: cannot read {self._blob_path(blob_id)}") from exc
        if count < first_length:  # partly cached: the thread reads the block whole
            return _NOT_CACHED
        return bytes(buffer)  # a copy of at most _INLINE_READ_MAX bytes (a fraction of a µs)

    def _open_for_read(
        self, blob: _OpenBlob, blob_id: str, needed: int, offset: int, first_length: int
    ) -> bytes | None:
        """Open the blob into ``blob`` unless it is open already (it must be ``needed`` bytes
        long at least) and return its first ``first_length`` bytes from ``offset`` (None:
        nothing to read)."""
        if blob.fd is None:
            self._open_checked(blob, blob_id, needed)
        return blob.pread(first_length, offset) if first_length > 0 else None

    def _open_checked(self, blob: _OpenBlob, blob_id: str, needed: int) -> int:
        """Open the blob into ``blob``, checking it holds ``needed`` bytes at least."""
        # _blob_path as a string: pathlib's joins cost more than the open on a small GET.
        path = f"{self._blobs_prefix}{blob_id[:3]}{os.sep}{blob_id}"
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError as exc:
            raise BlobError(f"blob {blob_id} is missing ({path})") from exc
        except OSError as exc:
            raise BlobError(f"blob {blob_id}: cannot open {path}") from exc
        try:
            size = os.fstat(fd).st_size
        except OSError as exc:
            os.close(fd)
            raise BlobError(f"blob {blob_id}: cannot read {path}") from exc
        if needed > size:
            os.close(fd)
            raise BlobError(f"blob {blob_id}: {needed} bytes wanted, {size} stored ({path})")
        blob.adopt(fd)
        return fd

    @staticmethod
    def _subdirs(path: Path) -> list[Path]:
        try:
            with os.scandir(path) as entries:
                return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []

    @staticmethod
    def _old_files_in(directory: Path, limit: float) -> list[str]:
        found: list[str] = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    modified = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:  # deleted meanwhile
                    continue
                if modified < limit and _BLOB_ID.fullmatch(entry.name):
                    found.append(entry.name)
        return found

    def _remove_stale_temporaries(self, limit: float) -> int:
        removed = 0
        try:
            entries = list(os.scandir(self._tmp_dir))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_mtime < limit:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise BlobError(f"cannot remove stale temporary {entry.path}") from exc
        return removed

    # -- for tests ------------------------------------------------------------------------
    def blob_ids(self) -> set[str]:
        """Every committed blob id (tests use it to check that nothing was left behind)."""
        return {p.name for p in self._blobs_dir.glob("*/*") if p.is_file()}

    def temporary_count(self) -> int:
        return sum(1 for _ in self._tmp_dir.glob("*")) if self._tmp_dir.is_dir() else 0
