"""The adapters between CloudWatch alarms and the contexts they act on (decision 0177): an
alarm's actions published to the account's SNS topics (through the platform's own publish
path, as the topic's owner, so every confirmed subscription gets AWS's alarm message) and
invoking Auto Scaling policies; and the alarms target tracking policies own, put and deleted
in the alarm service. Bounded contexts do not import each other: these sit above them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from andromede.autoscaling import policies
from andromede.autoscaling.policies import TrackingAlarm
from andromede.autoscaling.service import AutoScalingService
from andromede.errors import AndromedeError
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarms import Alarm
from andromede.notifications.pubsub import PubSubService

__all__ = ["AlarmActionRunner", "TrackingAlarms"]

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
