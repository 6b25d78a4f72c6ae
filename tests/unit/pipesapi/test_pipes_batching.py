"""Decision 0268's batching options: ``MaximumBatchingWindowInSeconds`` a real window (a
batch smaller than ``BatchSize`` waits until its oldest event is that old, a stream's records
left unread, an SQS batch's messages held); ``ParallelizationFactor`` lanes of one shard's
batch executed at once, each key's events in order; ``AUTOMATIC_BISECT`` splitting a failed
stream batch down to the record that fails, which alone goes to the dead-letter queue, the
others sent."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from andromede.pipes.model import Pipe
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from support.kinesisapp import kinesis_world
from support.pipes_streams import Rig
from support.pipesapp import World, allow


class SlowTarget:
    """A ``PipeTarget`` taking a while per event, keeping the order events were sent in and
    how many were under way at once; it fails an event whose ``n`` is in ``failing``."""

    def __init__(self, *failing: int) -> None:
        self.failing = set(failing)
        self.sent: list[tuple[str, int]] = []
        self.busy = 0
        self.most_busy = 0

    async def send(
        self, pipe: Pipe, payload: str, event: dict[str, Any], *, trace: str | None = None
    ) -> None:
        data = event["data"]  # as the filters see it: read as JSON
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        await asyncio.sleep(0.005)
        self.busy -= 1
        if data["n"] in self.failing:
            raise RuntimeError(f"record {data['n']} refused")
        self.sent.append((str(event["partitionKey"]), int(data["n"])))


async def _stream(world: Any, *records: tuple[str, int]) -> str:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    for key, n in records:
        await world.client(
            "PutRecord", StreamName="s", PartitionKey=key, Data=json.dumps({"n": n}).encode()
        )
    summary = await world.client("DescribeStreamSummary", StreamName="s")
    return str(summary["StreamDescriptionSummary"]["StreamARN"])


async def _pipe(rig: Rig, stream: str, **params: Any) -> None:
    role = await rig.role(allow("kinesis:*", "sqs:SendMessage"))
    await rig.pipes.create(rig.tenant_id, "p", {
        "Source": stream, "Target": await rig.queue("out"), "RoleArn": role,
        "SourceParameters": {"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON",
                                                          **params}},
    })  # fmt: skip


def _runner(rig: Rig, target: SlowTarget) -> PipesRunner:
    return PipesRunner(rig.pipes, rig.sources, target, RunnerPolicy(), "gw")


async def test_lanes_run_at_once_keeping_each_keys_order(tmp_path: Path) -> None:
    # Keys "a" and "d" fall in different lanes of two.
    records = [("a", 1), ("d", 2), ("a", 3), ("d", 4), ("a", 5), ("d", 6)]
    for factor, most in ((1, 1), (2, 2)):
        async for world in kinesis_world(tmp_path / str(factor)):
            stream = await _stream(world, *records)
            rig = Rig(
                tmp_path / str(factor), world.identity, world.tenant_id, kinesis=world.kinesis
            )
            await _pipe(rig, stream, ParallelizationFactor=factor)
            target = SlowTarget()
            assert await _runner(rig, target).run_pass() == 6
            assert target.most_busy == most
            for key in ("a", "d"):
                assert [n for k, n in target.sent if k == key] == [
                    n for k, n in records if k == key
                ]
            assert len(await rig.pipes.store.checkpoints(rig.tenant_id, "p")) == 1
            rig.keys.close()


async def test_a_failed_batch_is_bisected_down_to_its_bad_record(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        stream = await _stream(world, ("k", 1), ("k", 2), ("k", 3), ("k", 4))
        rig = Rig(tmp_path, world.identity, world.tenant_id, kinesis=world.kinesis)
        dead = await rig.queue("dead")
        await _pipe(
            rig,
            stream,
            MaximumRetryAttempts=0,
            OnPartialBatchItemFailure="AUTOMATIC_BISECT",
            DeadLetterConfig={"Arn": dead},
        )
        target = SlowTarget(3)
        runner = _runner(rig, target)
        for _ in range(6):
            await runner.run_pass()
        assert [n for _, n in target.sent][-3:] == [1, 2, 4]  # 1, 2 again once bisected
        assert 4 in [n for _, n in target.sent]
        (letter,) = await rig.bodies("dead")
        info = letter["KinesisBatchInfo"]
        assert isinstance(info, dict) and info["batchSize"] == 1  # the bad record alone
        rig.keys.close()


async def test_without_bisect_the_whole_batch_is_given_up(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        stream = await _stream(world, ("k", 1), ("k", 2), ("k", 3), ("k", 4))
        rig = Rig(tmp_path, world.identity, world.tenant_id, kinesis=world.kinesis)
        dead = await rig.queue("dead")
        await _pipe(rig, stream, MaximumRetryAttempts=0, DeadLetterConfig={"Arn": dead})
        target = SlowTarget(3)
        runner = _runner(rig, target)
        for _ in range(4):
            await runner.run_pass()
        assert 4 not in [n for _, n in target.sent]
        (letter,) = await rig.bodies("dead")
        assert letter["KinesisBatchInfo"]["batchSize"] == 4  # type: ignore[index]
        rig.keys.close()


async def test_a_stream_batch_waits_for_its_window(tmp_path: Path) -> None:
    async for world in kinesis_world(tmp_path):
        stream = await _stream(world, ("k", 1), ("k", 2))
        rig = Rig(tmp_path, world.identity, world.tenant_id, kinesis=world.kinesis)
        await _pipe(rig, stream, BatchSize=10, MaximumBatchingWindowInSeconds=30)
        target = SlowTarget()
        runner = _runner(rig, target)
        now = int(time.time() * 1000)
        assert await runner.run_pass(now) == 0  # 2 of 10, the oldest younger than 30 s
        assert await runner.run_pass(now + 1_000) == 0
        assert await runner.run_pass(now + 31_000) == 2
        assert [n for _, n in target.sent] == [1, 2]
        rig.keys.close()


async def test_a_queue_batch_is_held_for_its_window(world: World) -> None:
    source = await world.queue("in")
    target = await world.queue("out")
    role = await world.role()
    await world.client(
        "CreatePipe",
        Name="p",
        Source=source,
        Target=target,
        RoleArn=role,
        SourceParameters={
            "SqsQueueParameters": {"BatchSize": 3, "MaximumBatchingWindowInSeconds": 20}
        },
    )
    now = int(time.time() * 1000)
    await world.runner.run_pass(now)
    await world.send("in", "one")
    assert await world.runner.run_pass(now + 100) == 0  # held: 1 of 3, young
    await world.send("in", "two")
    assert await world.runner.run_pass(now + 200) == 0
    await world.send("in", "three")
    assert await world.runner.run_pass(now + 300) == 3  # full: it goes at once
    assert len(await world.bodies("out")) == 3
    await world.send("in", "four")
    assert await world.runner.run_pass(now + 400) == 0
    assert await world.runner.run_pass(now + 400 + 21_000) == 1  # the window has passed
    assert await world.bodies("in") == []
