"""Lambda's asynchronous invocation configuration operations (decision 0300): Put, Update,
Get, Delete and List of a function's ``FunctionEventInvokeConfig`` over an
:class:`~andromede.functions.invoke_configs.InvokeConfigStore`. The function and the
qualifier named must exist (``$LATEST`` when none is named); the destinations are checked
as AWS checks them, and — with a :class:`DestinationCheck` — against the function's
execution role, which must be allowed to send to each, as AWS checks at this call."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from andromede.functions.errors import ResourceNotFound
from andromede.functions.invoke_configs import (
    DestinationCheck,
    EventInvokeConfig,
    InvokeConfigStore,
    checked_config,
)
from andromede.functions.model import LATEST
from andromede.functions.qualifier_pages import function_qualifier_page
from andromede.functions.service import FunctionsService

__all__ = ["EventInvokeConfigs"]


def _now() -> int:
    return int(time.time() * 1000)


class EventInvokeConfigs:
    def __init__(
        self,
        store: InvokeConfigStore,
        functions: FunctionsService,
        check: DestinationCheck | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self._functions = functions
        self._check = check
        self._clock = clock

    def arn(self, config: EventInvokeConfig) -> str:
        return self._functions.arn(config.tenant_id, config.name, config.qualifier)

    async def put(
        self, tenant_id: str, name: str, qualifier: str | None, params: dict[str, Any], *,
        merge: bool,
    ) -> EventInvokeConfig:  # fmt: skip
        """PutFunctionEventInvokeConfig (``merge`` False) or UpdateFunctionEventInvokeConfig
        (``merge`` True: a configuration must exist)."""
        wanted = qualifier or LATEST
        _, version = await self._functions.resolve(tenant_id, name, wanted)
        current = await self.store.get(tenant_id, name, wanted)
        if current is None:
            if merge:
                raise self._missing(tenant_id, name, wanted)
            current = EventInvokeConfig(tenant_id, name, wanted)
        changed = checked_config(params, current, self._functions.region, merge=merge)
        if self._check is not None:
            for destination in {changed.on_success, changed.on_failure} - {""}:
                await self._check(tenant_id, version.role, destination)
        changed = changed.replaced(last_modified=self._clock())
        await self.store.put(changed)
        return changed

    async def get(self, tenant_id: str, name: str, qualifier: str | None) -> EventInvokeConfig:
        wanted = qualifier or LATEST
        await self._functions.record(tenant_id, name)
        found = await self.store.get(tenant_id, name, wanted)
        if found is None:
            raise self._missing(tenant_id, name, wanted)
        return found

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> None:
        await self.get(tenant_id, name, qualifier)
        await self.store.delete(tenant_id, name, qualifier or LATEST)

    async def list(
        self, tenant_id: str, name: str, marker: object, max_items: object
    ) -> tuple[list[EventInvokeConfig], str | None]:
        return await function_qualifier_page(
            self._functions, self.store, tenant_id, name, marker, max_items
        )

    async def forget(self, tenant_id: str, name: str, qualifier: str | None) -> None:
        """What a deleted function (None), version or alias leaves of its configurations."""
        await self.store.delete(tenant_id, name, qualifier)

    def _missing(self, tenant_id: str, name: str, qualifier: str) -> ResourceNotFound:
        arn = self._functions.arn(tenant_id, name, qualifier)
        return ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig")
