"""Decision 0224's meter: CloudWatch Logs' stored bytes (each message and 26 bytes, as the
log store keeps them) sampled as held, in byte-hours cut at each hour as S3's storage is,
from the log store's count per tenant, and priced per GiB-month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from andromede.billing.model import HOURS_PER_MONTH, catalogue, parse_month
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import LOGS_STORAGE_SAMPLER, BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.logs.memory import MemoryLogStore
from andromede.logs.model import LogGroup, LogStream, StoredEvent

T0 = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
DECEMBER = parse_month("2026-12")


def test_the_meter_is_byte_hours_priced_per_gib_month() -> None:
    meter = catalogue([])["logs.storage"]
    assert meter.unit == "byte-hours"
    assert meter.divisor == 1024**3 * HOURS_PER_MONTH


async def test_stored_log_bytes_are_byte_hours_cut_at_each_hour() -> None:
    now = [T0]
    store = MemoryBillingStore()
    billing = BillingService(store, region="eu-fr-1", instance_types=[], clock=lambda: now[0])
    logs = MemoryLogStore()
    at = int(T0.timestamp() * 1000)
    await logs.create_group(LogGroup("t1", "/app", at), 10)
    await logs.create_stream(LogStream("t1", "/app", "s", at))
    assert await logs.append("t1", "/app", "s", [StoredEvent("s", at, at, 3600, b"sealed")])

    async def held() -> dict[tuple[str, str], int]:
        return {(t, "eu-fr-1"): n for t, n in (await logs.stored_bytes_by_tenant()).items()}

    sampler = UsageSampler(billing, interval=60, logs_stored_bytes=held)
    await sampler.sample()  # the first sample starts the clock
    now[0] = T0 + timedelta(minutes=45)  # 09:30 -> 10:15: half an hour, then a quarter
    await sampler.sample()
    by_hour = {
        (i.meter, i.hour.hour): i.quantity
        for i in await store.usage_by_hour("t1", DECEMBER.start, DECEMBER.end)
    }
    assert by_hour == {("logs.storage", 9): 1800, ("logs.storage", 10): 900}
    assert not await billing.sample_amounts(LOGS_STORAGE_SAMPLER, await held())
