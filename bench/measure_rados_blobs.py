"""Measure RadosBlobStore against raw RADOS on the same cluster (docs/decisions/0008).

    .venv/bin/python bench/measure_rados_blobs.py DIR [--blobs 8] [--size-mib 64]

DIR is a cluster made by scripts/ceph-cluster.sh (bluestore for figures that mean something).
Prints one line per measurement: 64 MiB blobs written then read one at a time through the store
(asynchronous librados completions, and the same store driving synchronous librados calls from
worker threads, the alternative the decision weighed), 4 KiB blobs one at a time and 32 at
once, then ``rados bench`` (4 MiB objects, 4 in flight) and ``rados put``/``get`` of a 64 MiB
file for the raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import rados

from andromede.storage.blob_rados import RadosBlobStore, RadosCluster, RadosConfig

MIB = 1024 * 1024


class ThreadedRadosBlobStore(RadosBlobStore):
    """The same store, each librados call synchronous in a worker thread."""

    def _write_full(self, name: str, data: bytes) -> asyncio.Future[int]:
        return asyncio.ensure_future(
            asyncio.to_thread(self._sync_code, self._ioctx.write_full, name, data)
        )

    def _write_head(self, name: str, data: bytes, meta: bytes) -> asyncio.Future[int]:
        def write() -> int:
            op = self._ioctx.create_write_op()
            try:
                op.write_full(data)
                op.set_xattr("andromede.blob", meta)
                self._ioctx.operate_write_op(op, name, mtime=int(time.time()))
            finally:
                self._ioctx.release_write_op(op)
            return 0

        return asyncio.ensure_future(asyncio.to_thread(self._sync_code, write))

    def _read(self, name: str, offset: int, length: int) -> asyncio.Future[tuple[int, bytes]]:
        def read() -> tuple[int, bytes]:
            try:
                data = self._ioctx.read(name, length, offset)
            except rados.Error as exc:
                return -(exc.errno or 5), b""
            return len(data), data

        return asyncio.ensure_future(asyncio.to_thread(read))

    def _stat(self, name: str) -> asyncio.Future[tuple[int, int, float]]:
        def stat() -> tuple[int, int, float]:
            try:
                size, mtime = self._ioctx.stat(name)
            except rados.Error as exc:
                return -(exc.errno or 5), 0, 0.0
            return 0, size, time.mktime(mtime)

        return asyncio.ensure_future(asyncio.to_thread(stat))

    @staticmethod
    def _sync_code(call: Any, *args: Any) -> int:
        try:
            call(*args)
        except rados.Error as exc:
            return -(exc.errno or 5)
        return 0


async def big_blobs(store: RadosBlobStore, count: int, size: int) -> tuple[float, float]:
    body = os.urandom(MIB)
    ids = [uuid.uuid4().hex for _ in range(count)]
    started = time.perf_counter()
    for blob_id in ids:
        writer = await store.create(blob_id)
        for _ in range(size // MIB):
            await writer.write(body)
        await writer.commit()
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    for blob_id in ids:
        async for _ in store.read(blob_id, 0, size, 256 * 1024):
            pass
    read_s = time.perf_counter() - started
    for blob_id in ids:
        await store.delete(blob_id)
    await store.remove_stale_temporaries(_far_future())
    mib = count * size / MIB
    return mib / write_s, mib / read_s


def _far_future() -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(days=1)


async def small_blobs(store: RadosBlobStore, count: int, parallel: int) -> tuple[float, float]:
    body = os.urandom(4096)
    ids = [uuid.uuid4().hex for _ in range(count)]
    semaphore = asyncio.Semaphore(parallel)

    async def put(blob_id: str) -> None:
        async with semaphore:
            writer = await store.create(blob_id)
            await writer.write(body)
            await writer.commit()

    async def get(blob_id: str) -> None:
        async with semaphore:
            async for _ in store.read(blob_id, 0, 4096, 256 * 1024):
                pass

    started = time.perf_counter()
    await asyncio.gather(*(put(i) for i in ids))
    put_s = time.perf_counter() - started
    started = time.perf_counter()
    await asyncio.gather(*(get(i) for i in ids))
    get_s = time.perf_counter() - started
    for blob_id in ids:
        await store.delete(blob_id)
    return count / put_s, count / get_s


def raw_figures(directory: Path, pool: str, size: int) -> None:
    base = ["--conf", str(directory / "ceph.conf"), "--name", "client.admin"]
    base += ["--keyring", str(directory / "ceph.client.admin.keyring"), "--pool", pool]
    for mode in ("write", "seq"):
        args = ["rados", *base, "bench", "5", mode, "-t", "4"]
        if mode == "write":
            args += ["-b", str(4 * MIB), "--no-cleanup"]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        bandwidth = re.search(r"Bandwidth \(MB/sec\):\s+([\d.]+)", out)
        figure = bandwidth.group(1) if bandwidth else "?"
        print(f"rados bench {mode:5} 4 MiB objects, 4 in flight: {figure} MB/s")
    subprocess.run(["rados", *base, "cleanup"], capture_output=True, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "blob"
        source.write_bytes(os.urandom(size))
        started = time.perf_counter()
        subprocess.run(["rados", *base, "put", "measure-put", str(source)], check=True)
        put_s = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run(["rados", *base, "get", "measure-put", str(Path(tmp) / "back")], check=True)
        get_s = time.perf_counter() - started
        subprocess.run(["rados", *base, "rm", "measure-put"], check=True)
    mib = size / MIB
    print(
        f"rados put/get one {size // MIB} MiB object: {mib / put_s:.0f} / {mib / get_s:.0f} MiB/s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--pool", default="andromede")
    parser.add_argument("--blobs", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mib * MIB
    config = RadosConfig(
        conf_file=args.directory / "ceph.conf",
        keyring=args.directory / "ceph.client.andromede.keyring",
        user="client.andromede",
    )
    cluster = await RadosCluster.connect(config)
    namespace = f"measure-{uuid.uuid4().hex[:8]}"
    aio = await cluster.blob_store(args.pool, namespace=namespace)
    threaded = ThreadedRadosBlobStore(aio._ioctx)
    for _ in range(args.rounds):
        for name, store in (("aio", aio), ("threads", threaded)):
            write, read = await big_blobs(store, args.blobs, size)
            label = f"store/{name:7}"
            print(f"{label} {args.size_mib} MiB blobs: write {write:.0f}, read {read:.0f} MiB/s")
            for parallel in (1, 32):
                put, get = await small_blobs(store, 2000, parallel)
                print(
                    f"{label} 4 KiB blobs, {parallel:2} at once: PUT {put:.0f}/s, GET {get:.0f}/s"
                )
    await cluster.close()
    raw_figures(args.directory, args.pool, size)


if __name__ == "__main__":
    asyncio.run(main())
