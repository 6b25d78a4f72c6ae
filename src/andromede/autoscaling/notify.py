"""Where lifecycle hooks (decision 0159) and notification configurations (decision 0188)
send their notifications, as a port: the account's own topics of the platform's
notification service, whose adapter is ``andromede.autoscaling_adapters``' (bounded
contexts do not import each other). The messages are AWS's: the test notification a hook
with a target or a notification configuration sends when put, the lifecycle action an
instance starts waiting on, and a launch's or a termination's activity."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Final, Protocol

from andromede.autoscaling.model import Activity, ActivityStatus, Group
from andromede.autoscaling.records import LifecycleHook, Waiting

__all__ = [
    "EVENT_LAUNCH",
    "EVENT_TERMINATE",
    "NOTIFICATION_TYPES",
    "TEST_NOTIFICATION",
    "Notifier",
    "action_message",
    "activity_event",
    "activity_message",
    "test_message",
]

EVENT_LAUNCH: Final = "autoscaling:EC2_INSTANCE_LAUNCH"
EVENT_TERMINATE: Final = "autoscaling:EC2_INSTANCE_TERMINATE"
TEST_NOTIFICATION: Final = "autoscaling:TEST_NOTIFICATION"
# DescribeAutoScalingNotificationTypes' list, in AWS's order.
NOTIFICATION_TYPES: Final = (
    EVENT_LAUNCH,
    f"{EVENT_LAUNCH}_ERROR",
    EVENT_TERMINATE,
    f"{EVENT_TERMINATE}_ERROR",
    TEST_NOTIFICATION,
)


class Notifier(Protocol):
    async def owns(self, tenant_id: str, arn: str) -> bool:
        """Whether ``arn`` is a topic of the account that notifications can reach."""
        ...

    async def send(self, tenant_id: str, arn: str, message: str) -> bool:
        """Queue ``message`` for the topic; False when it could not be queued."""
        ...


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def action_message(group: Group, hook: LifecycleHook, entry: Waiting) -> str:
    """AWS's lifecycle action notification (its ``LifecycleActionToken`` completes it)."""
    body = {
        "Origin": "AutoScalingGroup" if entry.transition.endswith("TERMINATING") else "EC2",
        "Destination": "EC2" if entry.transition.endswith("TERMINATING") else "AutoScalingGroup",
        "LifecycleHookName": hook.name,
        "AccountId": group.tenant_id,
        "RequestId": str(uuid.uuid4()),
        "LifecycleTransition": entry.transition,
        "AutoScalingGroupName": group.name,
        "Service": "AWS Auto Scaling",
        "Time": _stamp(entry.started),
        "EC2InstanceId": entry.instance_id,
        "LifecycleActionToken": entry.token,
    }
    if hook.metadata is not None:
        body["NotificationMetadata"] = hook.metadata
    return json.dumps(body)


def test_message(group: Group, group_arn: str, now: datetime) -> str:
    """The ``autoscaling:TEST_NOTIFICATION`` a hook's target receives when the hook is put,
    and a notification configuration's topic when it is put (decision 0188)."""
    return json.dumps(
        {
            "AccountId": group.tenant_id,
            "RequestId": str(uuid.uuid4()),
            "AutoScalingGroupARN": group_arn,
            "AutoScalingGroupName": group.name,
            "Service": "AWS Auto Scaling",
            "Event": "autoscaling:TEST_NOTIFICATION",
            "Time": _stamp(now),
        }
    )


def activity_event(kind: str, activity: Activity) -> str:
    """The notification type of a finished launch (``kind`` EVENT_LAUNCH) or termination
    (EVENT_TERMINATE): ``…_ERROR`` when it failed."""
    return f"{kind}_ERROR" if activity.status_code == ActivityStatus.FAILED else kind


def activity_message(
    group: Group, group_arn: str, activity: Activity, event: str, instance_id: str | None
) -> str:
    """AWS's notification of a launch or a termination (and their errors), sent once the
    activity is written: its status is the activity's, finished (AWS sends it while the
    activity is InProgress at 50; here the activity is written when done)."""
    details: Any = json.loads(activity.details) if activity.details else {}
    launching = event.startswith(EVENT_LAUNCH)
    return json.dumps(
        {
            "Origin": "EC2" if launching else "AutoScalingGroup",
            "Destination": "AutoScalingGroup" if launching else "EC2",
            "Progress": activity.progress,
            "AccountId": group.tenant_id,
            "Description": activity.description,
            "RequestId": activity.activity_id,
            "EndTime": _stamp(activity.end_time),
            "AutoScalingGroupARN": group_arn,
            "ActivityId": activity.activity_id,
            "StartTime": _stamp(activity.start_time),
            "Service": "AWS Auto Scaling",
            "Time": _stamp(activity.end_time),
            "EC2InstanceId": instance_id or "",
            "StatusCode": activity.status_code,
            "StatusMessage": activity.status_message,
            "Details": details,
            "AutoScalingGroupName": group.name,
            "Cause": activity.cause,
            "Event": event,
        }
    )
