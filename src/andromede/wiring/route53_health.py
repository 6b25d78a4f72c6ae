"""Route 53 health checks' wiring (decision 0285): the health check service over the
metadata database, given to Route 53's app (``apis["route53"]``, made by
``wiring.route53``) for its health check operations; the checkers' rounds of this gateway
started into ``background``, their metrics into the platform's sink, a CLOUDWATCH_METRIC
check reading its alarm from CloudWatch's alarms of this gateway's Region.

Where Route 53's record sets take health checks (decision 0284: ``Route53Service.health``,
``health_changed``), their DNS answers read the checks' statuses through ``HealthStatuses``
and are told when one flips (by a round, an update or a deletion)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from andromede.db.database import Database
from andromede.http.outbound import networks
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.sink import MetricsSink
from andromede.route53.health_checker import CheckerIdentity, HealthCheckers
from andromede.route53.health_lookup import HealthStatuses
from andromede.route53.health_probe import Prober
from andromede.route53.health_service import HealthCheckService, HealthLimits
from andromede.route53.health_store_sql import SqlHealthCheckStore
from andromede.route53api.app import Route53App
from andromede.settings import Settings

__all__ = ["route53_health"]

log = logging.getLogger(__name__)


def health_limits(settings: Settings) -> HealthLimits:
    return HealthLimits(
        max_health_checks=settings.route53_max_health_checks,
        allowed=networks(settings.route53_health_check_allow_cidrs),
    )


async def _rounds(checkers: HealthCheckers, prober: Prober, interval: float) -> None:
    try:
        while True:
            try:
                await checkers.run_round()
            except Exception:  # a failed round must not end the loop; the next one retries
                log.exception("Route 53: a round of health checks failed")
            await asyncio.sleep(interval)
    finally:
        await prober.close()


def route53_health(
    apis: MutableMapping[str, Any],
    settings: Settings,
    db: Database,
    metrics: MetricsSink | None,
    alarms: AlarmService | None,
    background: list[asyncio.Task[None]] | None,
) -> Callable[[str], Awaitable[int]]:
    """Health checks served by Route 53's app and run by this gateway; what closing a
    tenant deletes of them."""
    app = apis[Route53App.name]
    if not isinstance(app, Route53App):  # wiring.route53 puts it there first
        raise TypeError("Route 53's app must be wired before its health checks")
    store = SqlHealthCheckStore(db)
    limits = health_limits(settings)
    service = HealthCheckService(store, limits)
    app.health = service
    zones = app.service
    zones.health = HealthStatuses(store)  # decision 0284's record sets naming checks
    service.flipped = zones.health_changed

    async def alarm_state(tenant_id: str, region: str, name: str) -> str | None:
        if alarms is None or region != settings.region:
            return None
        alarm = await alarms.store.get(tenant_id, name)
        return None if alarm is None else alarm.state.value

    if background is not None:
        prober = Prober(limits.allowed, settings.route53_health_check_timeout)
        checkers = HealthCheckers(
            store,
            prober,
            CheckerIdentity(settings.region, settings.s3_host),
            metrics=metrics,
            alarm_state=alarm_state,
            batch=settings.route53_health_check_batch,
        )
        rounds = _rounds(checkers, prober, settings.route53_health_check_round)
        checkers.flipped = zones.health_changed
        background.append(asyncio.create_task(rounds, name="route53-health-checks"))
    return store.forget_tenant
