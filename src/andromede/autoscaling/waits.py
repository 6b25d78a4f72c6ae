"""The lifecycle actions a group's instances wait on (decision 0159): :func:`hold` starts
them for a launch or a termination, one per hook of that transition; :func:`expire` gives
those past their deadline their hook's default result."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from andromede.autoscaling.model import Group
from andromede.autoscaling.records import Waiting

__all__ = ["expire", "hold"]

# AWS: a lifecycle action lasts at most 100 heartbeat timeouts or 48 hours.
_MAX_WAIT: Final = timedelta(hours=48)


def hold(group: Group, instance_ids: Sequence[str], transition: str, now: datetime) -> Group:
    """The group with ``instance_ids`` waiting on each of its hooks for ``transition``
    (the instances already waiting on that transition are left as they are)."""
    hooks = [h for h in group.hooks if h.transition == transition]
    held = {(w.instance_id, w.transition) for w in group.waiting}
    added = []
    for instance_id in instance_ids:
        if (instance_id, transition) in held:
            continue
        for hook in hooks:
            span = timedelta(seconds=hook.heartbeat_timeout)
            added.append(
                Waiting(
                    instance_id=instance_id,
                    hook=hook.name,
                    transition=transition,
                    token=str(uuid.uuid4()),
                    started=now,
                    deadline=now + span,
                    last_deadline=now + min(span * 100, _MAX_WAIT),
                    default_result=hook.default_result,
                )
            )
    return replace(group, waiting=group.waiting + tuple(added))


def expire(group: Group, now: datetime) -> Group:
    """The group with the actions past their deadline given their hook's default result."""
    return replace(
        group,
        waiting=tuple(
            replace(w, result=w.default_result) if w.result is None and w.deadline <= now else w
            for w in group.waiting
        ),
    )
