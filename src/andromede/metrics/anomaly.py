"""CloudWatch anomaly detectors (decision 0189): PutAnomalyDetector,
DescribeAnomalyDetectors and DeleteAnomalyDetector for one account at a time, and the bands
of ``ANOMALY_DETECTION_BAND`` (this service is the metrics service's
:class:`~andromede.metrics.math_band.BandSource`).

A band is computed on demand from the stored aggregates: the modelled query's values at the
band's period over the last ``history`` seconds, trained by
:func:`~andromede.metrics.anomaly_model.train` with the configuration of the account's
detector of that metric (its excluded ranges, time zone, periodic spikes) — or the defaults
where the account has none, as AWS draws a band before a detector is saved. Models are kept
in a small cache for ``cache_seconds``, so that a dashboard's refreshes and an alarm's
evaluations do not read two weeks of data each time. No background job trains anything.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from andromede.metrics.anomaly_model import (
    Detector,
    DetectorState,
    Model,
    band_of,
    check_detector,
    train,
)
from andromede.metrics.anomaly_store import DetectorStore, digest
from andromede.metrics.errors import (
    InvalidNextToken,
    InvalidParameterValue,
    LimitExceeded,
    ResourceNotFound,
)
from andromede.metrics.math_band import BAND
from andromede.metrics.math_eval import SeriesArray, TimeSeries
from andromede.metrics.model import Series
from andromede.metrics.service import DataQuery, MetricsService

__all__ = ["AnomalyLimits", "AnomalyService", "DescribedDetector"]

# The period DescribeAnomalyDetectors' StateValue is judged at: AWS's detectors are shown
# at 5 minutes in its console.
_STATE_PERIOD = 300


@dataclass(frozen=True, slots=True)
class AnomalyLimits:
    max_per_account: int = 500
    history: int = 14 * 86400
    min_points: int = 24
    cache_seconds: int = 300
    cache_size: int = 256
    page: int = 100


@dataclass(frozen=True, slots=True)
class DescribedDetector:
    detector: Detector
    state: DetectorState


class AnomalyService:
    def __init__(
        self,
        store: DetectorStore,
        metrics: MetricsService,
        *,
        limits: AnomalyLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.limits = limits or AnomalyLimits()
        self.clock = clock
        self._cache: OrderedDict[tuple[str, str, int], tuple[float, Model]] = OrderedDict()

    # --- the account's calls ----------------------------------------------------------------

    async def put(self, detector: Detector) -> None:
        detector = check_detector(detector)
        if detector.queries:
            # The expression checked now, read over one period (unknown Ids, an array of
            # series) rather than at each band.
            period = _period_of(detector.queries)
            now = int(self.clock().timestamp())
            await self.metrics.expression_values(
                detector.tenant_id, detector.queries, now - now % period - period, 1, period
            )
        held = await self.store.get(detector.tenant_id, digest(detector))
        if held is None and await self.store.count(detector.tenant_id) >= (
            self.limits.max_per_account
        ):
            raise LimitExceeded(
                f"The account holds {self.limits.max_per_account} anomaly detectors already "
                "(anomaly_max_detectors)."
            )
        await self.store.put(detector, int(self.clock().timestamp() * 1_000_000))
        self._forget(detector.tenant_id)

    async def delete(self, detector: Detector) -> None:
        if not await self.store.delete(detector.tenant_id, digest(check_detector(detector))):
            raise ResourceNotFound("No anomaly detector watches this metric.")
        self._forget(detector.tenant_id)

    async def describe(
        self,
        tenant_id: str,
        *,
        namespace: str | None = None,
        metric_name: str | None = None,
        dimensions: Sequence[tuple[str, str]] = (),
        types: Sequence[str] = (),
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[DescribedDetector], str | None]:
        """A page of the account's detectors, filtered, oldest first, each with its state."""
        wanted = {"SINGLE_METRIC", "METRIC_MATH"}
        if any(t not in wanted for t in types):
            raise InvalidParameterValue("AnomalyDetectorTypes are SINGLE_METRIC or METRIC_MATH.")
        limit = self.limits.page if max_results is None else max_results
        if not 1 <= limit <= self.limits.page:
            raise InvalidParameterValue(f"MaxResults must be between 1 and {self.limits.page}.")
        after = _untoken(next_token) if next_token else 0
        found: list[DescribedDetector] = []
        token: str | None = None
        while True:
            chunk = await self.store.page(tenant_id, after, limit)
            for created, detector in chunk:
                after = created
                if not _matches(detector, namespace, metric_name, dimensions, types):
                    continue
                found.append(DescribedDetector(detector, await self._state(detector)))
                if len(found) == limit:
                    return found, _token(after)
            if len(chunk) < limit:
                return found, token

    # --- bands ------------------------------------------------------------------------------

    async def band(
        self,
        tenant_id: str,
        ref: str,
        stddevs: float,
        queries: Sequence[DataQuery],
        low: int,
        high: int,
        period: int,
    ) -> SeriesArray:
        """ANOMALY_DETECTION_BAND(ref, stddevs) over [low, high): its lower and upper edges."""
        modelled = next((q for q in queries if q.id == ref), None)
        if modelled is None:
            raise InvalidParameterValue(f"{BAND} references an unknown Id {ref[:255]}.")
        if BAND in (modelled.expression or ""):
            raise InvalidParameterValue(f"{BAND} cannot model another band.")
        model = await self._model(tenant_id, modelled, queries, modelled.period or period)
        lower, upper = TimeSeries("Lower", period), TimeSeries("Upper", period)
        for at in range(low, high, period):
            edges = band_of(model, at, stddevs)
            if edges is not None:
                lower.points[at] = edges.lower
                upper.points[at] = edges.upper
        return SeriesArray([lower, upper])

    async def _model(
        self, tenant_id: str, modelled: DataQuery, queries: Sequence[DataQuery], period: int
    ) -> Model:
        detector = await self._detector_of(tenant_id, modelled, queries)
        key = (tenant_id, detector.key + repr(detector.document()), period)
        now = time.monotonic()
        held = self._cache.get(key)
        if held is not None and now - held[0] < self.limits.cache_seconds:
            self._cache.move_to_end(key)
            return held[1]
        model = train(
            await self._history(detector, period),
            excluded=detector.excluded,
            timezone=detector.timezone,
            periodic_spikes=bool(detector.periodic_spikes),
            minimum=self.limits.min_points,
        )
        self._cache[key] = (now, model)
        while len(self._cache) > self.limits.cache_size:
            self._cache.popitem(last=False)
        return model

    async def _detector_of(
        self, tenant_id: str, modelled: DataQuery, queries: Sequence[DataQuery]
    ) -> Detector:
        """The account's detector of the modelled query, or one with the defaults."""
        if modelled.expression is None:
            detector = Detector(
                tenant_id,
                modelled.namespace,
                modelled.name,
                tuple(sorted(modelled.dimensions)),
                modelled.stat,
            )
        else:
            # The expression and what it reads, the modelled query the one returned.
            kept = tuple(
                replace(q, return_data=q.id == modelled.id)
                for q in queries
                if BAND not in (q.expression or "")
            )
            detector = Detector(tenant_id, queries=kept)
        held = await self.store.get(tenant_id, digest(detector))
        return detector if held is None else replace(held, queries=detector.queries)

    async def _history(self, detector: Detector, period: int) -> list[tuple[int, float]]:
        now = int(self.clock().timestamp())
        end = now - now % period
        periods = self.limits.history // period
        start = end - periods * period
        if detector.queries:
            values = await self.metrics.expression_values(
                detector.tenant_id, detector.queries, start, periods, period
            )
        else:
            values = await self.metrics.period_values(
                Series.of(
                    detector.tenant_id,
                    detector.namespace,
                    detector.metric_name,
                    detector.dimensions,
                ),
                start,
                periods,
                period,
                detector.stat,
                None,
            )
        return [(start + i * period, v) for i, v in enumerate(values) if v is not None]

    async def _state(self, detector: Detector) -> DetectorState:
        if detector.queries:
            modelled = next(q for q in detector.queries if q.return_data)
            period = _period_of(detector.queries)
        else:
            modelled = DataQuery(
                "m", detector.namespace, detector.metric_name, detector.dimensions, 0, detector.stat
            )
            period = _STATE_PERIOD
        return (await self._model(detector.tenant_id, modelled, detector.queries, period)).state

    def _forget(self, tenant_id: str) -> None:
        for key in [k for k in self._cache if k[0] == tenant_id]:
            del self._cache[key]


def _period_of(queries: Sequence[DataQuery]) -> int:
    """A math detector's period: its returned query's, else its metrics', else 5 minutes."""
    returned = next(q for q in queries if q.return_data)
    return returned.period or next((q.period for q in queries if q.period), _STATE_PERIOD)


def _matches(
    detector: Detector,
    namespace: str | None,
    metric_name: str | None,
    dimensions: Sequence[tuple[str, str]],
    types: Sequence[str],
) -> bool:
    kind = "METRIC_MATH" if detector.queries else "SINGLE_METRIC"
    if types and kind not in types:
        return False
    if namespace and detector.namespace != namespace:
        return False
    if metric_name and detector.metric_name != metric_name:
        return False
    return all(pair in detector.dimensions for pair in dimensions)


def _token(after: int) -> str:
    return base64.urlsafe_b64encode(str(after).encode()).decode()


def _untoken(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidNextToken("The NextToken is not valid.") from exc
