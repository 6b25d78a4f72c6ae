"""CloudWatch metric alarms (decision 0177): PutMetricAlarm, DescribeAlarms,
DescribeAlarmsForMetric, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions and
DescribeAlarmHistory for one account at a time, and the evaluator every gateway runs.

:meth:`AlarmService.evaluate_due` takes the alarms whose period has ended, claims each by
moving its next evaluation on over its revision (so one gateway evaluates a period), reads
the last ``EvaluationPeriods`` periods and AWS's evaluation range beyond them from the metrics
store (:mod:`~andromede.metrics.alarm_reading`: a metric math alarm's expression, decision
0183; an anomaly detection alarm's value and band, decision 0189), picks the periods
evaluated (:func:`~andromede.metrics.alarms.lookback`) and applies
:func:`~andromede.metrics.alarms.evaluate`. A state change is written over the claimed
revision, recorded in the history, and its actions run through an :class:`AlarmActions`
port: AWS's alarm message published to the account's SNS topics, Auto Scaling policies
invoked. As AWS does, Auto Scaling actions are invoked again at each evaluation while the
alarm stays in the state (their cooldowns decide), notifications only on a change.
Composite alarms (decision 0184, :mod:`~andromede.metrics.composite_alarms`) are kept here
too: every state change written goes on to the composites naming the alarm.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from andromede.metrics import composite_alarms
from andromede.metrics.alarm_reading import band_readings, read_periods, too_few_samples
from andromede.metrics.alarm_store import AlarmStore
from andromede.metrics.alarms import (
    Alarm,
    AlarmState,
    Evaluation,
    HistoryItem,
    alarm_arn,
    check_alarm,
    evaluate,
    lookback,
    next_evaluation,
    query_document,
)
from andromede.metrics.errors import (
    InvalidNextToken,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
)
from andromede.metrics.service import DataQuery, MetricsService

__all__ = ["AlarmActions", "AlarmLimits", "AlarmService", "alarm_message"]

log = logging.getLogger(__name__)

_TOKEN_MARK: Final = "alarms:"  # noqa: S105 - a page token's mark, not a secret
_REGION_NAMES: Final = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
}


class AlarmActions(Protocol):
    """Where an alarm's actions go (the wiring's adapter over SNS and Auto Scaling)."""

    async def notify(self, tenant_id: str, topic_arn: str, subject: str, message: str) -> bool:
        """Publish to the account's topic as its owner; False when it could not."""
        ...

    async def scale(
        self, tenant_id: str, policy_arn: str, alarm: Alarm, value: float | None
    ) -> bool:
        """Invoke the account's scaling policy for ``alarm`` (its last value, if any)."""
        ...


class AlarmStateEvents(Protocol):
    """Where an alarm's state changes are told as events (the wiring's adapter into
    EventBridge's default bus: "CloudWatch Alarm State Change", decision 0192's session 48
    addendum); ``before``: the alarm as it stood, for the previous state's reason."""

    async def state_changed(self, alarm: Alarm, old: AlarmState, before: Alarm | None) -> None: ...


@dataclass(frozen=True, slots=True)
class AlarmLimits:
    max_alarms: int = 5000
    page: int = 100
    history_days: int = 14
    batch: int = 200
    range_extra: int = 2


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}+0000"
    )


def _trigger_query(query: DataQuery) -> dict[str, Any]:
    """A math alarm's query in its SNS message: DescribeAlarms' shape, with the dimensions
    as the message writes them (``name``/``value``, as the single metric's trigger)."""
    document = query_document(query)
    stat = document.get("MetricStat")
    if stat is not None:
        stat["Metric"]["Dimensions"] = [{"value": v, "name": n} for n, v in query.dimensions]
    return document


def alarm_message(alarm: Alarm, old: AlarmState, region: str) -> str:
    """AWS's JSON of an alarm's state change as SNS subscribers receive it."""
    trigger: dict[str, object] = {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "StatisticType": "Statistic" if alarm.statistic else "ExtendedStatistic",
        "Statistic": (alarm.statistic or "").upper() if alarm.statistic else None,
        "ExtendedStatistic": alarm.extended_statistic,
        "Unit": alarm.unit,
        "Dimensions": [{"value": v, "name": n} for n, v in alarm.dimensions],
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": alarm.comparison,
        "Threshold": alarm.threshold,
        "TreatMissingData": alarm.treat_missing_data,
        "EvaluateLowSampleCountPercentile": (
            alarm.evaluate_low_sample if alarm.extended_statistic else ""
        ),
    }
    if alarm.threshold_metric_id is not None:  # an anomaly detection alarm (decision 0189)
        del trigger["Threshold"]
        trigger["ThresholdMetricId"] = alarm.threshold_metric_id
    if alarm.metrics:
        for key in ("MetricName", "Namespace", "StatisticType", "Statistic", "Unit"):
            del trigger[key]
        del trigger["ExtendedStatistic"], trigger["Dimensions"]
        trigger["Metrics"] = [_trigger_query(q) for q in alarm.metrics]
    elif alarm.statistic:
        del trigger["ExtendedStatistic"]
    else:
        del trigger["Statistic"]
    return json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": alarm.tenant_id,
            "AlarmConfigurationUpdatedTimestamp": _stamp(alarm.configuration_updated),
            "NewStateValue": alarm.state.value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": _stamp(alarm.state_updated),
            "Region": _REGION_NAMES.get(region, region),
            "AlarmArn": alarm_arn(region, alarm.tenant_id, alarm.name),
            "OldStateValue": old.value,
            "OKActions": list(alarm.ok_actions),
            "AlarmActions": list(alarm.alarm_actions),
            "InsufficientDataActions": list(alarm.insufficient_data_actions),
            "Trigger": trigger,
        }
    )


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_MARK}{name}".encode()).decode()


def _after(token: str | None) -> str:
    if not token:
        return ""
    try:
        decoded = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidNextToken("The NextToken is not valid.") from exc
    if not decoded.startswith(_TOKEN_MARK):
        raise InvalidNextToken("The NextToken is not valid.")
    return decoded[len(_TOKEN_MARK) :]


def _reason_data(alarm: Alarm, values: Sequence[float | None], at: datetime) -> dict[str, Any]:
    """AWS's StateReasonData of an evaluation."""
    return {
        "version": "1.0",
        "queryDate": _stamp(at),
        "statistic": alarm.stat,
        "period": alarm.period,
        "recentDatapoints": [v for v in values if v is not None],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": len(values),
    }


def _history_data(old: AlarmState, alarm: Alarm) -> str:
    new: dict[str, Any] = {"stateValue": alarm.state.value, "stateReason": alarm.state_reason}
    if alarm.state_reason_data is not None:
        new["stateReasonData"] = json.loads(alarm.state_reason_data)
    return json.dumps({"version": "1.0", "oldState": {"stateValue": old.value}, "newState": new})


class AlarmService:
    def __init__(
        self,
        store: AlarmStore,
        metrics: MetricsService,
        region: str,
        *,
        limits: AlarmLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        active: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.region = region
        self.limits = limits or AlarmLimits()
        self.clock = clock
        self.actions: AlarmActions | None = None
        self.state_events: AlarmStateEvents | None = None
        # Whether an account is open: a suspended or closed account's alarms keep their state
        # and act on nothing until it is active again (their periods still pass).
        self.active = active

    # --- the account's calls ----------------------------------------------------------------

    async def put_alarm(self, alarm: Alarm) -> Alarm:
        """Create the alarm, or overwrite the definition of the account's alarm of that name
        (its state is kept, as AWS keeps it); it is evaluated at its period's next end."""
        alarm = check_alarm(alarm, self.region)
        now = self.clock()
        if alarm.metrics:
            # The queries checked, and read over one period: an unknown Id or an expression
            # giving an array is refused now rather than at each evaluation.
            start = next_evaluation(now.timestamp(), alarm.period) - 2 * alarm.period
            if alarm.threshold_metric_id is not None:  # the band and its metric (0189)
                await band_readings(self.metrics, alarm, start, 1)
            else:
                await self.metrics.expression_values(
                    alarm.tenant_id, alarm.metrics, start, 1, alarm.period
                )
        held = await self.store.get(alarm.tenant_id, alarm.name)
        if held is not None and held.composite:
            raise InvalidParameterValue(f"{alarm.name[:255]} is a composite alarm.")
        if held is None and len(await self.store.alarms(alarm.tenant_id)) >= (
            self.limits.max_alarms
        ):
            raise LimitExceeded(
                f"The account holds {self.limits.max_alarms} alarms already "
                "(alarm_max_per_account)."
            )
        return await self.write_definition(
            alarm, held, now, next_evaluation(now.timestamp(), alarm.period)
        )

    async def write_definition(
        self, alarm: Alarm, held: Alarm | None, now: datetime, evaluate_at: int
    ) -> Alarm:
        """Store a put alarm's definition, keeping the state of the one it overwrites (``held``)
        as AWS keeps it, with its ConfigurationUpdate history item; metric and composite
        alarms alike."""
        stored = replace(
            alarm, configuration_updated=now, state_updated=now, next_evaluation=evaluate_at
        )
        if held is not None:
            # An update keeps the alarm's tags: AWS ignores a put's Tags on an existing alarm
            # (TagResource and UntagResource change them).
            stored = replace(
                stored,
                tags=held.tags,
                state=held.state,
                state_reason=held.state_reason,
                state_reason_data=held.state_reason_data,
                state_updated=held.state_updated,
            )
        await self.store.put(stored)
        verb = "created" if held is None else "updated"
        await self.store.add_history(
            HistoryItem(
                alarm.tenant_id,
                alarm.name,
                now,
                "ConfigurationUpdate",
                f'Alarm "{alarm.name}" {verb}',
                json.dumps({"type": verb.capitalize(), "version": "1.0"}),
            )
        )
        return stored

    async def put_composite(self, alarm: Alarm) -> Alarm:
        """PutCompositeAlarm (decision 0184)."""
        return await composite_alarms.put_composite(self, alarm)

    async def describe(
        self,
        tenant_id: str,
        *,
        names: Sequence[str] = (),
        types: Sequence[str] = ("MetricAlarm",),
        children_of: str | None = None,
        parents_of: str | None = None,
        prefix: str | None = None,
        state: str | None = None,
        action_prefix: str | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[Alarm], str | None]:
        if names and prefix:
            raise InvalidParameterValue("AlarmNames and AlarmNamePrefix cannot both be given.")
        if state is not None and state not in AlarmState.__members__:
            raise InvalidParameterValue(f"StateValue {state[:64]} is not a state.")
        limit = max_records or self.limits.page
        if not 1 <= limit <= self.limits.page:
            raise InvalidParameterValue(f"MaxRecords must be 1 to {self.limits.page}.")
        after = _after(next_token)
        wanted = set(names)
        related = await composite_alarms.related(self, tenant_id, children_of, parents_of)
        found = [
            a
            for a in await self.store.alarms(tenant_id)
            if (not wanted or a.name in wanted)
            and ("CompositeAlarm" if a.composite else "MetricAlarm") in types
            and (related is None or a.name in related)
            and (prefix is None or a.name.startswith(prefix))
            and (state is None or a.state.value == state)
            and (
                action_prefix is None
                or any(
                    arn.startswith(action_prefix)
                    for arn in (*a.alarm_actions, *a.ok_actions, *a.insufficient_data_actions)
                )
            )
            and a.name > after
        ]
        page = found[:limit]
        return page, (_token(page[-1].name) if len(found) > limit else None)

    async def for_metric(
        self,
        tenant_id: str,
        namespace: str | None,
        name: str | None,
        dimensions: Sequence[tuple[str, str]],
        *,
        statistic: str | None = None,
        extended: str | None = None,
        period: int | None = None,
        unit: str | None = None,
    ) -> list[Alarm]:
        if not namespace or not name:
            raise MissingParameter("Namespace and MetricName are required.")
        wanted = tuple(sorted(dimensions))
        return [
            a
            for a in await self.store.alarms(tenant_id)
            if a.namespace == namespace
            and a.metric_name == name
            and a.dimensions == wanted
            and statistic in (None, a.statistic)
            and extended in (None, a.extended_statistic)
            and period in (None, a.period)
            and unit in (None, a.unit)
        ]

    async def delete(self, tenant_id: str, names: Sequence[str]) -> None:
        """AWS's DeleteAlarms: every alarm named must exist, or none is deleted."""
        held = {a.name for a in await self.store.alarms(tenant_id)}
        missing = [n for n in names if n not in held]
        if missing:
            raise ResourceNotFound(f"Alarm {missing[0][:255]} does not exist.")
        await composite_alarms.check_delete(self, tenant_id, list(names))
        await self.store.delete(tenant_id, names)

    async def set_state(
        self, tenant_id: str, name: str, state: str, reason: str, reason_data: str | None
    ) -> None:
        """SetAlarmState: the state until the next evaluation, its actions run."""
        if state not in AlarmState.__members__:
            raise InvalidParameterValue(f"StateValue {state[:64]} is not a state.")
        if len(reason) > 1023:
            raise InvalidParameterValue("StateReason may be 1,023 characters at most.")
        if reason_data is not None:
            try:
                json.loads(reason_data)
            except ValueError as exc:
                raise InvalidParameterValue("StateReasonData must be JSON.") from exc
        for _ in range(8):
            alarm = await self.store.get(tenant_id, name)
            if alarm is None:
                raise ResourceNotFound(f"Alarm {name[:255]} does not exist.")
            if alarm.state.value == state:
                return
            changed = replace(
                alarm,
                state=AlarmState(state),
                state_reason=reason,
                state_reason_data=reason_data,
                state_updated=self.clock(),
            )
            if await self.store.change(changed):
                await self.changed(alarm.state, changed, None, before=alarm)
                return
        raise InvalidParameterValue(f"Alarm {name[:255]} is being changed; retry.")

    async def set_actions_enabled(
        self, tenant_id: str, names: Sequence[str], enabled: bool
    ) -> None:
        for name in names:
            for _ in range(8):
                alarm = await self.store.get(tenant_id, name)
                if alarm is None or alarm.actions_enabled == enabled:
                    break
                if await self.store.change(replace(alarm, actions_enabled=enabled)):
                    break

    async def retag(
        self,
        tenant_id: str,
        name: str,
        add: Sequence[tuple[str, str]] = (),
        remove: Sequence[str] = (),
    ) -> tuple[tuple[str, str], ...]:
        """TagResource / UntagResource on an alarm (ListTagsForResource with neither): its
        tags after the change, at most 50, keys 1 to 128 characters, no ``aws:`` key."""
        for key, value in add:
            if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
                raise InvalidParameterValue(
                    "Tag keys are 1 to 128 characters, not starting aws:, values 256 at most."
                )
        for _ in range(8):
            alarm = await self.store.get(tenant_id, name)
            if alarm is None:
                raise ResourceNotFound(f"Alarm {name[:255]} does not exist.")
            tags = dict(alarm.tags)
            tags.update(add)
            for key in remove:
                tags.pop(key, None)
            if len(tags) > 50:
                raise InvalidParameterValue("An alarm may hold 50 tags at most.")
            changed = tuple(sorted(tags.items()))
            if changed == alarm.tags or await self.store.change(replace(alarm, tags=changed)):
                return changed
        raise InvalidParameterValue(f"Alarm {name[:255]} is being changed; retry.")

    async def history(
        self,
        tenant_id: str,
        *,
        name: str | None = None,
        item_type: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_records: int | None = None,
        next_token: str | None = None,
        oldest_first: bool = False,
    ) -> tuple[list[HistoryItem], str | None]:
        if item_type not in (None, "ConfigurationUpdate", "StateUpdate", "Action"):
            raise InvalidParameterValue(f"HistoryItemType {str(item_type)[:64]} is not known.")
        limit = max_records or self.limits.page
        if not 1 <= limit <= self.limits.page:
            raise InvalidParameterValue(f"MaxRecords must be 1 to {self.limits.page}.")
        found = [
            h
            for h in await self.store.history(tenant_id, name)
            if item_type in (None, h.item_type)
            and (start is None or h.timestamp >= start)
            and (end is None or h.timestamp < end)
        ]
        if oldest_first:
            found.reverse()
        offset = 0
        if next_token:
            try:
                offset = int(_after(next_token))
            except ValueError as exc:
                raise InvalidNextToken("The NextToken is not valid.") from exc
        page = found[offset : offset + limit]
        more = len(found) > offset + limit
        return page, (_token(str(offset + limit)) if more else None)

    # --- the evaluator -----------------------------------------------------------------------

    async def evaluate_due(self) -> int:
        """Evaluate every alarm whose period ended; how many this gateway evaluated."""
        now = self.clock()
        second = int(now.timestamp())
        done = 0
        for alarm in await self.store.due(second, self.limits.batch):
            following = (
                composite_alarms.NEVER
                if alarm.composite
                else next_evaluation(now.timestamp(), alarm.period)
            )
            if not await self.store.claim(alarm, following):
                continue  # another gateway's (or the alarm changed): not evaluated twice
            claimed = replace(alarm, next_evaluation=following, revision=alarm.revision + 1)
            if self.active is not None and not await self.active(alarm.tenant_id):
                continue
            try:
                if alarm.composite:  # its wait for the suppressor ended (decision 0184)
                    await composite_alarms.deferred(self, claimed)
                else:
                    await self._evaluate(claimed, second - second % alarm.period)
            except Exception:  # one alarm's failure must not stop the others'
                log.exception("alarm %s of %s not evaluated", alarm.name, alarm.tenant_id)
            done += 1
        return done

    async def _evaluate(self, alarm: Alarm, end: int) -> None:
        periods = alarm.evaluation_periods
        # AWS's evaluation range (decision 0189): more periods read than evaluated, so that
        # missing datapoints are replaced by older real ones before TreatMissingData counts.
        read = periods + self.limits.range_extra
        start = end - read * alarm.period
        bands: list[tuple[float, float] | None] | None = None
        if alarm.threshold_metric_id is not None:
            every, every_band = await band_readings(self.metrics, alarm, start, read)
            every = [v if b is not None else None for v, b in zip(every, every_band, strict=True)]
        else:
            every = await read_periods(self.metrics, alarm, start, read)
        picked = lookback(every, periods)
        values = [None if i is None else every[i] for i in picked]
        if alarm.threshold_metric_id is not None:
            bands = [None if i is None else every_band[i] for i in picked]
        if alarm.evaluate_low_sample == "ignore" and await too_few_samples(
            self.metrics, alarm, start, picked
        ):
            return  # too few samples for the percentile: the state kept, as AWS keeps it
        outcome: Evaluation = evaluate(alarm, values, bands)
        last = next((v for v in reversed(values) if v is not None), None)
        if outcome.state is not alarm.state:
            changed = replace(
                alarm,
                state=outcome.state,
                state_reason=outcome.reason,
                state_reason_data=json.dumps(_reason_data(alarm, values, self.clock())),
                state_updated=self.clock(),
            )
            if not await self.store.change(changed):
                return  # changed meanwhile (PutMetricAlarm, SetAlarmState): next period
            await self.changed(alarm.state, changed, last, before=alarm)
        elif alarm.actions_enabled and self.actions is not None:
            for arn in alarm.actions_for(alarm.state):
                if ":autoscaling:" in arn:  # repeated while the state lasts, as AWS does
                    await self.actions.scale(alarm.tenant_id, arn, alarm, last)

    async def changed(
        self,
        old: AlarmState,
        alarm: Alarm,
        last: float | None,
        depth: int = 0,
        *,
        before: Alarm | None = None,
    ) -> None:
        """A state change written: its history, its event (whatever its actions), its actions
        (a composite's unless its suppressor holds them back, decision 0184), then the
        composites naming the alarm."""
        await self.store.add_history(
            HistoryItem(
                alarm.tenant_id,
                alarm.name,
                alarm.state_updated,
                "StateUpdate",
                f"Alarm updated from {old.value} to {alarm.state.value}",
                _history_data(old, alarm),
            )
        )
        if self.state_events is not None:
            try:
                await self.state_events.state_changed(alarm, old, before)
            except Exception:  # the evaluation goes on; the state change is in the history
                log.exception("state change event of alarm %s not sent", alarm.name)
        if alarm.composite and alarm.suppressor is not None:
            suppressor = await self.store.get(alarm.tenant_id, alarm.suppressor)
            if await composite_alarms.suppressed(self, alarm):
                pass  # held back: the suppressor is in ALARM or just left it
            elif composite_alarms.waits(alarm, suppressor):
                # Acted on at the wait's end, if the suppressor has not gone to ALARM.
                written = replace(
                    alarm,
                    revision=alarm.revision + 1,
                    # Rounded up: due no earlier than the wait's end, which deferred checks.
                    next_evaluation=math.ceil(alarm.state_updated.timestamp())
                    + alarm.suppressor_wait,
                )
                await self.store.change(written)
            else:
                await self.act(alarm, old, last)
        else:
            await self.act(alarm, old, last)
        await composite_alarms.parents_changed(self, alarm, depth)

    async def act(self, alarm: Alarm, old: AlarmState, last: float | None) -> None:
        """Run the actions of the alarm's state, each recorded in its history."""
        if not alarm.actions_enabled or self.actions is None:
            return
        region_name = _REGION_NAMES.get(self.region, self.region)
        for arn in alarm.actions_for(alarm.state):
            if ":autoscaling:" in arn:
                done = await self.actions.scale(alarm.tenant_id, arn, alarm, last)
            else:
                message = (
                    composite_alarms.composite_message(alarm, old, self.region, region_name)
                    if alarm.composite
                    else alarm_message(alarm, old, self.region)
                )
                done = await self.actions.notify(
                    alarm.tenant_id,
                    arn,
                    f'{alarm.state.value}: "{alarm.name}" in {region_name}'[:100],
                    message,
                )
            summary = (
                f"Successfully executed action {arn}" if done else f"Failed to execute action {arn}"
            )
            await self.store.add_history(
                HistoryItem(
                    alarm.tenant_id,
                    alarm.name,
                    self.clock(),
                    "Action",
                    summary,
                    json.dumps({"actionState": "Succeeded" if done else "Failed"}),
                )
            )

    async def forget_history(self) -> int:
        before = self.clock() - timedelta(days=self.limits.history_days)
        return await self.store.forget_history(before, self.limits.batch)
