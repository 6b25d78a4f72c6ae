"""Route 53's query logging configurations (decision 0305): one a public hosted zone, naming
the CloudWatch Logs log group the public name servers write the zone's queries into.

Create checks as AWS does, in its order: the zone of the caller's account
(``NoSuchHostedZone``), public (a private zone's queries are Resolver query logging's, another
service: ``InvalidInput``), the log group ARN of the caller's account and this gateway's
Region that exists (``NoSuchCloudWatchLogsLogGroup``; AWS wants the group in us-east-1, this
platform's Logs being regional the gateway's Region stands for it), the account's Logs
resource policies letting ``route53.amazonaws.com`` create streams and put events in it
(``InsufficientCloudWatchLogsResourcePolicy``), and no configuration for the zone yet
(``QueryLoggingConfigAlreadyExists``). The Logs side is the :class:`QueryLogGroups` port; the
configurations are kept by a :class:`QueryLogStore` (memory here, SQL in
``query_log_store_sql``). A configuration goes with its zone and with a closed account."""

from __future__ import annotations

import enum
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.route53.errors import (
    InsufficientCloudWatchLogsResourcePolicy,
    InvalidInput,
    NoSuchCloudWatchLogsLogGroup,
    NoSuchQueryLoggingConfig,
    QueryLoggingConfigAlreadyExists,
)
from andromede.route53.service import Route53Service

__all__ = [
    "GroupCheck",
    "MemoryQueryLogStore",
    "QueryLogGroups",
    "QueryLogStore",
    "QueryLoggingConfig",
    "QueryLoggingService",
    "log_group_of",
]

MAX_RESULTS: Final = 100
_GROUP_ARN: Final = re.compile(
    r"^arn:aws:logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):log-group:(?P<name>[\w#./-]{1,512})(?::\*)?$"
)


@dataclass(frozen=True, slots=True)
class QueryLoggingConfig:
    config_id: str
    tenant_id: str
    zone_id: str
    group_arn: str
    created: int  # ms

    @property
    def group_name(self) -> str:
        found = _GROUP_ARN.match(self.group_arn)
        return "" if found is None else found["name"]


def log_group_of(arn: str) -> tuple[str, str, str] | None:
    """(Region, account, group name) of a log group's ARN (with or without ``:*``)."""
    found = _GROUP_ARN.match(arn)
    return None if found is None else (found["region"], found["account"], found["name"])


class GroupCheck(enum.Enum):
    OK = "ok"
    NO_GROUP = "no-group"
    NO_POLICY = "no-policy"


class QueryLogGroups(Protocol):
    async def check(self, tenant_id: str, group_name: str, zone_id: str) -> GroupCheck:
        """Whether the account's group exists and its resource policies let Route 53 write
        the zone's stream."""


class QueryLogStore(Protocol):
    async def create(self, config: QueryLoggingConfig) -> None:
        """Add it; ``QueryLoggingConfigAlreadyExists`` when the zone has one."""

    async def get(self, tenant_id: str, config_id: str) -> QueryLoggingConfig | None: ...

    async def delete(self, tenant_id: str, config_id: str) -> bool: ...

    async def delete_for_zone(self, tenant_id: str, zone_id: str) -> int: ...

    async def configs(self, tenant_id: str) -> list[QueryLoggingConfig]:
        """The account's, by id."""

    async def every(self) -> list[QueryLoggingConfig]:
        """Every account's (the public name servers log by them)."""

    async def forget_tenant(self, tenant_id: str) -> int: ...


def _already(zone_id: str) -> QueryLoggingConfigAlreadyExists:
    return QueryLoggingConfigAlreadyExists(
        f"A query logging configuration already exists for the hosted zone {zone_id[:64]}."
    )


class MemoryQueryLogStore:
    def __init__(self) -> None:
        self._configs: dict[str, QueryLoggingConfig] = {}

    async def create(self, config: QueryLoggingConfig) -> None:
        if any(c.zone_id == config.zone_id for c in self._configs.values()):
            raise _already(config.zone_id)
        self._configs[config.config_id] = config

    async def get(self, tenant_id: str, config_id: str) -> QueryLoggingConfig | None:
        found = self._configs.get(config_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def delete(self, tenant_id: str, config_id: str) -> bool:
        if await self.get(tenant_id, config_id) is None:
            return False
        del self._configs[config_id]
        return True

    async def delete_for_zone(self, tenant_id: str, zone_id: str) -> int:
        gone = [
            k for k, c in self._configs.items() if c.tenant_id == tenant_id and c.zone_id == zone_id
        ]
        for key in gone:
            del self._configs[key]
        return len(gone)

    async def configs(self, tenant_id: str) -> list[QueryLoggingConfig]:
        return sorted(
            (c for c in self._configs.values() if c.tenant_id == tenant_id),
            key=lambda c: c.config_id,
        )

    async def every(self) -> list[QueryLoggingConfig]:
        return list(self._configs.values())

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, c in self._configs.items() if c.tenant_id == tenant_id]
        for key in gone:
            del self._configs[key]
        return len(gone)


class QueryLoggingService:
    def __init__(
        self,
        zones: Route53Service,
        store: QueryLogStore,
        groups: QueryLogGroups | None,
        region: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zones = zones
        self.store = store
        self._groups = groups
        self._region = region
        self._clock = clock
        # Told when a configuration is made or deleted here: the name servers read them again.
        self.changed: Callable[[], Awaitable[None]] | None = None

    async def create(self, tenant_id: str, zone_id: str, group_arn: str) -> QueryLoggingConfig:
        zone = await self.zones.zone(tenant_id, zone_id)
        if zone.private:
            raise InvalidInput(
                "The input is not valid: query logging is supported only for public hosted"
                " zones; use Resolver query logging for a private hosted zone"
            )
        group = log_group_of(group_arn)
        if group is None:
            raise InvalidInput(
                "The input is not valid: CloudWatchLogsLogGroupArn must be a log group's ARN,"
                " arn:aws:logs:region:account-id:log-group:log_group_name"
            )
        region, account, name = group
        missing = NoSuchCloudWatchLogsLogGroup(
            f"There is no CloudWatch Logs log group with the ARN {group_arn[:600]}."
        )
        if region != self._region or account != tenant_id or self._groups is None:
            raise missing
        checked = await self._groups.check(tenant_id, name, zone_id)
        if checked is GroupCheck.NO_GROUP:
            raise missing
        if checked is GroupCheck.NO_POLICY:
            raise InsufficientCloudWatchLogsResourcePolicy(
                "Route 53 does not have the permissions required to create log streams and send"
                " query logs to log streams: no CloudWatch Logs resource policy lets"
                " route53.amazonaws.com do logs:CreateLogStream and logs:PutLogEvents on the"
                f" log group {name[:512]}."
            )
        config = QueryLoggingConfig(
            str(uuid.uuid4()), tenant_id, zone.zone_id, group_arn, int(self._clock() * 1000)
        )
        await self.store.create(config)
        await self._changed()
        return config

    async def get(self, tenant_id: str, config_id: str) -> QueryLoggingConfig:
        found = await self.store.get(tenant_id, config_id)
        if found is None:
            raise NoSuchQueryLoggingConfig(
                f"There is no DNS query logging configuration with the ID {config_id[:64]}."
            )
        return found

    async def delete(self, tenant_id: str, config_id: str) -> None:
        await self.get(tenant_id, config_id)
        await self.store.delete(tenant_id, config_id)
        await self._changed()

    async def list(
        self, tenant_id: str, zone_id: str | None, max_results: int, token: str | None
    ) -> tuple[list[QueryLoggingConfig], str | None]:
        """A page of the account's configurations (of one zone's when given) from ``token``
        (a configuration's id), and the next page's token."""
        if zone_id is not None:
            await self.zones.zone(tenant_id, zone_id)
        configs = [
            c
            for c in await self.store.configs(tenant_id)
            if (zone_id is None or c.zone_id == zone_id) and (token is None or c.config_id >= token)
        ]
        more = configs[max_results] if len(configs) > max_results else None
        return configs[:max_results], None if more is None else more.config_id

    async def zone_deleted(self, tenant_id: str, zone_id: str) -> None:
        if await self.store.delete_for_zone(tenant_id, zone_id):
            await self._changed()

    async def _changed(self) -> None:
        if self.changed is not None:
            await self.changed()
