"""A group's notification configurations (decision 0188): PutNotificationConfiguration's
checks and write (a topic of the account's, AWS's notification types, the setting's bound
on topics per group) and the deletion. Each is one conditional write of the group's
document; what is sent, and when, is ``notify``'s and ``AutoScalingService.record``'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from andromede.autoscaling.errors import GroupLimitExceeded, ScalingValidationError
from andromede.autoscaling.model import Group, group_arn
from andromede.autoscaling.notify import NOTIFICATION_TYPES, test_message
from andromede.autoscaling.records import NotificationConfig
from andromede.autoscaling.service import AutoScalingService

__all__ = ["delete_configuration", "put_configuration"]

_MAX_ARN = 255  # AWS's XmlStringMaxLen255


async def put_configuration(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    topic_arn: str,
    types: Sequence[str],
) -> Group:
    """The group's events of ``types`` sent to ``topic_arn`` (replacing the types the topic
    had), then the topic sent AWS's test notification."""
    if not 1 <= len(topic_arn) <= _MAX_ARN:
        raise ScalingValidationError(f"TopicARN must be 1 to {_MAX_ARN} characters")
    wanted = tuple(dict.fromkeys(types))
    if not wanted:
        raise ScalingValidationError("NotificationTypes must name at least one type")
    for kind in wanted:
        if kind not in NOTIFICATION_TYPES:
            raise ScalingValidationError(
                f"Notification type {kind[:255]} is not valid: one of "
                f"{', '.join(NOTIFICATION_TYPES)}"
            )
    notifier = service.notifier
    # Only the account's own topics of the platform's notification service can be reached
    # from here (as a hook's target, decision 0159).
    if notifier is None or not await notifier.owns(tenant_id, topic_arn):
        raise ScalingValidationError(
            f"TopicARN {topic_arn} is not a topic of this account (only the account's own "
            "SNS topics can receive its groups' notifications here)"
        )
    limit = service.limits.max_notification_configurations

    def change(group: Group) -> Group | None:
        held = {c.topic_arn: c for c in group.notifications}
        if topic_arn not in held and len(held) >= limit:
            raise GroupLimitExceeded(
                f"A group sends its notifications to at most {limit} topics "
                "(max_notification_configurations_per_autoscaling_group)"
            )
        config = NotificationConfig(topic_arn, wanted)
        if held.get(topic_arn) == config:
            return None
        held[topic_arn] = config
        return replace(group, notifications=tuple(sorted(held.values(), key=lambda c: c.topic_arn)))

    group = await service.mutate(tenant_id, group_name, change)
    # AWS sends the topic a test notification whenever a configuration is put.
    arn = group_arn(service.region, group.tenant_id, group.group_id, group.name)
    await notifier.send(tenant_id, topic_arn, test_message(group, arn, service.clock()))
    return group


async def delete_configuration(
    service: AutoScalingService, tenant_id: str, group_name: str, topic_arn: str
) -> None:
    def change(group: Group) -> Group:
        kept = tuple(c for c in group.notifications if c.topic_arn != topic_arn)
        if kept == group.notifications:
            raise ScalingValidationError(
                f"No notification configuration found for topic {topic_arn[:255]} on "
                f"group {group_name}"
            )
        return replace(group, notifications=kept)

    await service.mutate(tenant_id, group_name, change)
