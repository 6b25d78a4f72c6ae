"""The reconciler (decision 0156): in every gateway, each round takes the groups no other
gateway holds (a lease written by a conditional update on the group's revision, so one
gateway converges a group at a time), then for each compares the instances tagged with the
group's name to its desired capacity:

- a stopped or stopping instance is unhealthy under the EC2 health check: terminated, and
  replaced like any missing one; (decision 0198) under the ELB health check, so is an
  InService instance past the grace period that a target group of the group reports
  unhealthy (marked Unhealthy in the group first), and (its session-49 addendum) one the
  account marked Unhealthy by SetInstanceHealth;
- missing instances are launched from the group's launch template version, each in the
  group's subnet holding the fewest of its instances (the zones balanced, simplified);
- extra instances are terminated: those of the oldest launch template version first, then
  the oldest launched (AWS's default termination policy without its zone balancing and
  billing-hour steps);
- a group marked for deletion (ForceDelete) has all of its instances terminated, then goes;
- a failed launch is retried after a backoff (10 s, doubling up to 5 minutes);
- (decision 0182) instances protected from scale-in are never chosen to scale in; Standby
  instances are not counted nor replaced; a suspended process (Launch, Terminate,
  HealthCheck, ReplaceUnhealthy, ScheduledActions, InstanceRefresh) is not done;
- (decision 0159) due scheduled actions fire first; lifecycle hooks hold a launched instance
  in Pending:Wait and a leaving one in Terminating:Wait until their actions complete or time
  out; an active instance refresh retires its next batch when the group is back in shape;
- (decision 0197) predictive scaling policies in ForecastAndScale mode raise the desired
  capacity to their forecast capacity before each hour;
- (decision 0194) the warm pool's instances are out of the capacity; a scale-out takes
  warmed instances before launching, a scale-in with ReuseOnScaleIn returns instances to
  the pool, and ``warm_pool.tend`` keeps the pool at its size and in its state.

Every launch and termination is a scaling activity (and, through the service's hook, an
audit event of the group's account, and (decision 0188) a notification to the group's
topics for its type).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from andromede.autoscaling import predictive, schedules, warm_pool
from andromede.autoscaling.errors import AutoScalingError
from andromede.autoscaling.fleet import LaunchFailed
from andromede.autoscaling.health import elb_verdicts
from andromede.autoscaling.mixed import (
    Launch,
    next_is_spot,
    on_demand_share,
    plan_launch,
    weight_of,
)
from andromede.autoscaling.model import GROUP_TAG, ActivityStatus, Group, Member
from andromede.autoscaling.notify import EVENT_LAUNCH
from andromede.autoscaling.records import HOOK_LAUNCHING, HOOK_TERMINATING, Waiting
from andromede.autoscaling.refresh import next_batch, with_refresh
from andromede.autoscaling.service import AutoScalingService, iso
from andromede.autoscaling.waits import expire

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
            try:
                await self._converge(held)
            except AutoScalingError:
                continue  # deleted or changed under the round: the next round sees it anew
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
        if group.deleting:
            await self._drain(group)
            return
        # Scheduled actions first: the sizes they set are the ones converged to (decision
        # 0182: while ScheduledActions is suspended, those due are skipped, as on AWS).
        if group.suspends("ScheduledActions"):
            group = await schedules.skip_due(service, group)
        else:
            group = await schedules.fire_due(service, group)
        # Decision 0197: the capacity predictive scaling forecasts for the coming hour.
        group = await predictive.scale(service, group)
        members = await service.fleet.members(group.tenant_id, group.name)
        group = await self._forget_gone(group, members)
        group, gone = await self._lifecycle(group, members)
        members = [m for m in members if m.instance_id not in gone]
        # Decision 0194: the warm pool's instances are out of the group's capacity.
        pool = [m for m in members if m.instance_id in group.warmed]
        members = [m for m in members if m.instance_id not in group.warmed]
        group = await self._check_targets(group, members)
        group = await self._capacity(group, members, pool)
        if group.warm_pool is None and not group.warmed:
            return
        # The pool's round, over a fresh read: the capacity's step may have moved instances.
        key = (group.tenant_id, group.name)
        waiting = self._backoff.get(key)
        may_launch = not group.suspends("Launch") and (
            waiting is None or waiting[0] <= service.clock()
        )
        group = await service.group(group.tenant_id, group.name)
        pool = [
            m
            for m in await service.fleet.members(group.tenant_id, group.name)
            if m.instance_id in group.warmed
        ]
        _, launched = await warm_pool.tend(service, group, pool, may_launch=may_launch)
        if not launched:
            self._back_off(key, service.clock())

    async def _capacity(self, group: Group, members: list[Member], pool: list[Member]) -> Group:
        """The group's own instances converged to its desired capacity; the group."""
        service = self.service
        now = iso(service.clock())
        leaving = {w.instance_id for w in group.waiting if w.transition == HOOK_TERMINATING}
        # Standby instances are neither counted, replaced, refreshed nor scaled in (0182).
        counted = [m for m in members if m.instance_id not in group.standby]
        staying = [m for m in counted if m.instance_id not in leaving]
        # Unhealthy instances are replaced unless HealthCheck, ReplaceUnhealthy or Terminate
        # is suspended; then they stay, counted in the capacity, as on AWS.
        replacing = not any(
            group.suspends(p) for p in ("HealthCheck", "ReplaceUnhealthy", "Terminate")
        )
        failed_ec2 = [m for m in staying if m.state in ("stopping", "stopped")]
        # Decision 0198: those the ELB health check marked, still running.
        failed_elb = [
            m for m in staying if m.instance_id in group.unhealthy and m not in failed_ec2
        ]
        unhealthy = failed_ec2 + failed_elb
        if unhealthy and replacing:
            group = await self._retire(
                group,
                failed_ec2,
                f"At {now} an instance was taken out of service in response to an EC2 "
                "instance status check failure.",
            )
            by_user = [m for m in failed_elb if m.instance_id in group.marked_by_user]
            group = await self._retire(
                group,
                [m for m in failed_elb if m not in by_user],
                f"At {now} an instance was taken out of service in response to an ELB "
                "system health check failure.",
            )
            # SetInstanceHealth's marks (decision 0198, session 49): AWS's cause for them.
            group = await self._retire(
                group,
                by_user,
                f"At {now} an instance was taken out of service in response to a user "
                "health-check.",
            )
        if not group.suspends("InstanceRefresh") and await self._refresh(group, counted):
            return group  # the batch retired: the next rounds launch its replacements
        alive = [
            m
            for m in staying
            # An unhealthy instance is counted only while it is not being replaced.
            if (m.alive and m not in unhealthy) or (not replacing and m in unhealthy)
            if m.instance_id not in group.detaching
            # CapacityRebalance (decision 0209): a Spot Instance under its interruption notice
            # is replaced now rather than once gone (compute ends it when the notice does).
            if not (group.capacity_rebalance and m.interrupted)
        ]
        # Being attached: counted already, whether or not compute has tagged it yet.
        present = {m.instance_id for m in members}
        # Decision 0209: each instance counts for its type's weight (1 without a policy).
        count = sum(_units(group, m) for m in alive) + sum(
            i not in present for i in group.attaching
        )
        if count < group.desired_capacity:
            if group.suspends("Launch"):
                return group
            # A warmed instance first (decision 0194), a new launch for what is still missing.
            group, taken = await warm_pool.take(
                service, group, pool, group.desired_capacity - count, count
            )
            count += taken
            waiting = self._backoff.get((group.tenant_id, group.name))
            if count < group.desired_capacity and (
                waiting is None or waiting[0] <= service.clock()
            ):
                await self._launch(group, alive, group.desired_capacity - count, count)
        elif count > group.desired_capacity and not group.suspends("Terminate"):
            # Instances protected from scale-in are never chosen (decision 0182): when only
            # they are left, the group stays above its desired capacity, as on AWS.
            kept = {*group.protected, *group.attaching}
            free = [m for m in alive if m.instance_id not in kept]
            extra = _scale_in(group, free, alive, count)
            config = group.warm_pool
            if config is not None and config.reuse_on_scale_in and not config.deleting:
                return await warm_pool.give_back(service, group, extra, count)
            group = await self._retire(
                group,
                extra,
                f"At {now} an instance was taken out of service in response to a difference "
                f"between desired and actual capacity, shrinking the capacity from {count} "
                f"to {group.desired_capacity}.",
            )
        return group

    async def _check_targets(self, group: Group, members: list[Member]) -> Group:
        """The ELB health check's round (decision 0198): the InService instances past the
        grace period that a target group reports unhealthy are marked Unhealthy."""
        service = self.service
        found = await elb_verdicts(service.target_health, group, members, service.clock())
        if not found:
            return group

        def mark(g: Group) -> Group | None:
            marked = tuple(sorted({*g.unhealthy, *found}))
            return None if marked == g.unhealthy else replace(g, unhealthy=marked)

        return await service.mutate(group.tenant_id, group.name, mark)

    async def _forget_gone(self, group: Group, members: list[Member]) -> Group:
        """Protection, Standby, warm pool places and Unhealthy marks of instances no longer
        the group's are dropped."""
        if not (group.protected or group.standby or group.warmed or group.unhealthy):
            return group
        present = {m.instance_id for m in members}

        def tidy(g: Group) -> Group | None:
            protected = tuple(i for i in g.protected if i in present)
            standby = tuple(i for i in g.standby if i in present)
            warmed = tuple(i for i in g.warmed if i in present)
            unhealthy = tuple(i for i in g.unhealthy if i in present)
            by_user = tuple(i for i in g.marked_by_user if i in present)
            if (protected, standby, warmed, unhealthy, by_user) == (
                g.protected,
                g.standby,
                g.warmed,
                g.unhealthy,
                g.marked_by_user,
            ):
                return None
            return replace(
                g,
                protected=protected,
                standby=standby,
                warmed=warmed,
                unhealthy=unhealthy,
                marked_by_user=by_user,
            )

        return await self.service.mutate(group.tenant_id, group.name, tidy)

    async def _drain(self, group: Group) -> None:
        """ForceDelete: every instance terminated (outstanding lifecycle actions dropped, as
        AWS does), then the group deleted."""
        service = self.service
        members = await service.fleet.members(group.tenant_id, group.name)
        doomed = [m for m in members if m.state != "shutting-down"]
        await service.terminate_members(
            group,
            doomed,
            f"At {iso(service.clock())} an instance was taken out of service in response to a "
            "user request to delete the group.",
        )
        if not members:
            fresh = await service.store.get(group.tenant_id, group.name)
            if fresh is not None:
                await service.store.delete(fresh)

    async def _retire(self, group: Group, members: list[Member], cause: str) -> Group:
        """Terminate ``members``, or, when the group has termination hooks, hold them in
        Terminating:Wait (terminated once their actions are done)."""
        service = self.service
        if not members:
            return group
        if any(h.transition == HOOK_TERMINATING for h in group.hooks):
            ids = [m.instance_id for m in members]
            return await service.hold(group.tenant_id, group.name, ids, HOOK_TERMINATING)
        await service.terminate_members(group, members, cause)
        return group

    async def _lifecycle(self, group: Group, members: list[Member]) -> tuple[Group, set[str]]:
        """Lifecycle actions: those past their timeout take their hook's default result;
        an instance whose actions all have one moves on (a launch abandoned or a termination
        goes ahead: terminated; a launch continued: in service); those of instances gone are
        dropped. The group, and the instances terminated."""
        if not group.waiting:
            return group, set()
        service = self.service
        now = service.clock()
        present = {m.instance_id: m for m in members}

        def tidy(g: Group) -> Group | None:
            kept = expire(g, now)
            kept = replace(kept, waiting=tuple(w for w in kept.waiting if w.instance_id in present))
            return None if kept.waiting == g.waiting else kept

        group = await service.mutate(group.tenant_id, group.name, tidy)
        by_instance: dict[str, list[Waiting]] = {}
        for entry in group.waiting:
            by_instance.setdefault(entry.instance_id, []).append(entry)
        done = [
            (instance_id, entries)
            for instance_id, entries in by_instance.items()
            if all(e.result is not None for e in entries)
        ]
        if not done:
            return group, set()
        stamp = iso(now)
        gone = set()
        for instance_id, entries in done:
            terminating = any(e.transition == HOOK_TERMINATING for e in entries)
            abandoned = any(e.result == "ABANDON" for e in entries)
            if terminating:
                cause = (
                    f"At {stamp} an instance was taken out of service after its termination "
                    "lifecycle action completed."
                )
            elif abandoned:
                cause = f"At {stamp} the launch lifecycle action of the instance was abandoned."
            else:
                continue
            await service.terminate_members(group, [present[instance_id]], cause)
            gone.add(instance_id)
        finished = {instance_id for instance_id, _ in done}

        def clear(g: Group) -> Group | None:
            kept = tuple(
                w for w in g.waiting if not (w.instance_id in finished and w.result is not None)
            )
            return None if kept == g.waiting else replace(g, waiting=kept)

        return await service.mutate(group.tenant_id, group.name, clear), gone

    async def _refresh(self, group: Group, members: list[Member]) -> bool:
        """The active instance refresh's step; True when it retired a batch this round."""
        service = self.service
        step = next_batch(group, members, service.clock())
        if step is None:
            return False
        refresh, batch = step
        active = group.active_refresh
        if refresh != active:
            changed = with_refresh(group, refresh)
            if not await service.store.change(changed):
                return True  # another change came first: this step again next round
            group = replace(changed, revision=changed.revision + 1)
        if not batch:
            return False
        await self._retire(
            group,
            batch,
            f"At {iso(service.clock())} an instance was taken out of service in response to "
            "an instance refresh.",
        )
        return True

    def _back_off(self, key: tuple[str, str], started: datetime) -> None:
        _, delay = self._backoff.get(key, (started, _FIRST_BACKOFF / 2))
        delay = min(delay * 2, _LAST_BACKOFF)
        self._backoff[key] = (self.service.clock() + delay, delay)

    async def _launch(self, group: Group, alive: list[Member], missing: int, count: int) -> None:
        service = self.service
        held_in = Counter(m.subnet_id for m in alive)
        tags = [(GROUP_TAG, group.name)] + [
            (t.key, t.value) for t in group.tags if t.propagate_at_launch
        ]
        mixed = group.mixed
        markets = await service.fleet.market() if mixed is not None and mixed.overrides else {}
        held = [(m.instance_type, m.lifecycle == "spot") for m in alive]
        have = count
        refused = False  # an override type refused the template this round (decision 0214)
        while have < count + missing:
            plan = (
                plan_launch(mixed, group.desired_capacity, held, markets)
                if mixed is not None
                else Launch(None, False, 1)
            )
            if plan is None and refused:  # its failure recorded: no capacity message too
                self._back_off((group.tenant_id, group.name), service.clock())
                return
            subnet = (
                min(group.subnets, key=lambda s: (held_in[s], group.subnets.index(s)))
                if group.subnets
                else None
            )
            started = service.clock()
            cause = (
                f"At {iso(started)} an instance was started in response to a difference between "
                f"desired and actual capacity, increasing the capacity from "
                f"{have} to {group.desired_capacity}."
            )
            try:
                if plan is None:
                    raise LaunchFailed(_unlaunchable(group, alive))
                member = await service.fleet.launch(
                    group.tenant_id,
                    group.template_id,
                    group.template_version,
                    subnet,
                    tags,
                    instance_type=plan.instance_type,
                    spot=plan.spot,
                    spot_max_price=plan.max_price,
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
                    event=EVENT_LAUNCH,
                )
                if exc.refused_type is not None and exc.refused_type in markets:
                    del markets[exc.refused_type]  # as EC2 Fleet: the policy's next type
                    refused = True
                    continue
                self._back_off((group.tenant_id, group.name), started)
                return
            self._backoff.pop((group.tenant_id, group.name), None)
            held_in[subnet] += 1
            have += plan.weight
            held.append((member.instance_type, plan.spot))
            alive = [*alive, member]
            if plan.instance_type in markets:  # one fewer of its room, as the hosts see it
                markets[plan.instance_type] = replace(
                    markets[plan.instance_type], room=markets[plan.instance_type].room - 1
                )
            if group.new_instances_protected:

                def protect(g: Group, launched: str = member.instance_id) -> Group:
                    return replace(g, protected=tuple(sorted({*g.protected, launched})))

                group = await service.mutate(group.tenant_id, group.name, protect)
            if any(h.transition == HOOK_LAUNCHING for h in group.hooks):
                group = await service.hold(
                    group.tenant_id, group.name, [member.instance_id], HOOK_LAUNCHING
                )
            await service.record(
                group,
                f"Launching a new EC2 instance: {member.instance_id}",
                cause,
                ActivityStatus.SUCCESSFUL,
                started,
                subnet=subnet,
                zone=member.availability_zone,
                event=EVENT_LAUNCH,
                instance_id=member.instance_id,
            )


def _termination_order(member: Member) -> tuple[int, float, str]:
    """Oldest launch template version first (none known: oldest of all), then oldest."""
    return (
        member.template_version or 0,
        member.launch_time.timestamp(),
        member.instance_id,
    )


def _units(group: Group, member: Member) -> int:
    """The capacity units ``member`` counts for in ``group`` (decision 0209)."""
    return weight_of(group.mixed, member.instance_type) if group.mixed is not None else 1


def _on_demand(group: Group, members: list[Member]) -> int:
    return sum(_units(group, m) for m in members if m.lifecycle != "spot")


def _unlaunchable(group: Group, alive: list[Member]) -> str:
    """Why no type of the group's policy could be launched (an activity's status)."""
    policy = group.mixed
    if policy is not None and next_is_spot(
        policy, group.desired_capacity, _on_demand(group, alive)
    ):
        return (
            "Could not launch Spot Instances. There is no Spot capacity available that "
            "matches your request, or your maximum price is below the Spot price."
        )
    return (
        "We currently do not have sufficient capacity for any of the instance types in the "
        "request. Launching EC2 instance failed."
    )


def _scale_in(group: Group, free: list[Member], alive: list[Member], count: int) -> list[Member]:
    """The instances a scale-in terminates: by the termination order, never taking the
    capacity below the desired one (weights counted); with a mixed instances policy, those
    of the market above its share first, so the On-Demand/Spot split holds (decision 0209)."""
    ordered = sorted(free, key=_termination_order)
    if group.mixed is not None:
        spot_first = _on_demand(group, alive) <= on_demand_share(
            group.mixed, group.desired_capacity
        )
        ordered.sort(key=lambda m: (m.lifecycle == "spot") != spot_first)
    chosen = []
    left = count
    for member in ordered:
        units = _units(group, member)
        if left - units >= group.desired_capacity:
            chosen.append(member)
            left -= units
    return chosen
