"""The persistence interface of EventBridge's buses, rules and targets (decision 0192); its
implementations are :mod:`andromede.events.memory` (the in-memory twin) and
:mod:`andromede.events.store_sql` (SQLite and PostgreSQL). The contract suite
(``tests/contract/test_events_stores.py``) holds both to the same behaviour.

Lists are in byte order of the name, paged after a name; a prefix is case-sensitive. A limit
is checked in the transaction that would exceed it, so two gateways cannot both pass it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.events.model import EventBus, Rule, Target

__all__ = ["EventsStore", "KeyGuard"]


@dataclass(frozen=True, slots=True)
class KeyGuard:
    """Decision 0218: a rule or targets sealed for the bus's key ``key`` (as given; None:
    EventBridge's own key) are written only while the bus still names that key, checked in
    the write's transaction under the bus's row lock — ConcurrentModification otherwise, so
    nothing lands under a key the bus has just left."""

    key: str | None


class EventsStore(Protocol):
    async def create_bus(
        self, bus: EventBus, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        """ResourceAlreadyExists for a taken name, LimitExceeded past ``limit`` custom buses
        (the default bus's row, when it has one, is not counted; ``counted``: which stored
        names count, a Region's view counting its own, decision 0349)."""
        ...

    async def get_bus(self, tenant_id: str, name: str) -> EventBus | None: ...

    async def list_buses(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> list[EventBus]:
        """The buses with a row, the default bus's among them once configured."""
        ...

    async def change_bus(
        self,
        tenant_id: str,
        name: str,
        change: Callable[[EventBus], EventBus],
        *,
        blank: EventBus | None = None,
    ) -> EventBus:
        """A bus's description, tags, key, dead-letter queue and re-seal mark replaced by
        ``change(held)``'s,
        in one transaction (UpdateEventBus, TagResource); ResourceNotFound when there is no
        such bus, unless ``blank`` is given: then ``change`` starts from it and the row is
        made (the default bus's first configuration, decision 0213's session 51 addendum; two
        gateways making it at once both land, one after the other). ``change`` may raise."""
        ...

    async def delete_bus(self, tenant_id: str, name: str) -> None:
        """The bus, its rules, their targets and its policy (nothing when there is no such
        bus)."""
        ...

    async def get_bus_policy(self, tenant_id: str, name: str) -> str | None:
        """The bus's resource policy (session 48), the default bus's included."""
        ...

    async def change_bus_policy(
        self, tenant_id: str, name: str, change: Callable[[str | None], str | None]
    ) -> None:
        """Replace the bus's resource policy by ``change(held)`` (None removes it), in one
        transaction with the bus's existence: ResourceNotFound for a custom bus that is not
        there, so a policy never outlives its bus; ConcurrentModification when another
        gateway wrote the first policy of the bus meanwhile. ``change`` may raise."""
        ...

    async def put_rule(self, rule: Rule, *, limit: int, guard: KeyGuard | None = None) -> None:
        """Create or replace; LimitExceeded when a new rule would make its bus hold more
        than ``limit``; ConcurrentModification when ``guard`` no longer holds."""
        ...

    async def replace_rule(self, before: Rule, after: Rule) -> bool:
        """``after`` in place of the rule only if it is still ``before`` (a re-seal, decision
        0218); whether it was."""
        ...

    async def get_rule(self, tenant_id: str, bus: str, name: str) -> Rule | None: ...

    async def list_rules(
        self, tenant_id: str, bus: str, prefix: str, after: str, limit: int
    ) -> list[Rule]: ...

    async def delete_rule(self, tenant_id: str, bus: str, name: str) -> None:
        """ValidationError while the rule has targets (AWS's refusal)."""
        ...

    async def scheduled_rules(self) -> list[Rule]:
        """Every account's rules with a schedule, enabled or not."""
        ...

    async def put_targets(
        self,
        tenant_id: str,
        bus: str,
        rule: str,
        targets: Sequence[Target],
        *,
        limit: int,
        guard: KeyGuard | None = None,
    ) -> None:
        """Add or replace by id; LimitExceeded when the rule would hold more than ``limit``;
        ConcurrentModification when ``guard`` no longer holds."""
        ...

    async def replace_target(
        self, tenant_id: str, bus: str, rule: str, before: Target, after: Target
    ) -> bool:
        """``after`` in place of the target only if it is still ``before`` (decision 0218);
        whether it was."""
        ...

    async def resealing_buses(self, limit: int) -> list[EventBus]:
        """Every account's buses whose re-seal after a key change is not finished (decision
        0218), at most ``limit``."""
        ...

    async def remove_targets(
        self, tenant_id: str, bus: str, rule: str, ids: Sequence[str]
    ) -> list[str]:
        """The ids removed (those the rule had)."""
        ...

    async def list_targets(self, tenant_id: str, bus: str, rule: str) -> list[Target]:
        """In id order."""
        ...

    async def targets_by_rule(self, tenant_id: str, bus: str) -> dict[str, list[Target]]:
        """Each rule of the bus that has targets, its targets (PutEvents' one read)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete every bus, policy, rule and target of a closed tenant; how many rules went."""
        ...

    async def rules_by_target(
        self, tenant_id: str, bus: str, arn: str, after: str, limit: int
    ) -> list[str]:
        """Names of the bus's rules with a target of that ARN, in name order."""
        ...
