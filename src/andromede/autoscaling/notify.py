"""Where lifecycle hooks send their notifications (decision 0159), as a port: the account's
own topics of the platform's notification service, whose adapter is
``andromede.autoscaling_adapters``' (bounded contexts do not import each other). The
messages are AWS's: the test notification a hook with a target sends when put, and the
lifecycle action an instance starts waiting on."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Protocol

from andromede.autoscaling.model import Group
from andromede.autoscaling.records import LifecycleHook, Waiting

__all__ = ["Notifier", "action_message", "test_message"]


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
    """The ``autoscaling:TEST_NOTIFICATION`` a hook's target receives when the hook is put."""
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
