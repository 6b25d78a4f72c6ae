"""Decision 0388's ``DataFreshness`` gauges over the in-memory store: every minute while
data waits, the oldest undelivered record's and the oldest backup copy's ages, a bounded
page of streams a tick, the round going on at the next tick."""

from __future__ import annotations

from andromede.firehose.backup_buffer import BACKUP
from andromede.firehose.freshness import PERIOD_MS, FreshnessGauges
from andromede.firehose.memory import MemoryFirehoseStore
from andromede.firehose.model import (
    DeliveryStream,
    HttpEndpoint,
    S3Destination,
    StreamStatus,
)
from andromede.firehose.store import SealedRecord

T0 = 1_800_000_000_000
MIB = 1024 * 1024


def stream(name: str, http: HttpEndpoint | None = None) -> DeliveryStream:
    return DeliveryStream(
        tenant_id="t1", name=name, region="eu-fr-1", status=StreamStatus.CREATING, version=1,
        created=T0, updated=T0,
        destination=S3Destination("arn:aws:iam::000000000001:role/r", "arn:aws:s3:::b"),
        http=http,
    )  # fmt: skip


async def test_each_minute_a_bounded_page_of_waiting_streams_is_said() -> None:
    store = MemoryFirehoseStore()
    endpoint = HttpEndpoint(url="https://collector.example/in", backup_mode="AllData")
    for made in (stream("a"), stream("b", endpoint), stream("c"), stream("idle")):
        await store.create(made, max_streams=10)
    await store.activate()
    await store.append("t1", "a", [SealedRecord("r1", 3, b"x" * 31)], T0, MIB)
    await store.append("t1", "b", [SealedRecord("r2", 3, b"x" * 31)], T0 + 1_000, MIB)
    await store.append("t1", "c", [SealedRecord("r3", 3, b"x" * 31)], T0 + 2_000, MIB)
    # An HTTP endpoint's AllData copy waiting beside its next record.
    assert await store.claim("gw", T0 + 301_000, T0 + 400_000, 10, "eu-fr-1") != []
    (sent,) = await store.batch("t1", "b", MIB)
    copy = SealedRecord(BACKUP + "r2", 3, b"c" * 31, T0 + 301_000)
    assert await store.delivered("t1", "b", "gw", sent.seq, [copy])
    await store.append("t1", "b", [SealedRecord("r4", 3, b"x" * 31)], T0 + 302_000, MIB)
    said: list[tuple[str, str, int]] = []
    gauges = FreshnessGauges(
        store, "eu-fr-1", 2,
        fresh=lambda s, destination, ms: said.append((s.name, f"DeliveryTo{destination}", ms)),
        backup_fresh=lambda s, ms: said.append((s.name, "BackupToS3", ms)),
    )  # fmt: skip
    now = T0 + 310_000
    assert await gauges.tick(now) == 2  # the first page: a, b
    assert await gauges.tick(now + 5_000) == 1  # the round goes on: c, then it is over
    assert said == [
        ("a", "DeliveryToS3", 310_000),
        ("b", "DeliveryToHttpEndpoint", 8_000),
        ("b", "BackupToS3", 9_000),
        ("c", "DeliveryToS3", 313_000),
    ]
    said.clear()
    assert await gauges.tick(now + PERIOD_MS - 1) == 0  # a minute after the round started
    assert said == []
    assert await gauges.tick(now + PERIOD_MS) == 2
    assert said[0] == ("a", "DeliveryToS3", 370_000)  # it keeps growing while it waits
