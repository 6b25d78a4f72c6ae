"""What only the RADOS blob store has: stripes, the head as commit marker, pools, timeouts.

The cases common to every blob store are in ``test_blob_store.py``; these need a real Ceph
cluster (``tests/support/ceph.py``) and skip without one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import signal
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from andromede.storage.errors import BlobError, BlobStoreUnavailable
from support.ceph import CephCluster, fresh_store, start_cluster, stop_cluster
from support.server import free_port

if TYPE_CHECKING:
    # blob_rados imports rados, which may be missing: then the fixtures skip every case here
    # (a failure under ANDROMEDE_TEST_REQUIRE_ALL=1), where an import-time skip would not.
    from andromede.storage.blob_rados import RadosBlobStore, RadosCluster

STRIPE = 4096
MIB = 1024 * 1024


@pytest.fixture
async def store(rados_client: RadosCluster) -> AsyncIterator[RadosBlobStore]:
    # Read blocks of a few chunks that straddle stripes: chunking, blocks and stripes all meet.
    options = {"stripe_size": STRIPE, "read_block_size": 5000, "reads_in_flight": 3}
    async for fresh in fresh_store(rados_client, **options):
        yield fresh


async def put(store: RadosBlobStore, blob_id: str, data: bytes, step: int = 1000) -> None:
    writer = await store.create(blob_id)
    for start in range(0, len(data), step):
        await writer.write(data[start : start + step])
    await writer.commit()


async def read_all(
    store: RadosBlobStore, blob_id: str, offset: int, length: int, chunk: int
) -> bytes:
    return b"".join([c async for c in store.read(blob_id, offset, length, chunk)])


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        STRIPE - 1,
        STRIPE,
        STRIPE + 1,
        2 * STRIPE - 1,
        2 * STRIPE,
        2 * STRIPE + 1,
        5 * STRIPE + 7,
    ],
)
async def test_stripe_layout_at_the_boundaries(store: RadosBlobStore, size: int) -> None:
    data = os.urandom(size)
    await put(store, "blob0001", data, step=777)
    assert await read_all(store, "blob0001", 0, size, 1000) == data
    stripes = max(1, -(-size // STRIPE))
    expected = {"blob0001"} | {f"blob0001.{k}" for k in range(1, stripes)}
    assert set(store.object_names()) == expected
    head = store._ioctx.read("blob0001", STRIPE * 2)
    assert head == data[:STRIPE]
    meta = json.loads(store._ioctx.get_xattr("blob0001", "andromede.blob"))
    assert meta == {"format": 1, "size": size, "stripe_size": STRIPE}
    for k in range(1, stripes):
        assert store._ioctx.read(f"blob0001.{k}", STRIPE * 2) == data[k * STRIPE : (k + 1) * STRIPE]
    # The same bytes in one write, and in stripe-sized writes.
    for blob_id, step in (("blob0002", max(1, size)), ("blob0003", STRIPE)):
        await put(store, blob_id, data, step=step)
        assert await read_all(store, blob_id, 0, size, 1000) == data


async def test_completion_threads_keep_their_python_thread_state(
    store: RadosBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # librados calls completions on its own threads; each callback made and dropped a Python
    # thread state (an mmap and munmap of its frame stack) until the first one on a thread
    # kept it. Kept, the mark left in the thread's state survives to the next callback, so
    # the state is kept once per librados thread, not once per operation.
    from andromede.storage import blob_rados_ops

    kept: list[int] = []
    ensure = blob_rados_ops._gil_state_ensure

    def counted() -> int:
        kept.append(1)
        return int(ensure())

    monkeypatch.setattr(blob_rados_ops, "_gil_state_ensure", counted)
    monkeypatch.setattr(blob_rados_ops, "_kept", threading.local())  # as if no thread were kept
    await put(store, "kept0001", b"x" * 100)
    for _ in range(40):
        assert await read_all(store, "kept0001", 0, 100, 100) == b"x" * 100
    assert 1 <= len(kept) <= 8  # librados' completion threads, not the 41 operations


async def test_ranged_reads_across_stripes(store: RadosBlobStore) -> None:
    size = 5 * STRIPE + 100
    data = os.urandom(size)
    await put(store, "blob0001", data, step=3000)
    edges = [0, 1, STRIPE - 1, STRIPE, STRIPE + 1, 3 * STRIPE - 2, 5 * STRIPE, size - 1]
    for offset in edges:
        for end in {*edges, size}:
            if end < offset:
                continue
            for chunk in (1000, STRIPE, 5000):
                got = [c async for c in store.read("blob0001", offset, end - offset, chunk)]
                assert b"".join(got) == data[offset:end], (offset, end, chunk)
                # Chunks have the asked size (the last one excepted), whatever the stripes.
                assert all(len(c) == chunk for c in got[:-1])


async def test_read_past_the_end_fails_before_any_byte(store: RadosBlobStore) -> None:
    data = os.urandom(3 * STRIPE + 10)
    await put(store, "blob0001", data)
    for offset, length in [
        (0, len(data) + 1),
        (2 * STRIPE, STRIPE + 11),
        (4 * STRIPE, 1),
        (STRIPE - 1, 3 * STRIPE),
    ]:
        stream = store.read("blob0001", offset, length, 1024)
        with pytest.raises(BlobError):
            await anext(stream)


async def test_blobs_written_with_another_stripe_size_stay_readable(
    rados_client: RadosCluster, store: RadosBlobStore
) -> None:
    """The stripe size is a setting: a blob keeps the layout it was written with."""
    data = os.urandom(7 * STRIPE + 3)
    await put(store, "small001", data)
    wide = await rados_client.blob_store(
        store.pool, namespace=store._ioctx.get_namespace(), stripe_size=3 * STRIPE
    )
    try:
        await put(wide, "wide0001", data)
        for reader in (store, wide):
            for blob_id in ("small001", "wide0001"):
                assert await read_all(reader, blob_id, 0, len(data), 1500) == data
                assert (
                    await read_all(reader, blob_id, STRIPE + 5, 4 * STRIPE, 999)
                    == data[STRIPE + 5 : 5 * STRIPE + 5]
                )
    finally:
        await wide.close()


async def test_a_read_survives_deletion_until_the_sweep(store: RadosBlobStore) -> None:
    data = os.urandom(6 * STRIPE)
    await put(store, "blob0001", data)
    stream = store.read("blob0001", 0, len(data), 1024)
    first = await anext(stream)
    await store.delete("blob0001")
    assert store.blob_ids() == set()  # gone for everyone else at once
    with pytest.raises(BlobError):
        await anext(store.read("blob0001", 0, 1, 1024))
    rest = [c async for c in stream]
    assert first + b"".join(rest) == data
    # The tails are the sweeper's: fresh ones are kept (a writer might be running), then go.
    assert store.temporary_count() == 1
    now = datetime.now(UTC)
    assert await store.remove_stale_temporaries(now - timedelta(seconds=60)) == 0
    assert await store.remove_stale_temporaries(now + timedelta(seconds=5)) == 1
    assert store.object_names() == []


async def test_stale_sweep_spares_committed_blobs_and_running_writers(
    store: RadosBlobStore,
) -> None:
    await put(store, "done0001", os.urandom(4 * STRIPE))
    running = await store.create("busy0001")
    await running.write(os.urandom(3 * STRIPE))
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert await store.remove_stale_temporaries(datetime.now(UTC) - timedelta(seconds=60)) == 0
    assert len(store.object_names()) == 4 + 2  # done: head + 3 tails; busy: 2 tails sent
    assert await store.remove_stale_temporaries(later) == 1  # the writer's tail, by age
    assert set(store.object_names()) == {"done0001", "done0001.1", "done0001.2", "done0001.3"}
    with pytest.raises(BlobError, match="removed"):
        await running.commit()


async def test_abort_after_a_cancelled_commit_leaves_nothing(store: RadosBlobStore) -> None:
    writer = await store.create("blob0001")
    await writer.write(os.urandom(10 * STRIPE))
    commit = asyncio.ensure_future(writer.commit())
    await asyncio.sleep(0)
    commit.cancel()
    with pytest.raises(asyncio.CancelledError):
        await commit
    await writer.abort()
    assert store.object_names() == []


async def test_concurrent_writers(store: RadosBlobStore) -> None:
    blobs = {f"blob{i:04d}": os.urandom(random.randrange(0, 9 * STRIPE)) for i in range(24)}
    await asyncio.gather(*(put(store, blob_id, data, step=1500) for blob_id, data in blobs.items()))
    assert store.blob_ids() == set(blobs)
    for blob_id, data in blobs.items():
        assert await read_all(store, blob_id, 0, len(data), 4096) == data


async def test_list_blobs_sees_only_committed_heads(store: RadosBlobStore) -> None:
    await put(store, "blob0001", os.urandom(3 * STRIPE))
    writer = await store.create("blob0002")
    await writer.write(os.urandom(3 * STRIPE))
    future = datetime.now(UTC) + timedelta(seconds=5)
    assert [b async for b in store.list_blobs(future)] == ["blob0001"]
    await writer.abort()


@pytest.mark.slow
async def test_a_200_mib_blob_streams_in_bounded_memory(rados_client: RadosCluster) -> None:
    """Default 4 MiB stripes, 4 writes in flight: memory stays near 6 stripes, not 200 MiB."""
    async for store in fresh_store(rados_client):
        size = 200 * MIB
        chunk = os.urandom(MIB)
        digest = hashlib.sha256()
        tracemalloc.start()
        try:
            writer = await store.create("large001")
            for index in range(size // MIB):
                piece = chunk[index % 7 :] + chunk[: index % 7]  # not one repeated stripe
                digest.update(piece)
                await writer.write(piece)
            await writer.commit()
            _, write_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            read_digest = hashlib.sha256()
            async for data in store.read("large001", 0, size, 256 * 1024):
                read_digest.update(data)
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert read_digest.hexdigest() == digest.hexdigest()
        assert write_peak < 40 * MIB, write_peak
        assert read_peak < 16 * MIB, read_peak
        await store.delete("large001")


async def test_pools_per_region(ceph_cluster: CephCluster, rados_client: RadosCluster) -> None:
    pool = f"test-region-{uuid.uuid4().hex[:8]}"
    ceph_cluster.ceph("osd", "pool", "create", pool, "4", "4", "replicated")
    ceph_cluster.ceph("osd", "pool", "set", pool, "size", "1", "--yes-i-really-mean-it")
    try:
        stores = await rados_client.blob_stores_by_region({"eu-fr-1": "andromede", "eu-de-1": pool})
        try:
            await put(stores["eu-de-1"], "region01", b"berlin")
            assert stores["eu-de-1"].object_names() == ["region01"]
            assert "region01" not in stores["eu-fr-1"].object_names()
            with pytest.raises(BlobError):
                await read_all(stores["eu-fr-1"], "region01", 0, 6, 1024)
        finally:
            for region_store in stores.values():
                await region_store.close()
    finally:
        ceph_cluster.ceph("osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it")


async def test_a_missing_pool_is_an_error(rados_client: RadosCluster) -> None:
    with pytest.raises(BlobError, match="no-such-pool"):
        await rados_client.blob_store("no-such-pool")


async def test_connecting_to_nobody_times_out(ceph_cluster: CephCluster, tmp_path: Path) -> None:
    conf = tmp_path / "ceph.conf"
    conf.write_text(
        f"[global]\nmon_host = v2:127.0.0.1:{free_port()}\nauth_client_required = cephx\n"
    )
    from andromede.storage.blob_rados import RadosCluster, RadosConfig

    config = RadosConfig(
        conf_file=conf, keyring=ceph_cluster.keyring, user="client.andromede", connect_timeout=2
    )
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailable):
        await RadosCluster.connect(config)
    assert time.monotonic() - started < 10


@pytest.mark.slow
async def test_operations_time_out_when_the_osd_stops_answering(
    ceph_cluster: CephCluster,  # only for its skip when Ceph or python3-rados is missing
) -> None:
    """A frozen OSD (SIGSTOP: not even marked down) gives BlobStoreUnavailable after the op
    timeout, for writes and reads alike; nothing hangs. A private cluster: the shared one
    serves other tests meanwhile."""
    from andromede.storage.blob_rados import RadosCluster

    directory = Path(tempfile.mkdtemp(prefix="andromede-ceph."))
    cluster = start_cluster(directory)
    client: RadosCluster | None = None
    osd_pid = int((directory / "run" / "osd.0.pid").read_text())
    try:
        client = await RadosCluster.connect(cluster.rados_config(op_timeout=2))
        store = await client.blob_store("andromede", stripe_size=STRIPE)
        await put(store, "blob0001", os.urandom(3 * STRIPE))
        os.kill(osd_pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(BlobStoreUnavailable):
                await put(store, "blob0002", os.urandom(3 * STRIPE))
            with pytest.raises(BlobStoreUnavailable):
                await read_all(store, "blob0001", 0, 3 * STRIPE, 1024)
            with pytest.raises(BlobStoreUnavailable):
                await store.delete("blob0001")
            assert time.monotonic() - started < 20
        finally:
            os.kill(osd_pid, signal.SIGCONT)
        # And it recovers by itself: the store connects a new client (answering
        # BlobStoreUnavailable meanwhile, at once), and the same store object carries on. (The
        # timed-out operations may still take effect: a timeout says that the answer did not
        # come, not that nothing happened.)
        deadline = time.monotonic() + 60
        while True:
            try:
                await put(store, "blob0003", b"back")
                break
            except BlobStoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover"
                await asyncio.sleep(0.2)
        assert await read_all(store, "blob0003", 0, 4, 1024) == b"back"
        assert client.reconnections >= 1
    finally:
        if client is not None:
            await client.close()
        stop_cluster(cluster)
        shutil.rmtree(directory, ignore_errors=True)
