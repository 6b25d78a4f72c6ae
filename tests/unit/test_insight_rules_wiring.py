"""Decision 0272's wiring: Contributor Insights over SQLite, fed by the CloudWatch Logs service
as one of its groups' subscribers — events put with PutLogEvents reach the account's enabled
rules that cover the group (masked as readers see them), their minutes are stored sealed
under the account's key ring (no contributor readable in the table), read back by a report;
the matched events and the rules' hours are billed (an hour once, whichever gateway claims
it); a closed account's rules go with its log groups."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.logs.model import InputEvent
from andromede.metrics.errors import InvalidParameterValue, LimitExceeded
from andromede.metrics.insight_rules import DISABLED, InsightRule
from andromede.metrics.insight_service import InsightLimits, InsightRuleService
from andromede.metrics.insight_store import MemoryInsightRuleStore
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.metrics.store import MemoryMetricStore
from andromede.settings import Settings
from andromede.wiring.insight_rules import (
    AccountRingSealer,
    InsightRuleFeed,
    bill_rule_hours,
    insight_rule_service,
    insight_rules,
)
from andromede.wiring.logs import LogKeySealer
from support.insight_rules import definition
from support.kmskit import REGION
from support.logsapp import NOW, LogsWorld, logs_world
from support.schema import migrated_sqlite

TENANT = "123456789012"


@pytest.fixture
def world(tmp_path: Path) -> LogsWorld:
    return next(logs_world(tmp_path / "logs"))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        yield database
    finally:
        await database.close()


def request(ip: str, status: int) -> InputEvent:
    return InputEvent(NOW, json.dumps({"ip": ip, "status": status}))


async def test_log_events_reach_the_rules_sealed_billed_and_forgotten(
    world: LogsWorld, db: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, region=REGION)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    background: list[asyncio.Task[None]] = []
    metrics = MetricsService(MemoryMetricStore())
    service = insight_rules(
        settings, db, world.kit.keys, world.service, metrics, billing, background
    )
    try:
        errors = definition(
            LogGroupNames=["api-*"],
            Contribution={"Keys": ["$.ip"], "Filters": [{"Match": "$.status", "EqualTo": 500}]},
        )
        await service.put(TENANT, "errors", None, errors, None, None)
        await service.put(TENANT, "off", DISABLED, definition(), None, None)
        for group in ("api-eu", "other"):
            await world.service.create_group(TENANT, group, None, {})
            await world.service.create_stream(TENANT, group, "s")
        batch = [request("10.0.0.1", 500), request("10.0.0.1", 500), request("10.0.0.2", 500),
                 request("10.0.0.3", 200)]  # fmt: skip
        await world.service.put_events(TENANT, "api-eu", "s", batch)
        await world.service.put_events(TENANT, "other", "s", [request("10.9.9.9", 500)])
        start = datetime.fromtimestamp(NOW // 60_000 * 60, UTC)
        end = datetime.fromtimestamp(NOW // 60_000 * 60 + 60, UTC)
        params = {"RuleName": "errors", "StartTime": start, "EndTime": end, "Period": 60}
        _, found = await service.report(TENANT, params)
        assert [(k, v) for k, v, _ in found.contributors] == [
            (("10.0.0.1",), 2.0),
            (("10.0.0.2",), 1.0),
        ]
        assert found.aggregate_value == 3.0
        rows = await db.read(
            lambda conn: conn.execute(sa.select(tables.insight_rule_minutes.c.sealed)).all()
        )
        assert rows and all(b"10.0.0" not in bytes(r[0]) for r in rows)
        # Billing: the matched events, then an hour of each enabled rule, claimed once.
        runs = SqlMetricRuns(db)
        now_s = NOW / 1000
        assert await bill_rule_hours(service, runs, billing, REGION, "g1", now_s) == 1
        assert await bill_rule_hours(service, runs, billing, REGION, "g2", now_s) == 0
        await billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        usage = {
            line.meter: line.quantity for line in (await billing.usage_report(TENANT, month)).lines
        }
        assert usage["cloudwatch.insight-rule-events"] == 3
        assert usage["cloudwatch.insight-rules"] == 1
        # A closed account's rules go with its log groups.
        await world.service.forget_tenant(TENANT)
        assert await service.store.page(TENANT, "", 10) == []
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await billing.close()


class BrokenStore(MemoryInsightRuleStore):
    async def enabled(self, tenant_id: str) -> list[InsightRule]:
        raise OSError("the database is gone")


async def test_a_failing_rule_store_never_fails_the_put(world: LogsWorld) -> None:
    sealer = AccountRingSealer(LogKeySealer(world.kit.keys, None))
    service = InsightRuleService(BrokenStore(), sealer, REGION)
    world.service.subscribers.append(InsightRuleFeed(service))
    await world.service.create_group(TENANT, "api-eu", None, {})
    await world.service.create_stream(TENANT, "api-eu", "s")
    batch = await world.service.put_events(TENANT, "api-eu", "s", [request("1.1.1.1", 500)])
    assert len(batch.accepted) == 1
    assert service.tally.drain() == ({}, {})


async def test_the_settings_are_the_services_limits(
    world: LogsWorld, db: Database, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        region=REGION,
        insight_rules_max_per_account=1,
        insight_rules_max_contributors=2,
        insight_rules_list_page=3,
        insight_rules_cache=0.25,
        insight_rules_report_max_datapoints=4,
        insight_rules_retention_days=5,
    )
    service = insight_rule_service(settings, db, world.kit.keys)
    assert service.limits == InsightLimits(
        max_per_account=1,
        max_contributors=2,
        list_page=3,
        cache_ms=250,
        report_max_datapoints=4,
        retention_days=5,
    )
    await service.put(TENANT, "one", None, definition(), None, None)
    with pytest.raises(LimitExceeded):
        await service.put(TENANT, "two", None, definition(), None, None)
    start = datetime.fromtimestamp(0, UTC)
    params = {"RuleName": "one", "StartTime": start, "Period": 60}
    with pytest.raises(InvalidParameterValue, match="more than 4"):
        await service.report(TENANT, {**params, "EndTime": start + timedelta(minutes=5)})
    await service.report(TENANT, {**params, "EndTime": start + timedelta(minutes=4)})
    with pytest.raises(InvalidParameterValue, match="between 1 and 3"):
        await service.describe(TENANT, 4, None)
