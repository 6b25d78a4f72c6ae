"""SetInstanceHealth (decision 0198's session-49 addendum): an account's own health verdict on
one of its groups' instances, kept in the group's document beside the ELB health check's.

``Unhealthy`` marks the instance as the ELB health check does (``Group.unhealthy``), and
records that the account did (``Group.marked_by_user``), so that the reconciler replaces it
with AWS's "user health-check" cause, unless ReplaceUnhealthy (or HealthCheck, Terminate) is
suspended. ``Healthy`` clears a mark, whoever set it; an instance already on its way out
(terminating, or held in Terminating:Wait by a hook) stays so, as on AWS, where a
replacement once started is not called back. With ``ShouldRespectGracePeriod`` (the
default) a call on an instance still within the group's ``HealthCheckGracePeriod`` —
counted from its launch, as the ELB health check counts it — is ignored, as AWS documents.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Final

from andromede.autoscaling.errors import ScalingValidationError
from andromede.autoscaling.model import Group
from andromede.autoscaling.records import HOOK_TERMINATING
from andromede.autoscaling.service import AutoScalingService

__all__ = ["HEALTH_STATUSES", "set_instance_health"]

HEALTH_STATUSES: Final = ("Healthy", "Unhealthy")


async def set_instance_health(
    service: AutoScalingService,
    tenant_id: str,
    instance_id: str,
    status: str,
    *,
    respect_grace_period: bool = True,
) -> None:
    """Set ``instance_id``'s health (nothing done when the call is ignored or asks for
    what already is)."""
    if status not in HEALTH_STATUSES:
        # AWS's API reference leaves the wording of this refusal undocumented: the values
        # named, as the other Auto Scaling enumerations here are.
        raise ScalingValidationError(
            f"HealthStatus {status[:32]!r} is not valid: Healthy or Unhealthy"
        )
    owned = [(g, m) for g, m in await service.instances(tenant_id) if m.instance_id == instance_id]
    if not owned:
        raise ScalingValidationError(
            f"Instance Id not found - No managed instance found for instance ID: {instance_id[:64]}"
        )
    group, member = owned[0]
    grace = timedelta(seconds=group.health_check_grace_period)
    if respect_grace_period and member.launch_time + grace > service.clock():
        return
    if member.state in ("shutting-down", "terminated"):
        return  # on its way out already: neither marked again nor called back

    def mark(current: Group) -> Group | None:
        if instance_id in current.unhealthy:
            return None
        return replace(
            current,
            unhealthy=tuple(sorted({*current.unhealthy, instance_id})),
            marked_by_user=tuple(sorted({*current.marked_by_user, instance_id})),
        )

    def clear(current: Group) -> Group | None:
        leaving = any(w.transition == HOOK_TERMINATING for w in current.waiting_on(instance_id))
        if leaving or instance_id not in current.unhealthy:
            return None
        return replace(
            current,
            unhealthy=tuple(i for i in current.unhealthy if i != instance_id),
            marked_by_user=tuple(i for i in current.marked_by_user if i != instance_id),
        )

    await service.mutate(tenant_id, group.name, mark if status == "Unhealthy" else clear)
