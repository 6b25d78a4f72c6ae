"""What Auto Scaling needs of compute, as a port: resolve a launch template, launch one
instance from it as the group's account, list the account's instances carrying a group's tag,
terminate some, tell the prices and room of each instance type (decision 0209),
and (decision 0194: the warm pool) stop and start some. The adapter over
the compute service is ``andromede.autoscaling_adapters``'s
(bounded contexts do not import each other)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from andromede.autoscaling.mixed import TypeMarket
from andromede.autoscaling.model import Member

__all__ = ["Adoptable", "Fleet", "LaunchFailed", "TemplateChoice"]


class LaunchFailed(Exception):
    """A launch or a termination compute refused, with compute's message (the activity's).
    ``refused_type``: a mixed instances policy's override type that cannot take the launch
    template as it is (its CPU options, decision 0214): the group's next type may."""

    def __init__(self, message: str, *, refused_type: str | None = None) -> None:
        super().__init__(message)
        self.refused_type = refused_type


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    template_id: str
    template_name: str
    # The version asked, resolved ("$Latest" and "$Default" to their numbers).
    number: int = 0


@dataclass(frozen=True, slots=True)
class Adoptable:
    member: Member
    group_name: str | None


class Fleet(Protocol):
    async def template(
        self, tenant_id: str, template_id: str | None, name: str | None, version: str
    ) -> TemplateChoice:
        """The launch template named, its ``version`` checked to exist; LaunchFailed when
        either does not."""
        ...

    async def launch(
        self,
        tenant_id: str,
        template_id: str,
        version: str,
        subnet_id: str | None,
        tags: Sequence[tuple[str, str]],
        *,
        instance_type: str | None = None,
        spot: bool = False,
        spot_max_price: Decimal | None = None,
    ) -> Member:
        """One instance from the template's version, in ``subnet_id``, tagged ``tags``; of
        ``instance_type`` instead of the template's when given, and a Spot Instance (at most
        ``spot_max_price``, else the On-Demand price) when ``spot`` (decision 0209)."""
        ...

    async def market(self) -> dict[str, TypeMarket]:
        """Each instance type's On-Demand and Spot price and the room for more of it."""
        ...

    async def members(self, tenant_id: str, group_name: str) -> list[Member]:
        """The account's instances tagged as the group's, terminated ones excepted."""
        ...

    async def terminate(self, tenant_id: str, instance_ids: Sequence[str]) -> None: ...

    async def stop(self, tenant_id: str, instance_ids: Sequence[str]) -> None:
        """Stop running instances (a warm pool's, decision 0194); LaunchFailed when refused."""
        ...

    async def start(self, tenant_id: str, instance_ids: Sequence[str]) -> None:
        """Start stopped instances (taken from a warm pool); LaunchFailed when refused."""
        ...

    async def lookup(self, tenant_id: str, instance_ids: Sequence[str]) -> list[Adoptable]:
        """The account's instances named (unknown or terminated ones left out), each with
        the group it belongs to (decision 0182: AttachInstances' checks)."""
        ...

    async def join(
        self,
        tenant_id: str,
        instance_id: str,
        group_name: str | None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> None:
        """The instance made the group's (tagged ``tags`` too), or, with None, no group's."""
        ...
