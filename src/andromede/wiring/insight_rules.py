"""CloudWatch Contributor Insights' wiring (decision 0272): the service over the metadata
database with the settings' limits, fed by CloudWatch Logs as a subscriber of its groups (the
events PutLogEvents accepted, masked as every reader sees them), its minutes sealed under the
account's own key ring as the Logs subscriptions' records are (``LogKeySealer``), and the
upkeep task every ``serve`` runs: each ``insight_rules_flush_interval`` the gateway's tallied
minutes are written, and the minutes past ``insight_rules_retention_days`` forgotten.

**Billing**, as AWS bills it: each matched event counts one ``cloudwatch.insight-rule-events``
(counted by the gateway that matched it, at its flush), and every hour one gateway (the hour
claimed in ``metric_runs``) counts an hour of ``cloudwatch.insight-rules`` for each enabled
rule of each account. A closed account's rules and minutes are forgotten with its log groups
(``LogsService.forgetters``)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Final

from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.kms.service import KeyService
from andromede.logs.model import InputEvent, LogGroup
from andromede.logs.service import LogsService
from andromede.metrics.insight_service import InsightLimits, InsightRuleService
from andromede.metrics.insight_store_sql import SqlInsightRuleStore
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.settings import Settings
from andromede.wiring.logs import LogKeySealer

__all__ = [
    "INSIGHT_RULE_EVENTS",
    "INSIGHT_RULE_HOURS",
    "AccountRingSealer",
    "InsightRuleFeed",
    "bill_rule_hours",
    "insight_rule_service",
    "insight_rules",
    "meter_matched_events",
]

log = logging.getLogger(__name__)

INSIGHT_RULE_HOURS: Final = "cloudwatch.insight-rules"
INSIGHT_RULE_EVENTS: Final = "cloudwatch.insight-rule-events"
_BILLING_JOB: Final = "insight-rules-billing"


class AccountRingSealer:
    """``ContributionSealer`` over the Logs sealer, under the account's own key ring (a rule
    reads many groups, each perhaps under its own KMS key: its minutes are the account's)."""

    def __init__(self, sealer: LogKeySealer) -> None:
        self._sealer = sealer

    async def seal(self, tenant_id: str, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        return await self._sealer.seal(LogGroup(tenant_id, "", 0), items)

    async def open(self, tenant_id: str, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        return await self._sealer.open(LogGroup(tenant_id, "", 0), items)


class InsightRuleFeed:
    """``GroupSubscriber`` of the Logs service: its accepted events to the rules."""

    def __init__(self, service: InsightRuleService) -> None:
        self._service = service

    async def ingested(
        self, group: LogGroup, stream: str, events: Sequence[InputEvent], now: int
    ) -> None:
        try:
            await self._service.observe(
                group.tenant_id, group.name, [(e.timestamp, e.message) for e in events]
            )
        except Exception:  # the events are stored: the rules' miss must not fail the put
            log.warning(
                "log events of %s not fed to its insight rules", group.tenant_id, exc_info=True
            )

    async def group_deleted(self, tenant_id: str, group_name: str) -> None:
        return None  # a rule names groups, not ones that exist: it stays as it was put


def insight_rule_service(settings: Settings, db: Database, keys: KeyService) -> InsightRuleService:
    return InsightRuleService(
        SqlInsightRuleStore(db),
        AccountRingSealer(LogKeySealer(keys, None)),
        settings.region,
        InsightLimits(
            max_per_account=settings.insight_rules_max_per_account,
            max_contributors=settings.insight_rules_max_contributors,
            list_page=settings.insight_rules_list_page,
            cache_ms=int(settings.insight_rules_cache * 1000),
            report_max_datapoints=settings.insight_rules_report_max_datapoints,
            retention_days=settings.insight_rules_retention_days,
        ),
    )


def meter_matched_events(service: InsightRuleService, billing: BillingService, region: str) -> None:
    """Each matched event billed to the rule's account when its minute is written."""
    service.matched = lambda tenant_id, events: billing.count(
        tenant_id, region, INSIGHT_RULE_EVENTS, events
    )


async def bill_rule_hours(
    service: InsightRuleService,
    runs: SqlMetricRuns,
    billing: BillingService,
    region: str,
    holder: str,
    now_s: float,
) -> int:
    """Count the last whole hour's rule-hours, if this gateway claims that hour; how many."""
    hour = int(now_s // 3600) - 1
    if not await runs.claim(_BILLING_JOB, hour, holder, int(now_s), 600):
        return 0
    counts = await service.store.enabled_counts()
    for tenant_id, rules in counts.items():
        billing.count(tenant_id, region, INSIGHT_RULE_HOURS, rules)
    await runs.done(_BILLING_JOB, hour, holder)
    return sum(counts.values())


async def _upkeep(
    settings: Settings,
    service: InsightRuleService,
    runs: SqlMetricRuns,
    billing: BillingService | None,
    holder: str,
) -> None:
    rounds = 0
    while True:
        await asyncio.sleep(settings.insight_rules_flush_interval)
        rounds += 1
        try:
            await service.flush()
            if rounds % 60 == 1:  # the sweep and the hour's bill need not run every flush
                await service.expire()
                if billing is not None:
                    await bill_rule_hours(
                        service, runs, billing, settings.region, holder, time.time()
                    )
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("the Contributor Insights minutes were not written")


def insight_rules(
    settings: Settings,
    db: Database,
    keys: KeyService,
    logs: LogsService,
    metrics: MetricsService,
    billing: BillingService | None,
    background: list[asyncio.Task[None]],
) -> InsightRuleService:
    """The service for CloudWatch's app, fed by ``logs``, read by ``metrics``' metric math
    (``INSIGHT_RULE_METRIC``), its upkeep started into ``background``, a closed account's
    rules forgotten with its log groups."""
    service = insight_rule_service(settings, db, keys)
    metrics.insights = service
    if billing is not None:
        meter_matched_events(service, billing, settings.region)
    logs.subscribers.append(InsightRuleFeed(service))
    logs.forgetters.append(service.forget_tenant)
    holder = f"insights-{uuid.uuid4().hex}"  # this gateway, as it claims an hour's bill
    task = _upkeep(settings, service, SqlMetricRuns(db), billing, holder)
    background.append(asyncio.create_task(task, name="insight-rules"))
    return service
