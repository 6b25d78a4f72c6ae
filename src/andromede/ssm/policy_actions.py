"""Parameter policies' actions (decisions 0229 and 0241): when a parameter's next one is due,
and the upkeep's round taking those due.

A parameter's row keeps one time, ``Parameter.next_action``: every action of its newest
version's policies due at or after it is still to be taken, those before it were taken. A
round takes, for each parameter whose time has come, the actions due by now, then either
deletes the parameter (an Expiration among them) or writes its next time against the
revision it read: of several gateways taking one parameter at once, one succeeds and the
others find it moved on (``Conflict``) or gone, so each action is taken once. A new version
sets the time again (``first_action``): a NoChangeNotification counts from that version, an
ExpirationNotification already taken stays taken while the policies are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from andromede.ssm.errors import Conflict
from andromede.ssm.model import (
    EXPIRATION,
    EXPIRATION_NOTIFICATION,
    ParameterVersion,
    policy_actions,
)
from andromede.ssm.store import ParameterStore

__all__ = ["PolicyAction", "finished_policies", "first_action", "take_due_actions"]


@dataclass(frozen=True, slots=True)
class PolicyAction:
    """One policy's action taken: the version it acted on, the policy (its JSON object) and
    when it was due. An Expiration's parameter is deleted."""

    version: ParameterVersion
    policy: dict[str, Any]
    due: datetime

    @property
    def kind(self) -> str:
        return str(self.policy["Type"])


def first_action(
    version: ParameterVersion, pending_from: datetime | None, fresh: bool
) -> datetime | None:
    """A new version's next action: the earliest of its policies', an ExpirationNotification
    of policies kept from the previous version (``fresh`` False) only if it was still pending
    there (due at or after ``pending_from``, the previous ``next_action``)."""
    times = [
        when
        for when, policy in policy_actions(version)
        if fresh
        or policy["Type"] != EXPIRATION_NOTIFICATION
        or (pending_from is not None and when >= pending_from)
    ]
    return min(times, default=None)


def finished_policies(version: ParameterVersion, next_action: datetime | None) -> frozenset[str]:
    """The types of the newest version's policies whose action was taken (AWS's
    ``PolicyStatus`` Finished; a parameter has one policy of each type): those due before the
    parameter's ``next_action``, every one when none is left. A policy that never acts (an
    ExpirationNotification without an Expiration) stays pending."""
    return frozenset(
        str(policy["Type"])
        for when, policy in policy_actions(version)
        if next_action is None or when < next_action
    )


async def take_due_actions(store: ParameterStore, now: datetime, limit: int) -> list[PolicyAction]:
    """The actions due by ``now`` of up to ``limit`` parameters, each taken once."""
    taken: list[PolicyAction] = []
    for tenant_id, region, name in await store.due(now, limit):
        held = await store.get(tenant_id, region, name)
        if held is None or held.next_action is None or held.next_action > now:
            continue  # written or deleted since
        actions = policy_actions(held.latest)
        due = [
            PolicyAction(held.latest, policy, when)
            for when, policy in actions
            if held.next_action <= when <= now
        ]
        expired = [action.due for action in due if action.kind == EXPIRATION]
        if expired:
            # Nothing is due of a parameter once it is gone.
            if await store.delete(tenant_id, region, name):  # every version, as AWS
                taken.extend(action for action in due if action.due <= expired[0])
            continue
        later = min((when for when, _ in actions if when > now), default=None)
        try:
            await store.write(replace(held, next_action=later), held.revision, add_latest=False)
        except Conflict:
            continue  # another gateway took them, or a write moved it on: the next round sees
        taken.extend(due)
    return taken
