"""Lambda's provisioned concurrency configurations (decision 0314), no I/O but the memory
twin: a published version's or an alias's ``ProvisionedConcurrencyConfig`` as a value (the
executions requested, how many the gateways have allocated, its status IN_PROGRESS, READY or
FAILED and why), the checks AWS makes on a request, the ``ProvisionedStore`` interface and its
in-memory twin (SQL in ``provisioned_sql``).

A configuration's status is written by the gateways that keep its sandboxes warm
(``functions.provisioning``): each write names the configuration's ``last_modified``, so one
that a newer Put replaced is not marked READY by a gateway still warming the old one."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Final, Protocol

from andromede.functions.errors import FunctionsError, InvalidParameterValue
from andromede.functions.model import LATEST
from andromede.functions.qualifier_rows import MemoryQualifierRows

__all__ = [
    "UNRESERVED_MINIMUM",
    "MemoryProvisionedStore",
    "ProvisionedConfig",
    "ProvisionedConfigNotFound",
    "ProvisionedStatus",
    "ProvisionedStore",
    "check_qualifier",
    "check_requested",
]

UNRESERVED_MINIMUM: Final = 100  # AWS keeps 100 executions for the functions without a reserve


class ProvisionedConfigNotFound(FunctionsError):
    """ProvisionedConcurrencyConfigNotFoundException: the qualifier has no configuration."""


class ProvisionedStatus(enum.Enum):
    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ProvisionedConfig:
    tenant_id: str
    name: str
    qualifier: str  # a version number or an alias, never $LATEST
    requested: int
    last_modified: int  # ms: the Put's
    status: ProvisionedStatus = ProvisionedStatus.IN_PROGRESS
    status_reason: str = ""
    allocated: int = 0

    def replaced(self, **fields: object) -> ProvisionedConfig:
        return replace(self, **fields)  # type: ignore[arg-type]


def check_qualifier(value: object) -> str:
    """The ``Qualifier`` a configuration is for: a version or an alias, as AWS requires."""
    if not isinstance(value, str) or not value:
        raise InvalidParameterValue(
            "1 validation error detected: Value null at 'qualifier' failed to satisfy "
            "constraint: Member must not be null"
        )
    if value == LATEST:
        raise InvalidParameterValue(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        )
    return value


def check_requested(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:32]}' at "
            "'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have "
            "value greater than or equal to 1"
        )
    return value


class ProvisionedStore(Protocol):
    async def put(self, config: ProvisionedConfig) -> None:
        """Keep ``config``, replacing the function's and qualifier's."""

    async def get(self, tenant_id: str, name: str, qualifier: str) -> ProvisionedConfig | None: ...

    async def configs(self, tenant_id: str, name: str | None = None) -> list[ProvisionedConfig]:
        """The function's configurations (every function's when ``name`` is None), by name
        and qualifier."""

    async def every(self) -> list[ProvisionedConfig]:
        """Every account's configurations: what the gateways keep warm."""

    async def mark(
        self,
        config: ProvisionedConfig,
        status: ProvisionedStatus,
        reason: str,
        allocated: int,
    ) -> bool:
        """Write the status of ``config`` if it is still the one kept (same
        ``last_modified``); whether it was."""

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> int:
        """Remove one qualifier's configuration, or every one of the function (None)."""

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryProvisionedStore(MemoryQualifierRows[ProvisionedConfig]):
    async def put(self, config: ProvisionedConfig) -> None:
        self._keep(config)

    async def configs(self, tenant_id: str, name: str | None = None) -> list[ProvisionedConfig]:
        return self._function_items(tenant_id, name)

    async def every(self) -> list[ProvisionedConfig]:
        return [v for _, v in sorted(self._items.items())]

    async def mark(
        self, config: ProvisionedConfig, status: ProvisionedStatus, reason: str, allocated: int
    ) -> bool:
        key = (config.tenant_id, config.name, config.qualifier)
        found = self._items.get(key)
        if found is None or found.last_modified != config.last_modified:
            return False
        self._items[key] = found.replaced(status=status, status_reason=reason, allocated=allocated)
        return True
