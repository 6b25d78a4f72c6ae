"""Local-disk specifics: the on-disk layout and the thread hops of the small PUT and GET."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from andromede.app import open_blob_stores
from andromede.settings import Settings
from andromede.storage import blob_local
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.errors import BlobError


async def test_layout_is_one_level_of_4096_directories(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=True)
    writer = await blobs.create("abcdef0123")
    await writer.write(b"x" * 10)
    await writer.commit()
    path = tmp_path / "blobs" / "abc" / "abcdef0123"
    assert path.read_bytes() == b"x" * 10
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list((tmp_path / "tmp").iterdir()) == []


async def test_a_small_blob_costs_one_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=True)
    hops: list[str] = []
    real = asyncio.to_thread

    async def counting(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    writer = await blobs.create("0123456789abcdef")
    for _ in range(4):
        await writer.write(b"y" * 1024)
    await writer.commit()
    assert hops == ["_commit"]
    assert (tmp_path / "blobs/012/0123456789abcdef").stat().st_size == 4096


@pytest.mark.parametrize("blob_id", ["../../etc", "ab", "a/bcd", "abcd\n", ""])
async def test_unsafe_blob_ids_are_refused(tmp_path: Path, blob_id: str) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=False)
    with pytest.raises(BlobError):
        await blobs.create(blob_id)
    with pytest.raises(BlobError):
        await blobs.delete(blob_id)


async def test_cancelled_write_then_abort_leaves_nothing(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=False)
    writer = await blobs.create("0123abcd")
    task = asyncio.create_task(writer.write(b"z" * (3 * 1024 * 1024)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.abort()
    await asyncio.sleep(0.05)  # let a block write still running in its thread finish
    assert list((tmp_path / "tmp").glob("*")) == []
    assert list(tmp_path.glob("blobs/*/*/*")) == []


async def test_any_mix_of_chunk_sizes_lands_in_order(tmp_path: Path) -> None:
    # Tiny chunks (a trickling client) are gathered, large ones written as they came: the file
    # must hold every byte in order either way, across several 1 MiB blocks.
    import random

    rng = random.Random(7)
    blobs = LocalBlobStore(tmp_path, fsync=False)
    writer = await blobs.create("mixedchunks0001")
    expected = bytearray()
    for _ in range(400):
        size = rng.choice([1, 7, 100, 5000, 16 * 1024, 70_000, 300_000])
        chunk = rng.randbytes(size)
        expected += chunk
        await writer.write(chunk)
    await writer.commit()
    path = tmp_path / "blobs" / "mix" / "mixedchunks0001"
    assert path.read_bytes() == bytes(expected)


def test_prepare_layout_creates_every_hex_directory_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "objects", fsync=True)
    assert store.prepare_layout() == 4096
    names = sorted(p.name for p in (tmp_path / "objects" / "blobs").iterdir())
    assert names[0] == "000" and names[-1] == "fff" and len(names) == 4096
    assert (tmp_path / "objects" / "tmp").is_dir()
    assert LocalBlobStore(tmp_path / "objects", fsync=True).prepare_layout() == 0


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loop = asyncio.get_running_loop()
    hops: list[str] = []
    real = loop.run_in_executor

    def counting(executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return real(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", counting)
    return hops


async def test_a_small_cached_read_costs_no_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=False)
    writer = await blobs.create("0123456789abcdef")
    await writer.write(b"y" * 5000)
    await writer.commit()  # just written: in the page cache
    hops = _count_hops(monkeypatch)
    read = [piece async for piece in blobs.read("0123456789abcdef", 100, 4900, 8192)]
    assert b"".join(read) == b"y" * 4900
    assert hops == []  # opened and read on the event loop
    read = [piece async for piece in blobs.read("0123456789abcdef", 0, 5000, 2048)]
    assert b"".join(read) == b"y" * 5000
    assert hops == ["pread", "pread"]  # the first block inline, the rest read ahead in threads


async def test_a_read_the_cache_cannot_serve_costs_one_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=False)
    writer = await blobs.create("0123456789abcdef")
    await writer.write(b"y" * 5000)
    await writer.commit()
    opened: list[int] = []
    real_open = os.open

    def counting_open(*args: Any, **kwargs: Any) -> int:
        opened.append(1)
        return real_open(*args, **kwargs)

    def would_block(*args: Any) -> int:
        raise BlockingIOError(errno.EAGAIN, "not in the page cache")

    monkeypatch.setattr(blob_local.os, "preadv", would_block)
    monkeypatch.setattr(blob_local.os, "open", counting_open)
    hops = _count_hops(monkeypatch)
    read = [piece async for piece in blobs.read("0123456789abcdef", 100, 4900, 8192)]
    assert b"".join(read) == b"y" * 4900
    assert hops == ["_open_for_read"]  # the first block in one hop, the file opened once
    assert len(opened) == 1
    hops.clear()
    monkeypatch.setattr(blob_local, "_RWF_NOWAIT", None)  # a system without RWF_NOWAIT
    read = [piece async for piece in blobs.read("0123456789abcdef", 0, 5000, 2048)]
    assert b"".join(read) == b"y" * 5000
    assert hops == ["_open_for_read", "pread", "pread"]  # open and first block in one hop


async def test_a_large_first_block_is_read_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=False)
    writer = await blobs.create("0123456789abcdef")
    size = blob_local._INLINE_READ_MAX + 1
    await writer.write(b"w" * size)
    await writer.commit()
    hops = _count_hops(monkeypatch)
    read = [piece async for piece in blobs.read("0123456789abcdef", 0, size, size)]
    assert b"".join(read) == b"w" * size
    assert hops == ["_open_for_read"]  # copying that much would hold the event loop


async def test_an_inline_read_of_a_missing_or_short_blob_fails(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, fsync=False)
    with pytest.raises(BlobError, match="missing"):
        await anext(blobs.read("0123456789abcdef", 0, 10, 1024))
    writer = await blobs.create("0123456789abcdef")
    await writer.write(b"v" * 10)
    await writer.commit()
    descriptors = len(list(Path("/proc/self/fd").iterdir()))
    with pytest.raises(BlobError, match="11 bytes wanted"):
        await anext(blobs.read("0123456789abcdef", 0, 11, 1024))
    assert len(list(Path("/proc/self/fd").iterdir())) == descriptors


async def test_a_read_cancelled_while_the_file_opens_leaks_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blob_local, "_RWF_NOWAIT", None)  # the file is opened in a thread
    blobs = LocalBlobStore(tmp_path, fsync=False)
    writer = await blobs.create("0123456789abcdef")
    await writer.write(b"z" * 10)
    await writer.commit()
    opened = asyncio.Event()
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    real_open = blobs._open_for_read
    descriptors = len(list(Path("/proc/self/fd").iterdir()))

    def slow_open(*args: Any) -> bytes | None:
        loop.call_soon_threadsafe(opened.set)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(timeout=10)
        return real_open(*args)

    blobs._open_for_read = slow_open  # type: ignore[method-assign]
    reader = blobs.read("0123456789abcdef", 0, 10, 1024)
    task = asyncio.ensure_future(anext(reader))
    await opened.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    for _ in range(100):  # the thread finishes its open after the cancellation
        await asyncio.sleep(0.01)
        if len(list(Path("/proc/self/fd").iterdir())) <= descriptors:
            break
    assert len(list(Path("/proc/self/fd").iterdir())) <= descriptors


@pytest.mark.parametrize("at_start", [True, False])
async def test_the_gateway_makes_the_blob_folders_at_start_unless_told_not_to(
    tmp_path: Path, at_start: bool
) -> None:
    settings = Settings(data_dir=tmp_path, blob_directories_at_start=at_start)
    blobs, close = await open_blob_stores(settings)
    assert close is None
    folder = settings.region_directory(settings.region) / "blobs"
    made = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert len(made) == (4096 if at_start else 0)
    # Either way a blob lands in its folder, made by its first write when not made before.
    writer = await blobs.store(settings.region).create("abcdef0123456789")
    await writer.write(b"data")
    await writer.commit()
    assert (folder / "abc").is_dir()
