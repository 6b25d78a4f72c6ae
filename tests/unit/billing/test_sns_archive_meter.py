"""Decision 0175's meter: SNS FIFO topics' archived bytes sampled as held, in byte-hours cut
at each hour as S3's storage is, from the archive store's count per tenant, and priced per
GiB-month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from andromede.billing.model import HOURS_PER_MONTH, catalogue, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import SNS_ARCHIVE_SAMPLER, BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.notifications.memory_archive import MemoryArchiveStore

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
DECEMBER = parse_month("2026-12")


def test_the_meter_is_byte_hours_priced_per_gib_month() -> None:
    meter = catalogue([])["sns.archive"]
    assert meter.unit == "byte-hours"
    assert meter.divisor == 1024**3 * HOURS_PER_MONTH


async def test_archived_bytes_are_byte_hours_cut_at_each_hour() -> None:
    now = [T0]
    store = MemoryBillingStore()
    billing = BillingService(store, region="eu-fr-1", instance_types=[], clock=lambda: now[0])
    archive = MemoryArchiveStore()
    topic = "arn:aws:sns:eu-fr-1:t1:orders.fifo"
    await archive.archive("t1", topic, "x" * 3600, T0, T0 + timedelta(days=1))

    async def held() -> dict[tuple[str, str], int]:
        return {(t, "eu-fr-1"): n for t, n in (await archive.archived_bytes()).items()}

    sampler = UsageSampler(billing, interval=60, sns_archive_bytes=held)
    await sampler.sample()  # the first sample starts the clock
    now[0] = T0 + timedelta(minutes=45)  # 09:30 -> 10:15: half an hour, then a quarter
    await sampler.sample()
    by_hour = {
        (i.meter, i.hour.hour): i.quantity
        for i in await store.usage_by_hour("t1", DECEMBER.start, DECEMBER.end)
    }
    assert by_hour == {("sns.archive", 9): 1800, ("sns.archive", 10): 900}
    assert not await billing.sample_amounts(SNS_ARCHIVE_SAMPLER, await held())
