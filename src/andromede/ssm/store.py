"""What the Parameter Store service needs of a store (decision 0229), implemented in memory
(``memory``) and over the metadata database (``store_sql``); ``tests/contract`` runs one suite
over each.

A parameter's write names the revision it read: a store whose row moved on since raises
:class:`~andromede.ssm.errors.Conflict` and changes nothing, so two concurrent PutParameter
calls with Overwrite cannot both make version 2.

A parameter's resource policies (decision 0249) are kept beside it and go with it: deleting the
parameter, or closing its account, forgets them. A change or deletion of one names the hash it
read: ``ResourcePolicyConflict`` if the policy moved on since, ``ResourcePolicyNotFound`` if
there is no such policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from andromede.ssm.model import Parameter, ParameterVersion, Tier
from andromede.ssm.sharing import ResourcePolicy

__all__ = ["ParameterStore"]


class ParameterStore(Protocol):
    async def get(self, tenant_id: str, region: str, name: str) -> Parameter | None: ...

    async def versions(self, tenant_id: str, region: str, name: str) -> list[ParameterVersion]:
        """The parameter's versions, oldest first (none if it does not exist)."""
        ...

    async def list_all(self, tenant_id: str, region: str, prefix: str = "") -> list[Parameter]:
        """The account's region's parameters whose names start with ``prefix``, by name."""
        ...

    async def count(self, tenant_id: str, region: str, tier: Tier) -> int:
        """The parameters of the account's region whose newest version is of ``tier``."""
        ...

    async def write(
        self,
        parameter: Parameter,
        expected_revision: int | None,
        *,
        add_latest: bool = True,
        labels: Mapping[int, tuple[str, ...]] | None = None,
        drop: Sequence[int] = (),
    ) -> Parameter:
        """In one transaction: the parameter made (``expected_revision`` None:
        ``ParameterAlreadyExists`` if the name is taken) or changed (``Conflict`` unless its
        revision is still ``expected_revision``), ``parameter.latest`` inserted as a version
        when ``add_latest``, the ``labels`` of each version given set, the versions ``drop``
        deleted. The parameter as written (its revision one more)."""
        ...

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str, str]]:
        """Up to ``limit`` (account, region, name) whose next policy action is due by ``now``
        (``Parameter.next_action``), the earliest first."""
        ...

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        """Forget the parameter, its versions and its resource policies; False if it was
        gone."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Forget every parameter of a closed account, in every region, and their resource
        policies; how many parameters."""
        ...

    async def policies(self, tenant_id: str, region: str, name: str) -> list[ResourcePolicy]:
        """The parameter's resource policies, oldest first."""
        ...

    async def put_policy(self, policy: ResourcePolicy, expected_hash: str | None) -> None:
        """Add the policy (``expected_hash`` None) or replace the one of its id whose hash is
        still ``expected_hash``; ``ResourceNotFound`` if the parameter is gone."""
        ...

    async def delete_policy(
        self, tenant_id: str, region: str, name: str, policy_id: str, expected_hash: str
    ) -> None:
        """Delete the policy whose hash is still ``expected_hash``."""
        ...

    async def shared_with(self, account: str, region: str) -> list[Parameter]:
        """The parameters of other accounts in ``region`` one of whose policies names
        ``account``, by owner and name."""
        ...

    async def held(self, tier: Tier) -> dict[tuple[str, str], int]:
        """The parameters of ``tier`` per (account, region), for the billing sampler."""
        ...
