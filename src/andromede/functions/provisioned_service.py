"""Lambda's provisioned concurrency operations (decision 0314): Put, Get, Delete and List of
a function's ``ProvisionedConcurrencyConfig`` over a
:class:`~andromede.functions.provisioned.ProvisionedStore`, with AWS's rules: a published
version or an alias that exists (never ``$LATEST``), not both an alias and the version it
names; within the function's reserved concurrency when it has one, else leaving the
account's unreserved concurrency at 100 or more. A Put is IN_PROGRESS until the gateways
(``functions.provisioning``) have its sandboxes initialised; it wakes this gateway's.

The account's unreserved concurrency counts the reserves and the provisioned executions of
the functions without one, as GetAccountSettings answers it."""

from __future__ import annotations

import time
from collections.abc import Callable

from andromede.functions.errors import InvalidParameterValue, ResourceConflict
from andromede.functions.model import FunctionRecord
from andromede.functions.provisioned import (
    UNRESERVED_MINIMUM,
    ProvisionedConfig,
    ProvisionedConfigNotFound,
    ProvisionedStore,
    check_qualifier,
    check_requested,
)
from andromede.functions.qualifier_pages import function_qualifier_page
from andromede.functions.service import FunctionsService

__all__ = ["ProvisionedConcurrency"]


def _now() -> int:
    return int(time.time() * 1000)


class ProvisionedConcurrency:
    def __init__(
        self,
        store: ProvisionedStore,
        functions: FunctionsService,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self._functions = functions
        self._clock = clock
        # Called after a Put or a Delete: this gateway's provisioning pass, sooner.
        self.wake: Callable[[], None] = lambda: None

    def arn(self, config: ProvisionedConfig) -> str:
        return self._functions.arn(config.tenant_id, config.name, config.qualifier)

    async def put(
        self, tenant_id: str, name: str, qualifier: object, requested: object
    ) -> ProvisionedConfig:
        wanted = check_qualifier(qualifier)
        amount = check_requested(requested)
        record, version = await self._functions.resolve(tenant_id, name, wanted)
        others = [c for c in await self.store.configs(tenant_id, name) if c.qualifier != wanted]
        alias = record.alias(wanted)
        for other in others:
            named = record.alias(other.qualifier)
            if alias is not None and other.qualifier == alias.version:
                raise ResourceConflict(
                    "Alias can't be used for Provisioned Concurrency configuration on an "
                    "already Provisioned version"
                )
            if alias is None and named is not None and named.version == version.version:
                raise ResourceConflict(
                    "Version is pointed by an Alias that already has Provisioned Concurrency "
                    f"configured: {named.name}"
                )
        total = sum(c.requested for c in others) + amount
        if record.reserved_concurrency is not None:
            if total > record.reserved_concurrency:
                raise InvalidParameterValue(
                    "Requested Provisioned Concurrency should not be greater than the "
                    "reservedConcurrentExecution for function"
                )
        elif await self.unreserved(tenant_id, changed=(name, wanted, amount)) < UNRESERVED_MINIMUM:
            raise InvalidParameterValue(
                "Requested Provisioned Concurrency decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
            )
        made = ProvisionedConfig(tenant_id, name, wanted, amount, self._clock())
        await self.store.put(made)
        self.wake()
        return made

    async def get(self, tenant_id: str, name: str, qualifier: object) -> ProvisionedConfig:
        wanted = check_qualifier(qualifier)
        await self._functions.record(tenant_id, name)
        found = await self.store.get(tenant_id, name, wanted)
        if found is None:
            raise ProvisionedConfigNotFound(
                "No Provisioned Concurrency Config found for this function"
            )
        return found

    async def delete(self, tenant_id: str, name: str, qualifier: object) -> None:
        found = await self.get(tenant_id, name, qualifier)
        await self.store.delete(tenant_id, name, found.qualifier)
        self.wake()

    async def list(
        self, tenant_id: str, name: str, marker: object, max_items: object
    ) -> tuple[list[ProvisionedConfig], str | None]:
        return await function_qualifier_page(
            self._functions, self.store, tenant_id, name, marker, max_items
        )

    async def forget(self, tenant_id: str, name: str, qualifier: str | None) -> None:
        """What a deleted function (None), version or alias leaves of its configurations."""
        if await self.store.delete(tenant_id, name, qualifier):
            self.wake()

    async def check_reserve(self, tenant_id: str, name: str, reserved: object) -> None:
        """PutFunctionConcurrency's rule beside AWS's own: a reserve below the function's
        provisioned executions is refused."""
        if isinstance(reserved, bool) or not isinstance(reserved, int):
            return
        provisioned = sum(c.requested for c in await self.store.configs(tenant_id, name))
        if reserved < provisioned:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function is less than the function's "
                f"allocated provisioned concurrency [{provisioned}]."
            )

    async def unreserved(self, tenant_id: str, changed: tuple[str, str, int] | None = None) -> int:
        """The account's unreserved concurrency: its limit less every reserve and the
        provisioned executions of the functions without one (``changed``: a configuration's
        new amount counted instead of the one kept)."""
        records = await self._functions.store.records(tenant_id)
        return self._functions.limits.concurrency_limit - _committed(
            records, await self.store.configs(tenant_id), changed
        )


def _committed(
    records: list[FunctionRecord],
    configs: list[ProvisionedConfig],
    changed: tuple[str, str, int] | None,
) -> int:
    amounts = {(c.name, c.qualifier): c.requested for c in configs}
    if changed is not None:
        amounts[(changed[0], changed[1])] = changed[2]
    reserved = {r.name for r in records if r.reserved_concurrency is not None}
    return sum(r.reserved_concurrency or 0 for r in records) + sum(
        amount for (name, _), amount in amounts.items() if name not in reserved
    )
