"""Lifecycle hooks (decision 0159): PutLifecycleHook's checks, the deletion, and the
lifecycle actions an instance waits on: CompleteLifecycleAction and
RecordLifecycleActionHeartbeat set or stretch them (``waits`` starts them and applies a
hook's default result at its timeout; the reconciler moves an instance on once all its
actions have a result)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from andromede.autoscaling.errors import GroupLimitExceeded, ScalingValidationError
from andromede.autoscaling.model import Group
from andromede.autoscaling.records import HOOK_LAUNCHING, HOOK_TERMINATING, LifecycleHook, Waiting
from andromede.autoscaling.service import AutoScalingService

__all__ = [
    "HookSpec",
    "complete",
    "delete_hook",
    "heartbeat",
    "put_hook",
]

TRANSITIONS: Final = (HOOK_LAUNCHING, HOOK_TERMINATING)
RESULTS: Final = ("CONTINUE", "ABANDON")
_MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class HookSpec:
    name: str
    transition: str | None = None
    heartbeat_timeout: int | None = None
    default_result: str | None = None
    metadata: str | None = None
    notification_target_arn: str | None = None
    role_arn: str | None = None


def _check(spec: HookSpec, previous: LifecycleHook | None) -> LifecycleHook:
    if not 1 <= len(spec.name) <= _MAX_NAME:
        raise ScalingValidationError(f"LifecycleHookName must be 1 to {_MAX_NAME} characters")
    transition = spec.transition or (previous.transition if previous else None)
    if transition not in TRANSITIONS:
        raise ScalingValidationError(f"LifecycleTransition must be one of {', '.join(TRANSITIONS)}")
    timeout = spec.heartbeat_timeout
    if timeout is None:
        timeout = previous.heartbeat_timeout if previous else 3600
    if not 30 <= timeout <= 7200:
        raise ScalingValidationError("HeartbeatTimeout must be between 30 and 7200 seconds")
    result = spec.default_result or (previous.default_result if previous else "ABANDON")
    if result not in RESULTS:
        raise ScalingValidationError("DefaultResult must be CONTINUE or ABANDON")
    metadata = (
        spec.metadata if spec.metadata is not None else (previous.metadata if previous else None)
    )
    if metadata is not None and len(metadata) > 1023:
        raise ScalingValidationError("NotificationMetadata is at most 1023 characters")
    target = spec.notification_target_arn
    if target is None and previous is not None:
        target = previous.notification_target_arn
    role = spec.role_arn if spec.role_arn is not None else (previous.role_arn if previous else None)
    return LifecycleHook(
        spec.name, transition, timeout, result, metadata, target or None, role or None
    )


async def put_hook(
    service: AutoScalingService, tenant_id: str, group_name: str, spec: HookSpec
) -> Group:
    limit = service.limits.max_lifecycle_hooks
    if spec.notification_target_arn:
        # A topic of the account's, on the platform's notification service: the lifecycle
        # actions are pushed to its endpoint (nothing else can be reached from here).
        notifier = service.notifier
        if notifier is None or not await notifier.owns(tenant_id, spec.notification_target_arn):
            raise ScalingValidationError(
                f"NotificationTargetARN {spec.notification_target_arn[:256]} is not a topic "
                "of this account (only the account's own SNS topics can be targets here)"
            )
    if spec.role_arn and not spec.role_arn.startswith(f"arn:aws:iam::{tenant_id}:role/"):
        raise ScalingValidationError(f"RoleARN {spec.role_arn[:256]} is not a role of this account")

    def change(group: Group) -> Group:
        held = {h.name: h for h in group.hooks}
        previous = held.get(spec.name)
        if previous is None and len(held) >= limit:
            raise GroupLimitExceeded(
                f"A group holds at most {limit} lifecycle hooks "
                "(max_lifecycle_hooks_per_autoscaling_group)"
            )
        held[spec.name] = _check(spec, previous)
        return replace(group, hooks=tuple(sorted(held.values(), key=lambda h: h.name)))

    return await service.mutate(tenant_id, group_name, change)


async def delete_hook(
    service: AutoScalingService, tenant_id: str, group_name: str, name: str
) -> None:
    """AWS: the instances waiting on the hook go on with its default result."""

    def change(group: Group) -> Group:
        if name not in {h.name for h in group.hooks}:
            raise ScalingValidationError(
                f"No Lifecycle Hook found with name {name[:255]} for group {group_name}"
            )
        waiting = tuple(
            replace(w, result=w.default_result) if w.hook == name and w.result is None else w
            for w in group.waiting
        )
        return replace(
            group, hooks=tuple(h for h in group.hooks if h.name != name), waiting=waiting
        )

    await service.mutate(tenant_id, group_name, change)


def _find(group: Group, hook: str, token: str | None, instance_id: str | None) -> Waiting:
    if not token and not instance_id:
        raise ScalingValidationError("Either LifecycleActionToken or InstanceId is required")
    for entry in group.waiting:
        if entry.hook != hook or entry.result is not None:
            continue
        if (token and entry.token == token) or (not token and entry.instance_id == instance_id):
            return entry
    named = f"token {token[:64]}" if token else f"instance {str(instance_id)[:32]}"
    raise ScalingValidationError(f"No active Lifecycle Action found with {named}")


async def complete(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    hook: str,
    result: str,
    token: str | None,
    instance_id: str | None,
) -> None:
    if result not in RESULTS:
        raise ScalingValidationError("LifecycleActionResult must be CONTINUE or ABANDON")

    def change(group: Group) -> Group:
        entry = _find(group, hook, token, instance_id)
        done = replace(entry, result=result)
        return replace(group, waiting=tuple(done if w == entry else w for w in group.waiting))

    await service.mutate(tenant_id, group_name, change)


async def heartbeat(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    hook: str,
    token: str | None,
    instance_id: str | None,
) -> None:
    now = service.clock()

    def change(group: Group) -> Group:
        entry = _find(group, hook, token, instance_id)
        timeout = next((h.heartbeat_timeout for h in group.hooks if h.name == hook), 3600)
        later = replace(entry, deadline=min(now + timedelta(seconds=timeout), entry.last_deadline))
        return replace(group, waiting=tuple(later if w == entry else w for w in group.waiting))

    await service.mutate(tenant_id, group_name, change)
