"""Decision 0235's reader over a scripted source (a real implementation of the
``SourceStreams`` port, its shards and records given): a child waits for every listed parent
to end whatever order the shards are listed in, a parent no longer listed does not hold it
back, a pass reads at most its page budget, and a reader whose lease was taken over writes
no checkpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from andromede.firehose.model import (
    DeliveryStream,
    KinesisSource,
    S3Destination,
    SourcePage,
    SourceRecord,
    SourceShard,
)
from andromede.firehose.source_reader import KinesisSourceReader, ReaderPolicy
from andromede.firehose.store import SourceCheckpoint
from support.firehoseapp import World, firehose_world

ARN = "arn:aws:kinesis:eu-fr-1:{account}:stream/src"


@dataclass
class ScriptedSource:
    """Shards listed in the order given, each with its records (sequence numbers as ints)
    and whether it is closed."""

    listed: list[SourceShard]
    records: dict[str, list[int]]
    closed: set[str] = field(default_factory=set)
    reads: list[str] = field(default_factory=list)

    async def check(self, stream: DeliveryStream) -> None:
        pass

    async def shards(self, stream: DeliveryStream) -> list[SourceShard]:
        return list(self.listed)

    async def read(
        self, stream: DeliveryStream, shard_id: str, after: str | None, limit: int
    ) -> SourcePage:
        self.reads.append(shard_id)
        left = [n for n in self.records[shard_id] if after is None or n > int(after)]
        page = left[:limit]
        ended = shard_id in self.closed and len(page) == len(left)
        return SourcePage([SourceRecord(str(n), f"{n};".encode()) for n in page], ended)


@dataclass
class Reading:
    fire: World
    stream: DeliveryStream

    def reader(
        self, source: ScriptedSource, owner: str = "gw-a", **policy: int
    ) -> KinesisSourceReader:
        self.fire.firehose.sources = source
        return KinesisSourceReader(self.fire.firehose, source, ReaderPolicy(**policy), owner)

    async def buffered(self) -> bytes:
        store = self.fire.firehose.store
        held = await store.batch(self.fire.tenant_id, "from-k", 1 << 20)
        return b"".join(await self.fire.firehose.sealer.open(self.stream, held))


@pytest.fixture
async def reading(tmp_path: Path) -> AsyncIterator[Reading]:
    async for fire in firehose_world(tmp_path):
        fire.firehose.sources = ScriptedSource([], {})
        made = await fire.firehose.create(
            fire.tenant_id,
            "from-k",
            S3Destination(await fire.role(), await fire.bucket()),
            [],
            source=KinesisSource(ARN.format(account=fire.tenant_id), await fire.role("r"), 0),
        )
        await fire.firehose.store.activate()
        yield Reading(fire, made)


async def test_a_child_waits_for_its_parents_whatever_the_listing(reading: Reading) -> None:
    source = ScriptedSource(
        [SourceShard("child", ("parent", "other-parent")), SourceShard("parent")],
        {"child": [10], "parent": [1, 2], "other-parent": [5]},
        closed={"parent"},
    )
    reader = reading.reader(source)
    assert await reader.run_pass() == 2  # the child waits: its listed parent is unfinished
    assert await reading.buffered() == b"1;2;"
    # The parent finished; "other-parent" is no longer listed (past its retention).
    assert await reader.run_pass() == 1
    assert await reading.buffered() == b"1;2;10;"
    points = await reading.fire.firehose.store.checkpoints(reading.fire.tenant_id, "from-k")
    assert points["parent@0"].finished and not points["child@0"].finished
    assert points["child@0"].sequence == "10"


async def test_a_pass_reads_at_most_its_page_budget(reading: Reading) -> None:
    source = ScriptedSource([SourceShard("s")], {"s": [1, 2, 3]})
    reader = reading.reader(source, page_records=1, pages_a_pass=2)
    assert await reader.run_pass() == 2
    assert await reader.run_pass() == 1
    assert await reader.run_pass() == 0
    assert await reading.buffered() == b"1;2;3;"


async def test_a_reader_whose_lease_was_taken_over_writes_nothing(reading: Reading) -> None:
    source = ScriptedSource([SourceShard("s")], {"s": [1]})
    first = reading.reader(source, owner="gw-a", lease_ms=100)
    assert await first.run_pass(now=1_000) == 1
    source.records["s"].append(2)
    second = reading.reader(source, owner="gw-b", lease_ms=100)
    assert await second.run_pass(now=1_050) == 0  # the first's lease still runs
    assert source.reads == ["s", "s"]  # the first pass's page, then the empty one
    assert await second.run_pass(now=1_200) == 1  # taken over once it ran out
    store = reading.fire.firehose.store
    tenant = reading.fire.tenant_id
    assert (await store.checkpoints(tenant, "from-k"))["s@0"].sequence == "2"
    assert not await store.save_checkpoint(tenant, "from-k", "gw-a", "s", SourceCheckpoint(), 0)
