"""Decision 0398: an HTTP endpoint's backup copies — the records it acknowledged (``AllData``),
and the error lines of those given up — within ``firehose_max_buffered_bytes``, as the copies
appended are. Copies of an acknowledged batch past the bound are lost, loudly (the endpoint has
the data; it is never held nor sent twice); a given-up batch whose lines do not fit waits while
the backup's copies free room (AWS pauses such a stream, the endpoint tried again), and keeps
what fits once none is left. Over the memory store and the migrated SQLite schema, a real HTTP
receiver on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.firehose.http_delivery import BUFFER_FULL
from andromede.firehose.store_sql import SqlFirehoseStore
from support.batch_world import read
from support.firehoseapp import World, firehose_world
from support.schema import migrated_sqlite
from unit.firehoseapi import test_firehose_http_endpoint as endpoint_tests
from unit.firehoseapi.test_firehose_http_endpoint import Receiver, http_stream, keys, later, put
from unit.firehoseapi.test_firehose_logs_processing import GZIP

receiver = endpoint_tests.receiver  # the loopback HTTP endpoint fixture
BOUND = 4096
SETTINGS = {
    "firehose_http_endpoint_allow_http": True,
    "firehose_http_endpoint_allow_cidrs": ("127.0.0.0/8",),
    "firehose_http_endpoint_timeout": 1.0,
    "firehose_max_buffered_bytes": BOUND,
}


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    if request.param == "memory":
        async for made in firehose_world(tmp_path, **SETTINGS):
            yield made
        return
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        async for made in firehose_world(tmp_path, SqlFirehoseStore(db), **SETTINGS):
            yield made
    finally:
        await db.close()


def failing(world: World, receiver: Receiver, times: int) -> None:
    receiver.answers = [lambda d: (500, b'{"errorMessage":"down"}')] * times


async def held(world: World) -> tuple[int, int]:
    """The stream's intake records and its copies' bytes."""
    store = world.firehose.store
    totals = await store.totals(world.tenant_id, "to-web")
    return totals.records, (await store.copies(world.tenant_id, "to-web")).bytes


async def test_acknowledged_copies_past_the_bound_are_lost_loudly(
    world: World, receiver: Receiver
) -> None:
    """A Decompression processor makes the batch sent (its copies) larger than the batch
    buffered: the copies that fit are kept, the rest said lost (WARNING and audit, a failed
    ``BackupToS3`` attempt), the delivery itself done once."""
    gunzipped = {"Enabled": True, "Processors": [GZIP]}
    arn = await http_stream(
        world, receiver.url, S3BackupMode="AllData", ProcessingConfiguration=gunzipped
    )
    inflated = [gzip.compress(json.dumps({"n": n, "pad": "a" * 3000}).encode()) for n in (1, 2)]
    assert sum(len(data) for data in inflated) < 300  # far below the bound as buffered
    await world.firehose.put_records(world.tenant_id, arn, inflated, from_logs=True)
    assert await world.deliverer.run_pass(later(61)) == 1
    (document,) = receiver.documents()
    assert len(document["records"]) == 2  # the endpoint has both
    records, copies = await held(world)
    assert records == 0 and 3000 < copies <= BOUND  # one copy kept: two would pass the bound
    ((name, lost, why),) = world.dropped
    assert (name, lost) == ("to-web", 1) and BUFFER_FULL in why
    successes = [p[4] for p in world.sink.points if p[2] == "BackupToS3.Success"]
    assert successes == [0.0]
    assert await world.deliverer.run_pass(later(400)) == 1  # the kept copy, at its 300 s
    (key,) = await keys(world)
    assert json.loads(await read(world.objects, "landing", key))["n"] == 1
    assert len(receiver.received) == 1  # never sent again
    assert world.sink.total("BackupToS3.Records") == 1


async def test_given_up_lines_wait_for_the_copies_to_free_room(
    world: World, receiver: Receiver
) -> None:
    """A batch past its retry window whose error lines (larger than its records) do not fit
    beside an acknowledged batch's copy is held, and the endpoint tried again; once the copy
    went out, the lines take its room: nothing lost."""
    await http_stream(world, receiver.url, S3BackupMode="AllData",
                      RetryOptions={"DurationInSeconds": 0})  # fmt: skip
    await put(world, b"c" * 2000)
    assert await world.deliverer.run_pass(later(61)) == 1  # acknowledged: its copy waits
    failing(world, receiver, 10)
    await put(world, b"f" * 1500)  # its line: ~2 kB of base64 and AWS's fields
    assert await world.deliverer.run_pass(later(122)) == 0
    assert await held(world) == (1, 2000)  # held: the line would pass the bound
    assert world.dropped == []
    assert await world.deliverer.run_pass(later(200)) == 0  # tried again, still held
    assert len(receiver.received) == 3
    assert await held(world) == (1, 2000)
    # The copy's 300 s: written, then the endpoint fails again and the line fits.
    assert await world.deliverer.run_pass(later(400)) == 1
    records, copies = await held(world)
    assert records == 0 and 2000 < copies <= BOUND
    assert await world.deliverer.run_pass(later(800)) == 1
    copy, failed = await keys(world)
    assert copy.startswith("copy/") and failed.startswith("http-endpoint-failed/")
    (line,) = (await read(world.objects, "landing", failed)).splitlines()
    assert json.loads(line)["errorCode"] == "HttpEndpoint.DestinationException"
    assert world.dropped == []


async def test_given_up_lines_past_the_bound_with_no_copy_to_wait_for(
    world: World, receiver: Receiver
) -> None:
    """No copy waits (nothing would free room, the intake behind cannot move): the lines
    that fit are kept and the others said lost, the stream going on."""
    await http_stream(world, receiver.url, RetryOptions={"DurationInSeconds": 0})
    failing(world, receiver, 10)
    await put(world, b"a" * 1500, b"b" * 1500)
    assert await world.deliverer.run_pass(later(61)) == 0
    records, copies = await held(world)
    assert records == 0 and 2000 < copies <= BOUND  # one line of two
    ((_, lost, why),) = world.dropped
    assert lost == 1 and BUFFER_FULL in why and "HttpEndpoint.DestinationException" in why
    assert await world.deliverer.run_pass(later(400)) == 1
    (failed,) = await keys(world)
    (line,) = (await read(world.objects, "landing", failed)).splitlines()
    assert json.loads(line)["errorCode"] == "HttpEndpoint.DestinationException"
