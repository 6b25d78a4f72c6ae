"""The adapters between CloudWatch alarms and the contexts they act on (decision 0177): an
alarm's actions published to the account's SNS topics (through the platform's own publish
path, as the topic's owner, so every confirmed subscription gets AWS's alarm message) and
invoking Auto Scaling policies; the alarms target tracking policies own, put and deleted
in the alarm service; and each state change as CloudWatch's "CloudWatch Alarm State Change"
event into the account's default EventBridge bus (decision 0192's session 48 addendum).
Bounded contexts do not import each other: these sit above them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from andromede.autoscaling import policies
from andromede.autoscaling.policies import TrackingAlarm
from andromede.autoscaling.service import AutoScalingService
from andromede.errors import AndromedeError
from andromede.events.model import DEFAULT_BUS, event_envelope
from andromede.events.service import EventsService
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarms import Alarm, AlarmState, alarm_arn
from andromede.metrics.service import DataQuery
from andromede.notifications.pubsub import PubSubService

__all__ = ["AlarmActionRunner", "AlarmStateEventSender", "TrackingAlarms", "alarm_state_event"]

log = logging.getLogger(__name__)


class AlarmActionRunner:
    """The :class:`~andromede.metrics.alarm_service.AlarmActions` of the platform."""

    def __init__(self, pubsub: PubSubService | None, scaling: AutoScalingService | None) -> None:
        self._pubsub = pubsub
        self._scaling = scaling

    async def notify(self, tenant_id: str, topic_arn: str, subject: str, message: str) -> bool:
        if self._pubsub is None:
            return False
        try:
            await self._pubsub.publish(tenant_id, topic_arn, message, subject, {}, None)
        except AndromedeError as exc:  # a deleted topic, a FIFO one: the history says so
            log.info("alarm notification to %s not published: %s", topic_arn, exc)
            return False
        return True

    async def scale(
        self, tenant_id: str, policy_arn: str, alarm: Alarm, value: float | None
    ) -> bool:
        if self._scaling is None:
            return False
        try:
            return await policies.invoke(
                self._scaling, tenant_id, policy_arn, alarm.name, value, alarm.threshold
            )
        except AndromedeError as exc:
            log.info("scaling policy %s not executed: %s", policy_arn, exc)
            return False


class TrackingAlarms:
    """The :class:`~andromede.autoscaling.policies.PolicyAlarms` over the alarm service."""

    def __init__(self, alarms: AlarmService) -> None:
        self._alarms = alarms

    async def put(self, tenant_id: str, alarm: TrackingAlarm) -> None:
        await self._alarms.put_alarm(
            Alarm(
                tenant_id=tenant_id,
                name=alarm.name,
                namespace=alarm.namespace,
                metric_name=alarm.metric_name,
                dimensions=alarm.dimensions,
                period=alarm.period,
                evaluation_periods=alarm.evaluation_periods,
                datapoints_to_alarm=alarm.evaluation_periods,
                threshold=alarm.threshold,
                comparison=alarm.comparison,
                statistic=alarm.statistic,
                unit=alarm.unit,
                description=alarm.description,
                alarm_actions=(alarm.action_arn,),
            )
        )

    async def delete(self, tenant_id: str, names: Sequence[str]) -> None:
        await self._alarms.store.delete(tenant_id, names)

    async def naming(self, tenant_id: str, action_arn: str) -> list[str]:
        return [
            a.name
            for a in await self._alarms.store.alarms(tenant_id)
            if action_arn in (*a.alarm_actions, *a.ok_actions, *a.insufficient_data_actions)
        ]


class AlarmStateEventSender:
    """The :class:`~andromede.metrics.alarm_service.AlarmStateEvents` of the platform: each
    state change routed into the alarm account's default bus, as the ``aws.cloudwatch``
    source (its deliveries queued durably before the evaluation goes on)."""

    def __init__(self, events: EventsService, region: str) -> None:
        self._events = events
        self._region = region

    async def state_changed(self, alarm: Alarm, old: AlarmState, before: Alarm | None) -> None:
        event = alarm_state_event(alarm, old, before, self._region)
        await self._events.route(alarm.tenant_id, DEFAULT_BUS, [event])


def alarm_state_event(
    alarm: Alarm, old: AlarmState, before: Alarm | None, region: str
) -> dict[str, Any]:
    """AWS's "CloudWatch Alarm State Change": ``detail`` with ``alarmName``, ``state`` and
    ``previousState`` (value, reason, reasonData, timestamp) and ``configuration`` (the
    description, and the metrics — a single metric's as one ``metricStat``, a math alarm's
    queries — or a composite's ``alarmRule`` and suppressor)."""
    arn = alarm_arn(region, alarm.tenant_id, alarm.name)
    previous: dict[str, Any] = {"value": old.value}
    if before is not None:
        previous |= _state(before)
    detail = {
        "alarmName": alarm.name,
        "state": {"value": alarm.state.value, **_state(alarm)},
        "previousState": previous,
        "configuration": _configuration(alarm, arn),
    }
    return event_envelope(
        event_id=str(uuid.uuid4()),
        detail_type="CloudWatch Alarm State Change",
        source="aws.cloudwatch",
        account=alarm.tenant_id,
        moment=alarm.state_updated.replace(microsecond=0),
        region=region,
        resources=[arn],
        detail=detail,
    )


def _stamp(moment: datetime) -> str:
    # AWS's form in these events: 2019-10-02T17:04:40.985+0000.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}+0000"
    )


def _state(alarm: Alarm) -> dict[str, Any]:
    state: dict[str, Any] = {"value": alarm.state.value, "reason": alarm.state_reason}
    if alarm.state_reason_data is not None:
        state["reasonData"] = alarm.state_reason_data
    state["timestamp"] = _stamp(alarm.state_updated)
    return state


def _configuration(alarm: Alarm, arn: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if alarm.description is not None:
        config["description"] = alarm.description
    if alarm.composite:
        config["alarmRule"] = alarm.rule
        if alarm.suppressor is not None:
            config["actionsSuppressor"] = alarm.suppressor
            config["actionsSuppressorWaitPeriod"] = alarm.suppressor_wait
            config["actionsSuppressorExtensionPeriod"] = alarm.suppressor_extension
        return config
    if alarm.metrics:
        config["metrics"] = [_query(q) for q in alarm.metrics]
        return config
    single = DataQuery(
        # A single metric's query has no id of its own: a stable one, as AWS gives a UUID.
        str(uuid.uuid5(uuid.NAMESPACE_URL, arn)),
        alarm.namespace,
        alarm.metric_name,
        alarm.dimensions,
        alarm.period,
        alarm.statistic or alarm.extended_statistic or "",
        alarm.unit,
    )
    config["metrics"] = [_query(single)]
    return config


def _query(query: DataQuery) -> dict[str, Any]:
    document: dict[str, Any] = {"id": query.id}
    if query.expression is not None:
        document["expression"] = query.expression
    else:
        stat: dict[str, Any] = {
            "metric": {
                "dimensions": dict(query.dimensions),
                "name": query.name,
                "namespace": query.namespace,
            },
            "period": query.period,
            "stat": query.stat,
        }
        if query.unit is not None:
            stat["unit"] = query.unit
        document["metricStat"] = stat
    if query.label is not None:
        document["label"] = query.label
    document["returnData"] = query.return_data
    return document
