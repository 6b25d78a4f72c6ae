"""Auto Scaling's notification configurations on the wire (decision 0188):
PutNotificationConfiguration, DescribeNotificationConfigurations,
DeleteNotificationConfiguration and DescribeAutoScalingNotificationTypes, in AWS's shapes;
the rules are ``autoscaling.notices``'."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from andromede.autoscaling.notices import delete_configuration, put_configuration
from andromede.autoscaling.notify import NOTIFICATION_TYPES
from andromede.autoscaling.service import AutoScalingService
from andromede.iamapi.autoscaling_wire import guarded, page, refuse_unhandled
from andromede.iamapi.protocol import Call

__all__ = ["NAMED_GROUP", "handlers"]

# Checked on the group's ARN (AWS's authorisation reference); the describes on "*".
NAMED_GROUP: Final = ("PutNotificationConfiguration", "DeleteNotificationConfiguration")
_SEP: Final = "\x00"  # between the group, topic and type of a page's key


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def put(call: Call) -> None:
        refuse_unhandled(
            call,
            (
                "AutoScalingGroupName",
                "TopicARN",
                *(k for k in call.params if k.startswith("NotificationTypes.member.")),
            ),
        )
        types = call.members("NotificationTypes")
        await guarded(
            put_configuration(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.required("TopicARN"),
                types,
            )
        )

    async def delete(call: Call) -> None:
        await guarded(
            delete_configuration(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.required("TopicARN"),
            )
        )

    async def describe(call: Call) -> None:
        wanted = set(call.members("AutoScalingGroupNames"))
        rows = [
            (group.name, config.topic_arn, kind)
            for group in await service.store.groups(call.tenant_id)
            if not group.deleting and (not wanted or group.name in wanted)
            for config in group.notifications
            for kind in config.types
        ]
        rows.sort()
        chosen, token = page(call, rows, _SEP.join)
        xml = call.result
        xml.open("NotificationConfigurations")
        for group_name, topic_arn, kind in chosen:
            xml.open("member")
            xml.element("AutoScalingGroupName", group_name)
            xml.element("TopicARN", topic_arn)
            xml.element("NotificationType", kind)
            xml.close("member")
        xml.close("NotificationConfigurations")
        if token is not None:
            xml.element("NextToken", token)

    async def types(call: Call) -> None:
        call.result.open("AutoScalingNotificationTypes")
        for kind in NOTIFICATION_TYPES:
            call.result.element("member", kind)
        call.result.close("AutoScalingNotificationTypes")

    return {
        "PutNotificationConfiguration": (put, True, False),
        "DeleteNotificationConfiguration": (delete, True, False),
        "DescribeNotificationConfigurations": (describe, False, True),
        "DescribeAutoScalingNotificationTypes": (types, False, True),
    }
