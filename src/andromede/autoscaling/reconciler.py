"""The reconciler (decision 0156): in every gateway, each round takes the groups no other
gateway holds (a lease written by a conditional update on the group's revision, so one
gateway converges a group at a time), then for each compares the instances tagged with the
group's name to its desired capacity:

- a stopped or stopping instance is unhealthy under the EC2 health check: terminated, and
  replaced like any missing one;
- missing instances are launched from the group's launch template version, each in the
  group's subnet holding the fewest of its instances (the zones balanced, simplified);
- extra instances are terminated: those of the oldest launch template version first, then
  the oldest launched (AWS's default termination policy without its zone balancing and
  billing-hour steps);
- a group marked for deletion (ForceDelete) has all of its instances terminated, then goes;
- a failed launch is retried after a backoff (10 s, doubling up to 5 minutes).

Every launch and termination is a scaling activity (and, through the service's hook, an
audit event of the group's account).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from andromede.autoscaling.fleet import LaunchFailed
from andromede.autoscaling.model import GROUP_TAG, ActivityStatus, Group, Member
from andromede.autoscaling.service import AutoScalingService, iso

__all__ = ["Reconciler"]

_FIRST_BACKOFF: Final = timedelta(seconds=10)
_LAST_BACKOFF: Final = timedelta(minutes=5)


class Reconciler:
    def __init__(
        self,
        service: AutoScalingService,
        owner: str,
        *,
        lease: timedelta,
        active: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.service = service
        self.owner = owner
        self.lease = lease
        # Whether an account is open: a suspended or closed account's groups are left as they
        # are (its instances neither relaunched nor replaced) until it is active again.
        self.active = active
        # After a failed launch a group's next one waits, doubling from 10 s to 5 minutes
        # (AWS backs off too): a template that cannot launch is not a failed activity per
        # round forever. In memory: a gateway taking the group over starts afresh.
        self._backoff: dict[tuple[str, str], tuple[datetime, timedelta]] = {}

    async def run_once(self) -> int:
        """One round over every group; the number of groups this gateway converged."""
        converged = 0
        for group in await self.service.store.groups(None):
            if self.active is not None and not await self.active(group.tenant_id):
                continue
            held = await self._claim(group)
            if held is None:
                continue
            await self._converge(held)
            converged += 1
        return converged

    async def _claim(self, group: Group) -> Group | None:
        now = self.service.clock()
        if (
            group.claimed_by not in (None, self.owner)
            and group.claimed_until is not None
            and group.claimed_until > now
        ):
            return None  # another gateway's, its lease running
        if (
            group.claimed_by == self.owner
            and group.claimed_until is not None
            and group.claimed_until - now > self.lease / 2
        ):
            return group  # ours, and not yet due for renewal: no write
        claimed = replace(group, claimed_by=self.owner, claimed_until=now + self.lease)
        if not await self.service.store.change(claimed):
            return None  # changed meanwhile (another gateway's claim or a call): next round
        return replace(claimed, revision=claimed.revision + 1)

    async def _converge(self, group: Group) -> None:
        service = self.service
        members = await service.fleet.members(group.tenant_id, group.name)
        now = iso(service.clock())
        if group.deleting:
            doomed = [m for m in members if m.state != "shutting-down"]
            await service.terminate_members(
                group,
                doomed,
                f"At {now} an instance was taken out of service in response to a user request "
                "to delete the group.",
            )
            if not members:
                fresh = await service.store.get(group.tenant_id, group.name)
                if fresh is not None:
                    await service.store.delete(fresh)
            return
        unhealthy = [m for m in members if m.state in ("stopping", "stopped")]
        if unhealthy:
            await service.terminate_members(
                group,
                unhealthy,
                f"At {now} an instance was taken out of service in response to an EC2 "
                "instance status check failure.",
            )
        alive = [m for m in members if m.alive]
        if len(alive) < group.desired_capacity:
            waiting = self._backoff.get((group.tenant_id, group.name))
            if waiting is None or waiting[0] <= service.clock():
                await self._launch(group, alive, group.desired_capacity - len(alive))
        elif len(alive) > group.desired_capacity:
            extra = sorted(alive, key=_termination_order)[: len(alive) - group.desired_capacity]
            await service.terminate_members(
                group,
                extra,
                f"At {now} an instance was taken out of service in response to a difference "
                f"between desired and actual capacity, shrinking the capacity from {len(alive)} "
                f"to {group.desired_capacity}.",
            )

    async def _launch(self, group: Group, alive: list[Member], missing: int) -> None:
        service = self.service
        held = Counter(m.subnet_id for m in alive)
        tags = [(GROUP_TAG, group.name)] + [
            (t.key, t.value) for t in group.tags if t.propagate_at_launch
        ]
        for step in range(missing):
            subnet = (
                min(group.subnets, key=lambda s: (held[s], group.subnets.index(s)))
                if group.subnets
                else None
            )
            started = service.clock()
            cause = (
                f"At {iso(started)} an instance was started in response to a difference between "
                f"desired and actual capacity, increasing the capacity from "
                f"{len(alive) + step} to {group.desired_capacity}."
            )
            try:
                member = await service.fleet.launch(
                    group.tenant_id, group.template_id, group.template_version, subnet, tags
                )
            except LaunchFailed as exc:
                await service.record(
                    group,
                    "Launching a new EC2 instance.  Status Reason: " + str(exc),
                    cause,
                    ActivityStatus.FAILED,
                    started,
                    str(exc),
                    subnet=subnet,
                )
                key = (group.tenant_id, group.name)
                _, delay = self._backoff.get(key, (started, _FIRST_BACKOFF / 2))
                delay = min(delay * 2, _LAST_BACKOFF)
                self._backoff[key] = (service.clock() + delay, delay)
                return
            self._backoff.pop((group.tenant_id, group.name), None)
            held[subnet] += 1
            await service.record(
                group,
                f"Launching a new EC2 instance: {member.instance_id}",
                cause,
                ActivityStatus.SUCCESSFUL,
                started,
                subnet=subnet,
            )


def _termination_order(member: Member) -> tuple[int, float, str]:
    """Oldest launch template version first (none known: oldest of all), then oldest."""
    return (
        member.template_version or 0,
        member.launch_time.timestamp(),
        member.instance_id,
    )
