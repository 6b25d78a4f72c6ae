"""Decision 0223's Firehose store over every implementation (memory, SQLite, PostgreSQL): one
name an account, the account's bound of streams, compare-and-set writes that leave the
deliverer's state alone, a buffer bounded in bytes (what does not fit refused, never
dropped), streams claimed for delivery only once a hint is reached, by one gateway at a time
under a lease another takes over once it ran out, and the deliverer's writes only by the
lease's owner; a Kinesis source's reader lease and checkpoints (decision 0235); a Lambda
processor's two stages (decision 0344); a source backup's copies (decision 0376)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.firehose.backup_buffer import BACKUP
from andromede.firehose.errors import LimitExceeded, StreamInUse
from andromede.firehose.memory import MemoryFirehoseStore
from andromede.firehose.model import (
    MIB,
    DeliveryStream,
    HttpEndpoint,
    KinesisSource,
    LambdaProcessor,
    LoggingOptions,
    Partitioning,
    S3Destination,
    StreamStatus,
)
from andromede.firehose.staging import STAGED
from andromede.firehose.store import BufferTotals, FirehoseStore, SealedRecord, SourceCheckpoint
from andromede.firehose.store_sql import SqlFirehoseStore
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FirehoseStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryFirehoseStore() if db is None else SqlFirehoseStore(db)


def stream(
    name: str, tenant_id: str = "t1", *, size_mb: int = 1, interval: int = 60
) -> DeliveryStream:
    return DeliveryStream(
        tenant_id=tenant_id,
        name=name,
        region="eu-fr-1",
        status=StreamStatus.CREATING,
        version=1,
        created=T0,
        updated=T0,
        destination=S3Destination(
            "arn:aws:iam::000000000001:role/r",
            "arn:aws:s3:::b",
            prefix="p/",
            size_mb=size_mb,
            interval_seconds=interval,
            compression="GZIP",
            kms_key_arn="arn:aws:kms:eu-fr-1:000000000001:key/k",
            file_extension=".log.gz",
        ),
        tags=(("team", "a"),),
    )


def records(count: int, size: int = 10, prefix: str = "r") -> list[SealedRecord]:
    return [
        SealedRecord(f"{prefix}{i}", size, bytes([i % 256]) * (size + 28)) for i in range(count)
    ]


async def test_streams_made_listed_changed_and_deleted(store: FirehoseStore) -> None:
    made = stream("s1")
    await store.create(made, max_streams=2)
    assert await store.get("t1", "s1") == made
    assert await store.get("t2", "s1") is None
    with pytest.raises(StreamInUse):
        await store.create(stream("s1"), max_streams=5)
    await store.create(stream("s0"), max_streams=2)
    with pytest.raises(LimitExceeded):
        await store.create(stream("s2"), max_streams=2)
    await store.create(stream("s2", "t2"), max_streams=2)  # another account's own bound
    assert await store.names("t1", None, 10) == ["s0", "s1"]
    assert await store.names("t1", "s0", 10) == ["s1"]
    assert await store.names("t1", None, 1) == ["s0"]
    assert await store.activate() == 3
    active = await store.get("t1", "s1")
    assert active is not None and active.status == StreamStatus.ACTIVE
    changed = dataclasses.replace(active, version=2, tags=(), revision=active.revision + 1)
    assert await store.replace(changed)
    assert not await store.replace(changed)  # the revision it read is no longer the row's
    assert await store.get("t1", "s1") == changed
    assert await store.delete("t1", "s1")
    assert not await store.delete("t1", "s1")
    assert await store.get("t1", "s1") is None
    assert await store.forget_tenant("t1") == 1
    assert await store.names("t1", None, 10) == []
    assert await store.names("t2", None, 10) == ["s2"]


async def test_the_buffer_is_bounded_and_kept_in_order(store: FirehoseStore) -> None:
    await store.create(stream("s"), max_streams=5)
    assert await store.append("t1", "s", records(3), T0, max_bytes=25) == 2
    assert await store.totals("t1", "s") == BufferTotals(2, 20, T0)
    assert await store.append("t1", "s", records(1, 6, "x"), T0 + 5, max_bytes=25) == 0
    assert await store.append("t1", "s", records(1, 5, "y"), T0 + 5, max_bytes=25) == 1
    assert await store.append("t1", "gone", records(1), T0, max_bytes=25) == 0
    batch = await store.batch("t1", "s", max_bytes=20)
    assert [(r.record_id, r.arrived, r.size) for r in batch] == [("r0", T0, 10), ("r1", T0, 10)]
    assert batch[0].sealed == bytes([0]) * 38
    assert [r.record_id for r in await store.batch("t1", "s", max_bytes=1)] == ["r0"]
    assert await store.totals("t2", "s") == BufferTotals()


async def test_a_stream_is_claimed_at_a_hint_by_one_gateway(store: FirehoseStore) -> None:
    await store.create(stream("small", size_mb=1, interval=60), max_streams=5)
    await store.create(stream("empty"), max_streams=5)
    assert await store.claim("gw-a", T0, T0 + 100, 10, "eu-fr-1") == []  # CREATING
    await store.activate()
    await store.append("t1", "small", records(2), T0, max_bytes=10 * MIB)
    # Another Region's gateway leaves it: its buckets are not there.
    assert await store.claim("gw-de", T0 + 60_000, T0 + 100_000, 10, "eu-de-1") == []
    # Neither hint reached: 20 bytes of 1 MiB, and 59 s of 60.
    assert await store.claim("gw-a", T0 + 59_000, T0 + 100_000, 10, "eu-fr-1") == []
    claimed = await store.claim("gw-a", T0 + 60_000, T0 + 100_000, 10, "eu-fr-1")
    assert [s.name for s in claimed] == ["small"]
    assert await store.claim("gw-b", T0 + 60_000, T0 + 100_000, 10, "eu-fr-1") == []  # leased
    # gw-a stops: once its lease ran out, gw-b takes the stream over; gw-a's writes fail.
    taken = await store.claim("gw-b", T0 + 100_001, T0 + 200_000, 10, "eu-fr-1")
    assert [s.name for s in taken] == ["small"]
    assert not await store.delivered("t1", "small", "gw-a", 10**9)
    assert not await store.failed("t1", "small", "gw-a", T0, T0)
    first = (await store.batch("t1", "small", MIB))[0]
    assert await store.delivered("t1", "small", "gw-b", first.seq)
    assert await store.totals("t1", "small") == BufferTotals(1, 10, T0)
    rest = await store.claim("gw-b", T0 + 100_001, T0 + 200_000, 10, "eu-fr-1")
    assert [s.name for s in rest] == ["small"]
    assert await store.delivered("t1", "small", "gw-b", 10**12)
    assert await store.totals("t1", "small") == BufferTotals()
    assert await store.claim("gw-b", T0 + 300_000, T0 + 400_000, 10, "eu-fr-1") == []


async def test_an_http_endpoint_is_kept_and_claimed_by_its_own_hints(
    store: FirehoseStore,
) -> None:
    """Decision 0250: the endpoint (its AccessKey as sealed bytes) beside its S3 backup, and
    the buffer's hints the endpoint's, not the backup bucket's."""
    http = HttpEndpoint(
        url="https://collector.example/in?x=1",
        name="collector",
        access_key=b"\x01sealed\x00bytes",
        secret_arn="arn:aws:secretsmanager:eu-fr-1:000000000001:secret:k-AbCdEf",
        secret_role_arn="arn:aws:iam::000000000001:role/reader",
        content_encoding="GZIP",
        common_attributes=(("env", "prod"), ("team", "")),
        size_mb=1,
        interval_seconds=60,
        retry_seconds=7200,
        backup_mode="AllData",
        role_arn="arn:aws:iam::000000000001:role/r",
    )
    made = dataclasses.replace(stream("web", size_mb=128, interval=900), http=http)
    await store.create(made, max_streams=5)
    assert await store.get("t1", "web") == made
    await store.activate()
    await store.append("t1", "web", records(1), T0, max_bytes=10 * MIB)
    assert await store.claim("gw-a", T0 + 59_000, T0 + 100_000, 10, "eu-fr-1") == []
    (claimed,) = await store.claim("gw-a", T0 + 60_000, T0 + 100_000, 10, "eu-fr-1")
    assert claimed.http == http
    plain = dataclasses.replace(
        claimed, http=dataclasses.replace(http, access_key=None, secret_arn=None),
        revision=claimed.revision + 1,
    )  # fmt: skip
    assert await store.replace(plain)
    kept = await store.get("t1", "web")
    assert kept is not None and kept.http is not None and kept.http.access_key is None


async def test_error_logging_and_partitioning_are_kept(store: FirehoseStore) -> None:
    """Decision 0270: the destinations' CloudWatchLoggingOptions (the endpoint's and its
    backup's) and dynamic partitioning with its processors, delimiters as bytes."""
    logging = LoggingOptions(enabled=True, group="/aws/kinesisfirehose/x", stream="S3Delivery")
    partitioning = Partitioning(
        enabled=True, retry_seconds=120, processing=True, query="{c: .customer}",
        deaggregation="DELIMITED", deaggregation_delimiter=b"##\x00",
        append_delimiter=b"\n", processors=("RecordDeAggregation", "MetadataExtraction"),
    )  # fmt: skip
    made = stream("parts")
    made = dataclasses.replace(
        made,
        destination=dataclasses.replace(
            made.destination, logging=logging, partitioning=partitioning
        ),
    )
    await store.create(made, max_streams=5)
    assert await store.get("t1", "parts") == made
    http = HttpEndpoint(url="https://collector.example/in", logging=LoggingOptions(enabled=False,
                        group="g"))  # fmt: skip
    web = dataclasses.replace(stream("web"), http=http)
    await store.create(web, max_streams=5)
    assert await store.get("t1", "web") == web


async def test_lambda_processors_are_kept(store: FirehoseStore) -> None:
    """Decision 0315: an Extended S3 destination's and an HTTP endpoint's Lambda processor,
    its parameters and the order they were given in; rows without one read as before."""
    processor = LambdaProcessor(
        "arn:aws:lambda:eu-fr-1:000000000001:function:f:live", retries=7,
        role_arn="arn:aws:iam::000000000001:role/p", buffer_size_mb=0.25,
        buffer_interval_seconds=120, given=("RoleArn", "LambdaArn", "BufferSizeInMBs"),
    )  # fmt: skip
    partitioning = Partitioning(processing=True, processors=("Lambda",), transform=processor)
    made = stream("transformed")
    made = dataclasses.replace(
        made, destination=dataclasses.replace(made.destination, partitioning=partitioning)
    )
    await store.create(made, max_streams=5)
    assert await store.get("t1", "transformed") == made
    web = dataclasses.replace(
        stream("web"), http=HttpEndpoint(url="https://collector.example/in", transform=processor)
    )
    await store.create(web, max_streams=5)
    kept = await store.get("t1", "web")
    assert kept == web and kept.transform == processor


async def test_the_size_hint_and_a_failing_streak(store: FirehoseStore) -> None:
    await store.create(stream("big", size_mb=1, interval=900), max_streams=5)
    await store.activate()
    await store.append("t1", "big", records(2, MIB // 2), T0, max_bytes=10 * MIB)
    claimed = await store.claim("gw", T0 + 1, T0 + 100, 10, "eu-fr-1")
    assert [s.name for s in claimed] == ["big"]  # 1 MiB buffered: due at once
    assert await store.failed("t1", "big", "gw", T0, T0 + 5_000)
    failing = await store.get("t1", "big")
    assert failing is not None
    assert (failing.failing_since, failing.next_attempt) == (T0, T0 + 5_000)
    # A caller's write (tags) leaves the streak alone.
    assert await store.replace(dataclasses.replace(failing, tags=(), revision=failing.revision + 1))
    kept = await store.get("t1", "big")
    assert kept is not None and (kept.failing_since, kept.next_attempt) == (T0, T0 + 5_000)
    assert (
        await store.claim("gw", T0 + 4_999, T0 + 10_000, 10, "eu-fr-1") == []
    )  # retry not due yet
    again = await store.claim("gw", T0 + 5_000, T0 + 10_000, 10, "eu-fr-1")
    assert [s.failing_since for s in again] == [T0]
    assert await store.delivered("t1", "big", "gw", 10**12)
    ended = await store.get("t1", "big")
    assert ended is not None and (ended.failing_since, ended.next_attempt) == (None, 0)


async def test_the_encryption_status_is_kept_and_the_changing_ones_found(
    store: FirehoseStore,
) -> None:
    """Decision 0223's addendum (migration 0108): the Status, the FailureDescription and the
    sealing key round-trip; ``settling`` finds the ENABLING and DISABLING streams of a Region."""
    key = "arn:aws:kms:eu-fr-1:000000000001:key/k2"
    enabling = dataclasses.replace(
        stream("a"), sse_key_type="CUSTOMER_MANAGED_CMK", sse_key_arn=key, sse_status="ENABLING"
    )
    await store.create(enabling, 10)
    await store.create(stream("b"), 10)
    await store.create(
        dataclasses.replace(stream("c"), region="eu-de-1", sse_status="ENABLING"), 10
    )
    assert [s.name for s in await store.settling("eu-fr-1", 10)] == ["a"]
    assert await store.get("t1", "a") == enabling
    failed = dataclasses.replace(
        enabling,
        sse_status="ENABLING_FAILED",
        sse_failure=("DISABLED_KMS_KEY", "the key is disabled"),
        sealing_key_arn="arn:aws:kms:eu-fr-1:000000000001:key/k1",
        revision=enabling.revision + 1,
    )
    assert await store.replace(failed)
    assert await store.get("t1", "a") == failed
    assert await store.settling("eu-fr-1", 10) == []
    disabling = dataclasses.replace(failed, sse_status="DISABLING", revision=failed.revision + 1)
    assert await store.replace(disabling)
    assert [s.name for s in await store.settling("eu-fr-1", 10)] == ["a"]
    assert (await store.get("t1", "b")) == stream("b")


SOURCE = KinesisSource("arn:aws:kinesis:eu-fr-1:t1:stream/k", "arn:aws:iam::t1:role/r", T0)


async def test_a_kinesis_source_its_readers_lease_and_checkpoints(store: FirehoseStore) -> None:
    """Decision 0235: a source stream's source kept; its reader leased to one gateway at a time
    (renewed by its holder, taken over once run out), apart from the delivery's lease; each
    shard's checkpoint written only by the lease's holder, gone with the stream or tenant."""
    made = dataclasses.replace(stream("src"), source=SOURCE)
    await store.create(made, max_streams=5)
    await store.create(stream("direct"), max_streams=5)
    assert await store.get("t1", "src") == made
    assert await store.claim_sources("gw-a", T0, T0 + 100, 10, "eu-fr-1") == []  # CREATING
    await store.activate()
    [claimed] = await store.claim_sources("gw-a", T0, T0 + 100, 10, "eu-fr-1")
    assert (claimed.name, claimed.source) == ("src", SOURCE)
    assert await store.claim_sources("gw-b", T0 + 50, T0 + 150, 10, "eu-fr-1") == []
    assert await store.claim_sources("gw-a", T0 + 10, T0 + 200, 10, "eu-fr-1") != []  # renewed
    assert await store.claim_sources("gw-a", T0, T0 + 100, 10, "eu-other-1") == []
    # The delivery's lease is another: a delivery claim leaves the reader's alone.
    await store.append("t1", "src", records(1), T0, MIB)
    assert [s.name for s in await store.claim("gw-b", T0 + 61_000, T0 + 62_000, 10, "eu-fr-1")] == [
        "src"
    ]
    assert await store.checkpoints("t1", "src") == {}
    point = SourceCheckpoint("4900", finished=False)
    assert await store.save_checkpoint("t1", "src", "gw-a", "shardId-000000000000", point, T0)
    assert not await store.save_checkpoint(
        "t1", "src", "gw-b", "shardId-000000000000", SourceCheckpoint("9"), T0
    )
    done = SourceCheckpoint("4901", finished=True)
    assert await store.save_checkpoint("t1", "src", "gw-a", "shardId-000000000000", done, T0)
    assert await store.save_checkpoint("t1", "src", "gw-a", "shardId-000000000001", point, T0)
    assert await store.checkpoints("t1", "src") == {
        "shardId-000000000000": done,
        "shardId-000000000001": point,
    }
    assert await store.checkpoints("t2", "src") == {}
    # Past the lease, another gateway takes it over; the first one's writes no longer land.
    [taken] = await store.claim_sources("gw-b", T0 + 201, T0 + 400, 10, "eu-fr-1")
    assert taken.name == "src"
    assert not await store.save_checkpoint("t1", "src", "gw-a", "shardId-000000000001", done, T0)
    assert await store.delete("t1", "src")
    assert await store.checkpoints("t1", "src") == {}
    again = dataclasses.replace(stream("src"), source=SOURCE, status=StreamStatus.ACTIVE)
    await store.create(again, max_streams=5)
    [_] = await store.claim_sources("gw-c", T0 + 500, T0 + 600, 10, "eu-fr-1")
    assert await store.save_checkpoint("t1", "src", "gw-c", "shardId-000000000000", point, T0)
    assert await store.forget_tenant("t1") == 2
    assert await store.checkpoints("t1", "src") == {}


async def test_source_streams_past_the_limit_are_read_in_turn(store: FirehoseStore) -> None:
    for name in ("a", "b", "c"):
        made = dataclasses.replace(stream(name), source=SOURCE, status=StreamStatus.ACTIVE)
        await store.create(made, max_streams=5)
    first = await store.claim_sources("gw", T0, T0 + 100, 2, "eu-fr-1")
    second = await store.claim_sources("gw", T0 + 10, T0 + 110, 2, "eu-fr-1")
    third = await store.claim_sources("gw", T0 + 20, T0 + 120, 2, "eu-fr-1")
    assert [s.name for s in first] == ["a", "b"]
    assert second[0].name == "c"  # never read: first
    assert third[0].name == "b"  # the least recently read next


def staged_stream(name: str) -> DeliveryStream:
    """Decision 0344: a Lambda processor of 0.25 MiB / 60 s before a 5 MiB / 300 s bucket."""
    made = stream(name, size_mb=5, interval=300)
    processor = LambdaProcessor(
        "arn:aws:lambda:eu-fr-1:000000000001:function:f",
        buffer_size_mb=0.25,
        buffer_interval_seconds=60,
    )
    partitioning = Partitioning(processing=True, processors=("Lambda",), transform=processor)
    return dataclasses.replace(
        made, destination=dataclasses.replace(made.destination, partitioning=partitioning)
    )


def staged(count: int, arrived: int, size: int = 10, first: int = 0) -> list[SealedRecord]:
    return [
        SealedRecord(f"{STAGED}s{i}", size, b"x" * (size + 28), arrived)
        for i in range(first, first + count)
    ]


async def test_a_lambda_processors_two_stages(store: FirehoseStore) -> None:
    """Decision 0344: the intake claimed at the processor's hints, the staged records kept
    apart (their own batch and totals) and claimed at the destination's interval, each stage
    removed alone, a staged batch reaching the destination's size claimed at its retry."""
    await store.create(staged_stream("fn"), max_streams=5)
    await store.activate()
    await store.append("t1", "fn", records(3), T0, max_bytes=10 * MIB)
    assert await store.claim("gw", T0 + 59_999, T0 + 70_000, 10, "eu-fr-1") == []
    assert [s.name for s in await store.claim("gw", T0 + 60_000, T0 + 70_000, 10, "eu-fr-1")] == [
        "fn"
    ]
    first = (await store.batch("t1", "fn", MIB))[0]
    assert not await store.stage("t1", "fn", "other", first.seq, staged(1, T0))
    assert await store.stage("t1", "fn", "gw", first.seq, staged(1, T0))
    # The lease is kept for the staged records' turn; the intake's other two are left.
    assert await store.claim("gw-b", T0 + 60_000, T0 + 70_000, 10, "eu-fr-1") == []
    assert [r.record_id for r in await store.batch("t1", "fn", MIB)] == ["r1", "r2"]
    (kept,) = await store.batch("t1", "fn", MIB, staged=True)
    assert (kept.record_id, kept.arrived, kept.size) == (f"{STAGED}s0", T0, 10)
    assert await store.staged("t1", "fn") == BufferTotals(1, 10, T0)
    assert await store.totals("t1", "fn") == BufferTotals(2, 20, T0)
    # The staged record's seq is past the intake's left: delivering it keeps them.
    assert await store.delivered("t1", "fn", "gw", kept.seq)
    assert await store.staged("t1", "fn") == BufferTotals()
    assert [r.record_id for r in await store.batch("t1", "fn", MIB)] == ["r1", "r2"]
    # Both left staged (all dropped: nothing in their place); a staged one waits 300 s.
    assert await store.claim("gw", T0 + 60_000, T0 + 70_000, 10, "eu-fr-1") != []
    last = (await store.batch("t1", "fn", MIB))[-1]
    assert await store.stage("t1", "fn", "gw", last.seq, staged(1, T0 + 1_000, first=1))
    assert await store.totals("t1", "fn") == BufferTotals(0, 0, T0 + 1_000 + 240_000)
    assert await store.delivered("t1", "fn", "gw", 0)  # nothing due: the lease let go
    assert await store.staged("t1", "fn") == BufferTotals(1, 10, T0 + 1_000)
    # A record put now is the intake's oldest, before the staged one's shifted arrival.
    await store.append("t1", "fn", records(1, prefix="n"), T0 + 100_000, max_bytes=10 * MIB)
    assert await store.totals("t1", "fn") == BufferTotals(1, 10, T0 + 100_000)
    assert await store.claim("gw", T0 + 159_999, T0 + 170_000, 10, "eu-fr-1") == []
    assert await store.claim("gw", T0 + 160_000, T0 + 170_000, 10, "eu-fr-1") != []
    newest = (await store.batch("t1", "fn", MIB))[-1]
    assert await store.stage("t1", "fn", "gw", newest.seq, [])
    assert await store.delivered("t1", "fn", "gw", 0)
    assert await store.claim("gw", T0 + 300_999, T0 + 310_000, 10, "eu-fr-1") == []
    assert await store.claim("gw", T0 + 301_000, T0 + 310_000, 10, "eu-fr-1") != []
    # Staged records as large as the destination's size: due at their retry, not at 300 s.
    await store.append("t1", "fn", records(1, prefix="m"), T0 + 400_000, max_bytes=10 * MIB)
    assert await store.failed("t1", "fn", "gw", T0 + 301_000, T0 + 301_000)
    claimed = await store.claim("gw", T0 + 460_000, T0 + 470_000, 10, "eu-fr-1")
    assert [s.name for s in claimed] == ["fn"]
    big = [SealedRecord(f"{STAGED}big", 5 * MIB, b"x" * 40, T0 + 400_000)]
    mine = (await store.batch("t1", "fn", MIB))[-1]
    assert await store.stage("t1", "fn", "gw", mine.seq, big)
    assert await store.failed("t1", "fn", "gw", T0 + 460_000, T0 + 465_000)
    assert await store.claim("gw", T0 + 464_999, T0 + 470_000, 10, "eu-fr-1") == []
    assert await store.claim("gw", T0 + 465_000, T0 + 470_000, 10, "eu-fr-1") != []
    everything = await store.batch("t1", "fn", 100 * MIB, staged=True)
    assert await store.delivered("t1", "fn", "gw", everything[-1].seq)
    assert await store.totals("t1", "fn") == BufferTotals()
    assert await store.staged("t1", "fn") == BufferTotals()


def backed_up(name: str) -> DeliveryStream:
    """A stream whose copies wait 120 s (its destination 60 s), at most 1 MiB an object."""
    made = stream(name)
    backup = S3Destination("arn:aws:iam::000000000001:role/r", "arn:aws:s3:::c",
                           size_mb=1, interval_seconds=120)  # fmt: skip
    return dataclasses.replace(
        made, destination=dataclasses.replace(made.destination, backup=backup)
    )


def with_copies(count: int, size: int = 10) -> list[SealedRecord]:
    pairs = [
        (SealedRecord(f"r{i}", size, b"x" * (size + 28)),
         SealedRecord(f"{BACKUP}r{i}", size, b"y" * (size + 28)))
        for i in range(count)
    ]  # fmt: skip
    return [record for pair in pairs for record in pair]


async def test_a_source_backups_copies(store: FirehoseStore) -> None:
    """Decision 0376: a record's copy taken with it, never counted in the intake's totals
    but counted in the bound (0379), kept apart (its own batch and totals), claimed at the
    backup's interval once the intake is gone, removed alone with the lease kept."""
    await store.create(backed_up("bk"), max_streams=5)
    await store.activate()
    # The bound counts the copies (0379): two records of 10 bytes and their copies fit 45, a
    # record without its copy never.
    assert await store.append("t1", "bk", with_copies(3), T0, max_bytes=45) == 2
    assert await store.totals("t1", "bk") == BufferTotals(2, 20, T0)
    assert await store.copies("t1", "bk") == BufferTotals(2, 20, T0)
    assert [r.record_id for r in await store.batch("t1", "bk", MIB)] == ["r0", "r1"]
    copies = await store.batch("t1", "bk", 10, backup=True)
    assert [r.record_id for r in copies] == [f"{BACKUP}r0"]  # at most the size asked
    # The intake delivered at its 60 s: the copies stay, and are due at their 120 s.
    (claimed,) = await store.claim("gw", T0 + 60_000, T0 + 70_000, 10, "eu-fr-1")
    assert claimed.name == "bk"
    intake = await store.batch("t1", "bk", MIB)
    assert await store.delivered("t1", "bk", "gw", intake[-1].seq)
    assert await store.totals("t1", "bk") != BufferTotals()  # the copies keep it due later
    assert (await store.totals("t1", "bk")).records == 0
    assert await store.copies("t1", "bk") == BufferTotals(2, 20, T0)
    assert await store.claim("gw", T0 + 119_999, T0 + 130_000, 10, "eu-fr-1") == []
    (claimed,) = await store.claim("gw", T0 + 120_000, T0 + 130_000, 10, "eu-fr-1")
    assert claimed.name == "bk"
    assert not await store.copied("t1", "bk", "other", copies[0].seq)
    assert await store.copied("t1", "bk", "gw", copies[0].seq)
    assert await store.copies("t1", "bk") == BufferTotals(1, 10, T0)
    # The lease kept: no other gateway takes it; the last copy removed empties the buffer.
    assert await store.claim("gw-b", T0 + 120_000, T0 + 130_000, 10, "eu-fr-1") == []
    (last,) = await store.batch("t1", "bk", MIB, backup=True)
    assert await store.copied("t1", "bk", "gw", last.seq)
    assert await store.delivered("t1", "bk", "gw", 0)
    assert await store.totals("t1", "bk") == BufferTotals()
    assert await store.claim("gw", T0 + 999_000, T0 + 1_000_000, 10, "eu-fr-1") == []


async def test_a_source_backups_copies_fill_the_bound(store: FirehoseStore) -> None:
    """Decision 0379: the copies waiting count in ``max_bytes`` once the intake is
    delivered, so a backup that keeps refusing ends with nothing more taken."""
    await store.create(backed_up("bf"), max_streams=5)
    await store.activate()
    assert await store.append("t1", "bf", with_copies(2), T0, max_bytes=40) == 2
    assert await store.claim("gw", T0 + 60_000, T0 + 70_000, 10, "eu-fr-1") != []
    intake = await store.batch("t1", "bf", MIB)
    assert await store.delivered("t1", "bf", "gw", intake[-1].seq)
    assert await store.copies("t1", "bf") == BufferTotals(2, 20, T0)
    assert await store.append("t1", "bf", with_copies(1), T0 + 61_000, max_bytes=39) == 0
    assert await store.append("t1", "bf", with_copies(1), T0 + 61_000, max_bytes=40) == 1
    assert await store.copies("t1", "bf") == BufferTotals(3, 30, T0)
    assert (await store.totals("t1", "bf")).records == 1


async def test_an_http_endpoints_copies_take_the_delivered_batchs_place(
    store: FirehoseStore,
) -> None:
    """Decision 0388: an HTTP endpoint backing up ``AllData`` — the batch acknowledged
    leaves the buffer and its copies, with their own arrival, take its place in one step,
    only by the lease's owner; they come due at the S3Configuration's interval, not the
    endpoint's."""
    http = HttpEndpoint(url="https://collector.example/in", size_mb=1, interval_seconds=60,
                        backup_mode="AllData")  # fmt: skip
    made = dataclasses.replace(stream("web", interval=120), http=http)
    await store.create(made, max_streams=5)
    await store.activate()
    assert await store.append("t1", "web", records(2), T0, max_bytes=MIB) == 2
    assert await store.claim("gw", T0 + 60_000, T0 + 70_000, 10, "eu-fr-1") != []
    sent = await store.batch("t1", "web", MIB)
    copies = [SealedRecord(f"{BACKUP}{r.record_id}", r.size, b"c" * 40, T0 + 61_000)
              for r in sent]  # fmt: skip
    assert not await store.delivered("t1", "web", "other", sent[-1].seq, copies)
    assert await store.copies("t1", "web") == BufferTotals()
    assert await store.delivered("t1", "web", "gw", sent[-1].seq, copies)
    assert (await store.totals("t1", "web")).records == 0
    assert await store.copies("t1", "web") == BufferTotals(2, sum(r.size for r in sent),
                                                           T0 + 61_000)  # fmt: skip
    assert await store.claim("gw", T0 + 180_999, T0 + 190_000, 10, "eu-fr-1") == []
    assert await store.claim("gw", T0 + 181_000, T0 + 190_000, 10, "eu-fr-1") != []
    kept = await store.batch("t1", "web", MIB, backup=True)
    assert [r.record_id for r in kept] == [c.record_id for c in copies]
    assert [r.sealed for r in kept] == [b"c" * 40] * 2


async def test_an_http_endpoints_copies_are_bounded_where_they_take_the_batchs_place(
    store: FirehoseStore,
) -> None:
    """Decision 0398: copies larger than the batch they replace are kept, in order, only
    within ``max_bytes`` — the intake left and the copies held counted, the batch's bytes
    gone —; ``whole`` keeps all or changes nothing (the lease kept); only the owner."""
    http = HttpEndpoint(url="https://collector.example/in", backup_mode="AllData")
    await store.create(dataclasses.replace(stream("web"), http=http), max_streams=5)
    await store.activate()
    assert await store.append("t1", "web", records(2), T0, max_bytes=MIB) == 2
    assert await store.claim("gw", T0 + 300_000, T0 + 310_000, 10, "eu-fr-1") != []  # its 300 s
    (sent,) = await store.batch("t1", "web", 10)  # one record of two: 10 bytes stay
    copies = [SealedRecord(f"{BACKUP}{sent.record_id}:{i}", 15, b"c" * 43, T0 + 61_000)
              for i in range(3)]  # fmt: skip
    assert await store.delivered_copies("t1", "web", "other", sent.seq, copies, 40) is None
    # 10 left + 15 + 15 = 40: two fit, as a whole none; nothing changed, the lease kept.
    assert await store.delivered_copies("t1", "web", "gw", sent.seq, copies, 40, whole=True) == 0
    assert (await store.totals("t1", "web")).records == 2
    assert await store.delivered_copies("t1", "web", "gw", sent.seq, copies, 40) == 2
    assert (await store.totals("t1", "web")).records == 1
    assert await store.copies("t1", "web") == BufferTotals(2, 30, T0 + 61_000)
    assert await store.append("t1", "web", records(1, prefix="n"), T0, max_bytes=40) == 0
    # The lease was let go: the copies held count in the next batch's room too.
    assert await store.claim("gw", T0 + 700_000, T0 + 710_000, 10, "eu-fr-1") != []
    (last,) = await store.batch("t1", "web", MIB)
    more = [SealedRecord(f"{BACKUP}{last.record_id}", 11, b"d" * 39, T0 + 400_000)]
    assert await store.delivered_copies("t1", "web", "gw", last.seq, more, 40) == 0
    assert await store.copies("t1", "web") == BufferTotals(2, 30, T0 + 61_000)
    assert (await store.totals("t1", "web")).records == 0


async def test_the_streams_holding_records_are_paged_with_their_oldest_arrivals(
    store: FirehoseStore,
) -> None:
    """Decision 0388: the freshness gauges' page — ACTIVE streams of the region holding
    records, in (account, name) order after a cursor, the oldest record not delivered and
    the oldest backup copy apart."""
    for made in (backed_up("a"), stream("b"), stream("c"), stream("empty"),
                 dataclasses.replace(stream("far"), region="eu-fr-2")):  # fmt: skip
        await store.create(made, max_streams=10)
    await store.activate()
    assert await store.append("t1", "a", with_copies(1), T0 + 5, max_bytes=MIB) == 1
    assert await store.append("t1", "b", records(1), T0 + 7, max_bytes=MIB) == 1
    assert await store.append("t1", "b", records(1, prefix="s"), T0 + 9, max_bytes=MIB) == 1
    assert await store.append("t1", "c", records(1), T0 + 11, max_bytes=MIB) == 1
    assert await store.append("t1", "far", records(1), T0, max_bytes=MIB) == 1
    first = await store.waiting("eu-fr-1", None, 2)
    assert [(w.stream.name, w.oldest, w.oldest_copy) for w in first] == [
        ("a", T0 + 5, T0 + 5), ("b", T0 + 7, None),
    ]  # fmt: skip
    rest = await store.waiting("eu-fr-1", ("t1", "b"), 2)
    assert [(w.stream.name, w.oldest, w.oldest_copy) for w in rest] == [("c", T0 + 11, None)]
    # The intake delivered, the copy still waits: only the copy's arrival is said.
    assert await store.claim("gw", T0 + 60_005, T0 + 70_000, 10, "eu-fr-1") != []
    intake = await store.batch("t1", "a", MIB)
    assert await store.delivered("t1", "a", "gw", intake[-1].seq)
    (a,) = await store.waiting("eu-fr-1", None, 1)
    assert (a.stream.name, a.oldest, a.oldest_copy) == ("a", None, T0 + 5)
