"""The sweeper over both backend pairs: queued deletions, stale temporaries, orphans."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from andromede.storage.model import Bucket, ContentHeaders, ObjectRecord, Segment
from andromede.storage.sweeper import Sweeper, SweepReport

from .conftest import Stack

GRACE = 60.0


async def write_blob(stack: Stack, data: bytes = b"data") -> str:
    blob_id = uuid.uuid4().hex
    writer = await stack.blobs.create(blob_id)
    await writer.write(data)
    await writer.commit()
    return blob_id


async def test_orphan_disappears_and_referenced_blob_stays(stack: Stack) -> None:
    now = datetime.now(UTC)
    await stack.store.create_bucket(Bucket("b", "t", "o", "eu", now))
    referenced = await write_blob(stack)
    await stack.store.put_object(
        ObjectRecord(
            bucket="b",
            key="k",
            size=4,
            etag="e",
            last_modified=now,
            headers=ContentHeaders(),
            segments=(Segment(referenced, 4),),
            owner_id="o",
        )
    )
    # A crash between the blob commit and the row commit leaves this one.
    orphan = await write_blob(stack)
    sweeper = Sweeper(stack.store, stack.blobs, orphan_grace=GRACE, interval=1)

    # Within the grace the orphan may still be about to get its row: it stays.
    assert await sweeper.run_once(now + timedelta(seconds=1)) == SweepReport(0, 0, 0)
    assert stack.blobs.blob_ids() == {referenced, orphan}

    report = await sweeper.run_once(now + timedelta(seconds=GRACE + 5))
    assert report == SweepReport(0, 0, 1)
    assert stack.blobs.blob_ids() == {referenced}


async def test_queued_deletions_wait_for_their_time(stack: Stack) -> None:
    now = datetime.now(UTC)
    blobs = [await write_blob(stack) for _ in range(3)]
    await stack.store.queue_blob_deletion(blobs[:2], now + timedelta(seconds=10))
    await stack.store.queue_blob_deletion(blobs[2:], now + timedelta(seconds=100))
    sweeper = Sweeper(stack.store, stack.blobs, orphan_grace=1000, interval=1)
    assert await sweeper.run_once(now) == SweepReport(0, 0, 0)
    assert await sweeper.run_once(now + timedelta(seconds=10)) == SweepReport(2, 0, 0)
    assert stack.blobs.blob_ids() == {blobs[2]}
    # A queued blob is "referenced": the orphan pass leaves it to the queue.
    assert await sweeper.run_once(now + timedelta(seconds=1005)) == SweepReport(1, 0, 0)
    assert stack.blobs.blob_ids() == set()


async def test_many_orphans_in_batches(stack: Stack) -> None:
    now = datetime.now(UTC)
    for _ in range(1203):
        await write_blob(stack, b"")
    sweeper = Sweeper(stack.store, stack.blobs, orphan_grace=GRACE, interval=1)
    report = await sweeper.run_once(now + timedelta(seconds=GRACE + 5))
    assert report.orphans_deleted == 1203
    assert stack.blobs.blob_ids() == set()


async def test_stale_temporaries_are_removed(stack: Stack) -> None:
    writer = await stack.blobs.create(uuid.uuid4().hex)
    await writer.write(b"x" * (2 * 1024 * 1024))  # never committed: the writer "crashed"
    sweeper = Sweeper(stack.store, stack.blobs, orphan_grace=GRACE, interval=1)
    now = datetime.now(UTC)
    assert (await sweeper.run_once(now)).temporaries_removed == 0
    assert (await sweeper.run_once(now + timedelta(seconds=GRACE + 5))).temporaries_removed == 1
    assert stack.blobs.temporary_count() == 0
    await writer.abort()


async def test_run_forever_sweeps_until_cancelled(stack: Stack) -> None:
    orphan = await write_blob(stack)
    late = datetime.now(UTC) + timedelta(seconds=GRACE + 5)
    sweeper = Sweeper(
        stack.store, stack.blobs, orphan_grace=GRACE, interval=0.01, clock=lambda: late
    )
    task = asyncio.create_task(sweeper.run_forever())
    for _ in range(200):
        if orphan not in stack.blobs.blob_ids():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert orphan not in stack.blobs.blob_ids()
