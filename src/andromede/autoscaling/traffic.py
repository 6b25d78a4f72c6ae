"""A group's traffic sources (decision 0201): the states of its attachments to Elastic Load
Balancing target groups, however attached (AttachLoadBalancerTargetGroups or
AttachTrafficSources: one attachment, shown by both APIs), and the pure step that advances
them from what the target groups report.

As AWS's: ``Adding`` until every instance of the group the load balancers' upkeep registers
(:func:`serving`) is a target of the target group, ``Added`` then, ``InService`` once one of
them passes the target group's health check (and it stays so); detached, ``Removing`` while
the group's instances are deregistered and drain, then gone. A target group attached by
CreateAutoScalingGroup is ``InService`` at once, as AWS's reference says. The target groups'
view reaches here through :class:`~andromede.autoscaling.health.TargetHealth` (the adapter is
``andromede.autoscaling_adapters``'s); the step runs in the load balancers' upkeep, after
the registration it checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

from andromede.autoscaling.model import Group, Member

__all__ = [
    "ADDED",
    "ADDING",
    "IN_SERVICE",
    "REMOVING",
    "advanced",
    "listed",
    "serving",
    "with_target_groups",
]

ADDING: Final = "Adding"
ADDED: Final = "Added"
IN_SERVICE: Final = "InService"
REMOVING: Final = "Removing"
_DRAINING: Final = "draining"
_HEALTHY: Final = "healthy"

# What a target group shows of its targets (instance id → DescribeTargetHealth's state), or
# None once the target group is gone.
View = Mapping[str, str] | None


def listed(group: Group) -> list[tuple[str, str]]:
    """The group's attachments and their states: the attached target groups in the order
    attached (Added when no state is recorded, as a document before decision 0201 reads),
    then those Removing."""
    known = dict(group.attachment_states)
    attached = [(arn, known.get(arn, ADDED)) for arn in group.target_groups]
    held = set(group.target_groups)
    return attached + [(a, s) for a, s in group.attachment_states if a not in held]


def with_target_groups(
    group: Group, wanted: tuple[str, ...], *, joined: str = ADDING
) -> Group | None:
    """The group attached to ``wanted``: a target group newly there (or again, while
    Removing) in the ``joined`` state, one let go of Removing; None when nothing changes."""
    states = dict(listed(group))
    for arn in group.target_groups:
        if arn not in wanted:
            states[arn] = REMOVING
    for arn in wanted:
        if arn not in group.target_groups:
            states[arn] = joined
    kept = set(wanted)
    pairs = tuple((a, states[a]) for a in wanted) + tuple(
        (a, s) for a, s in states.items() if a not in kept and s == REMOVING
    )
    if wanted == group.target_groups and pairs == group.attachment_states:
        return None
    return replace(group, target_groups=wanted, attachment_states=pairs)


def serving(group: Group, members: Sequence[Member]) -> list[str]:
    """The instances the load balancers' upkeep registers in the group's target groups:
    running, not in Standby, the warm pool or detaching (decision 0191)."""
    away = {*group.standby, *group.detaching, *group.warmed}
    return [m.instance_id for m in members if m.state == "running" and m.instance_id not in away]


def advanced(
    group: Group, members: Sequence[Member], seen: Mapping[str, View]
) -> tuple[tuple[str, str], ...]:
    """The group's attachment states once the target groups show ``seen`` (an attachment
    not in ``seen`` was not looked at and keeps its state). A Removing one whose target
    group holds none of the group's instances any more (drained) or is gone leaves."""
    wanted = serving(group, members)
    everyone = {m.instance_id for m in members}
    states: list[tuple[str, str]] = []
    for arn, state in listed(group):
        if arn not in seen:
            states.append((arn, state))
            continue
        view = seen[arn]
        if state == REMOVING:
            if view is not None and everyone & view.keys():
                states.append((arn, state))
            continue
        if view is not None:
            if state == ADDING and all(view.get(i, _DRAINING) != _DRAINING for i in wanted):
                state = ADDED
            if state == ADDED and any(view.get(i) == _HEALTHY for i in wanted):
                state = IN_SERVICE
        states.append((arn, state))
    return tuple(states)
