"""Route 53's health checkers (decision 0285): every gateway runs a round every
``route53_health_check_round`` seconds; of the checks due, each is claimed by one gateway
(the store's compare-and-set on its claim, as alarms are claimed), which moves its next
check on by its ``RequestInterval`` and runs it:

- an endpoint check (HTTP, HTTPS, ``*_STR_MATCH``, TCP) is probed (``health_probe``);
- a CALCULATED check counts its children's statuses as DNS answers them (a deleted child
  unhealthy) against ``HealthThreshold``;
- a CLOUDWATCH_METRIC check reads its alarm's state: OK healthy, ALARM unhealthy, otherwise
  (insufficient data, or the alarm gone) ``InsufficientDataHealthStatus`` decides
  (``LastKnownStatus`` keeps the status);
- a disabled check is not run: it is healthy (AWS's rule).

``FailureThreshold`` consecutive results against the status flip it (the first result sets
it); each result is an observation of this gateway, kept for GetHealthCheckStatus (and a
failure for GetHealthCheckLastFailureReason). Each round puts ``AWS/Route53``
``HealthCheckStatus`` (1 healthy, 0 not, as DNS answers it), ``HealthCheckPercentageHealthy``
(of the kept observations) and, for a CALCULATED check, ``ChildHealthCheckHealthyCount``
into CloudWatch, dimension ``HealthCheckId``, so that an alarm can watch them; with
``MeasureLatency``, ``ConnectionTime``, ``SSLHandshakeTime`` and ``TimeToFirstByte`` by
``HealthCheckId`` and ``Region``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.route53.health_model import (
    CALCULATED,
    CLOUDWATCH_METRIC,
    FAILURE,
    SUCCESS,
    HealthCheck,
    HealthStatus,
    Observation,
    alarm_healthy,
    calculated_healthy,
    observed,
)
from andromede.route53.health_probe import Prober, ProbeResult
from andromede.route53.health_store import HealthCheckStore

__all__ = ["AlarmState", "CheckerIdentity", "HealthCheckers"]

log = logging.getLogger(__name__)

# tenant, the alarm's Region, its name → its state ("OK", "ALARM", "INSUFFICIENT_DATA"),
# None when it does not exist (or is in a Region this gateway does not hold).
AlarmState = Callable[[str, str, str], Awaitable[str | None]]
# Told the checks of an account whose answered status flipped (decision 0284's
# ``health_changed``: the zones naming them are answered again).
Flipped = Callable[[str, Collection[str]], Awaitable[None]]
NAMESPACE = "AWS/Route53"


class MetricsSink(Protocol):
    """CloudWatch's platform sink (``metrics.sink``), as the wiring hands it (the layers
    stay apart)."""

    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
        *,
        resolution: int = 60,
    ) -> None: ...


@dataclass(frozen=True)
class CheckerIdentity:
    """How this gateway's observations are named: its Region and address."""

    region: str
    address: str


class HealthCheckers:
    def __init__(
        self,
        store: HealthCheckStore,
        prober: Prober,
        identity: CheckerIdentity,
        *,
        metrics: MetricsSink | None = None,
        alarm_state: AlarmState | None = None,
        batch: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._prober = prober
        self._identity = identity
        self._metrics = metrics
        self._alarm_state = alarm_state
        self._batch = batch
        self._clock = clock
        self.flipped: Flipped | None = None

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def run_round(self) -> int:
        """Claim and run the checks due; how many this gateway ran."""
        now = self._now()
        mine = []
        for check, token in await self._store.due(now, self._batch):
            interval = check.config.request_interval or 10
            if await self._store.claim(check.health_check_id, token, now + interval * 1000):
                mine.append(check)
        # Endpoints first, all at once; then the checks that read other checks' statuses.
        firsts = [c for c in mine if c.config.type != CALCULATED]
        ran = await asyncio.gather(*(self._run(c) for c in firsts))
        flips = [check for check, flipped in zip(firsts, ran, strict=True) if flipped]
        for check in mine:
            if check.config.type == CALCULATED and await self._run(check):
                flips.append(check)
        await self._tell(flips)
        return len(mine)

    async def _tell(self, flips: list[HealthCheck]) -> None:
        if not flips or self.flipped is None:
            return
        by_tenant: dict[str, list[str]] = {}
        for check in flips:
            by_tenant.setdefault(check.tenant_id, []).append(check.health_check_id)
        for tenant_id, ids in sorted(by_tenant.items()):
            try:
                await self.flipped(tenant_id, ids)
            except Exception:  # the zones are pushed again at their next change or resync
                log.exception("Route 53: a health check's flip could not be told")

    async def _run(self, check: HealthCheck) -> bool:
        """Run the check; whether the status DNS answers with flipped."""
        try:
            status, children, result = await self._evaluate(check)
        except Exception:  # one check's failure must not stop the others' round
            log.exception("Route 53: health check %s could not be run", check.health_check_id)
            return False
        await self._store.set_status(check.health_check_id, status)
        after = check.replaced(status=status)
        self._publish(after, children)
        if result is not None and check.config.measure_latency:
            self._publish_latency(check, result)
        return after.answered_healthy() != check.answered_healthy()

    async def _evaluate(
        self, check: HealthCheck
    ) -> tuple[HealthStatus, int | None, ProbeResult | None]:
        """The check's new status, how many of its children are healthy (CALCULATED), and
        the result that made it (None: no new result)."""
        config = check.config
        status = check.status
        if config.disabled:
            return status, None, None
        now = self._now()
        threshold = 1
        count: int | None = None
        result: ProbeResult | None
        if config.type == CALCULATED:
            children = {}
            for child in config.children or ():
                found = await self._store.get(check.tenant_id, child)
                children[child] = found is not None and found.answered_healthy()
            healthy = calculated_healthy(config, children)
            count = sum(children.values())
            result = ProbeResult(
                healthy,
                f"{SUCCESS if healthy else FAILURE}: {count} of {len(children)} child "
                "health checks are healthy.",
            )
        elif config.type == CLOUDWATCH_METRIC:
            result = await self._alarm(check)
            if result is None:
                return status, None, None
        else:
            threshold = config.failure_threshold or 3
            result = await self._prober.probe(config)
        observation = Observation(self._identity.region, self._identity.address, result.report, now)
        return observed(status, result.healthy, observation, threshold), count, result

    async def _alarm(self, check: HealthCheck) -> ProbeResult | None:
        alarm = check.config.alarm
        state = None
        if alarm is not None and self._alarm_state is not None:
            state = await self._alarm_state(check.tenant_id, alarm.region, alarm.name)
        fallback = check.config.insufficient_data or "LastKnownStatus"
        healthy = alarm_healthy(state, fallback)
        if healthy is None:  # LastKnownStatus: nothing changes
            return None
        if state in ("OK", "ALARM"):
            said = SUCCESS if healthy else FAILURE
            return ProbeResult(healthy, f"{said}: The CloudWatch alarm is in the {state} state.")
        why = "has insufficient data" if state is not None else "does not exist"
        return ProbeResult(healthy, f"{fallback}: The CloudWatch alarm {why}.")

    def _publish_latency(self, check: HealthCheck, result: ProbeResult) -> None:
        """``MeasureLatency``: the probe's times, by check and checker Region, as AWS's."""
        if self._metrics is None:
            return
        dimensions = [("HealthCheckId", check.health_check_id), ("Region", self._identity.region)]
        for name, milliseconds in result.latency:
            self._metrics.record(
                check.tenant_id, NAMESPACE, name, dimensions, milliseconds, "Milliseconds"
            )

    def _publish(self, check: HealthCheck, children: int | None) -> None:
        if self._metrics is None:
            return
        dimensions = [("HealthCheckId", check.health_check_id)]
        record = self._metrics.record
        tenant = check.tenant_id
        record(tenant, NAMESPACE, "HealthCheckStatus", dimensions, float(check.reported_healthy()))
        observations = check.status.observations
        if observations and check.config.type != CALCULATED:
            good = sum(1 for o in observations if o.report.startswith(SUCCESS))
            share = 100.0 * good / len(observations)
            record(tenant, NAMESPACE, "HealthCheckPercentageHealthy", dimensions, share, "Percent")
        if children is not None:
            record(tenant, NAMESPACE, "ChildHealthCheckHealthyCount", dimensions, float(children))
