"""The logs store's interface (decision 0186): groups, streams and sealed events of each
account. :class:`andromede.logs.memory.MemoryLogStore` is its in-memory twin,
:class:`andromede.logs.store_sql.SqlLogStore` the metadata database's; the contract suite
(``tests/contract/test_log_stores.py``) runs over both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.logs.account_policies import AccountPolicy
from andromede.logs.metric_filters import MetricFilter
from andromede.logs.model import LogGroup, LogStream, Position, StoredEvent
from andromede.logs.resource_policies import ResourcePolicy

__all__ = ["EventQuery", "FilterQuery", "LogStore"]


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events of a group to read: of ``streams`` (all when None), timestamps in
    ``[start, end)``, strictly after ``after`` (ascending) or strictly before ``before``
    (descending, the store answering the latest first). With ``stored_after``, the events
    stored after that ``seq``, in the order they were stored (live tail's reading)."""

    tenant_id: str
    group: str
    streams: Sequence[str] | None = None
    stream_prefix: str = ""
    start: int | None = None
    end: int | None = None
    after: Position | None = None
    before: Position | None = None
    descending: bool = False
    limit: int = 10_000
    stored_after: int | None = None


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """Which metric filters of an account to list, by (group, name) after ``after``: of
    ``group`` (all groups when None) under ``prefix``, of one metric when ``metric_name`` and
    ``namespace`` are given."""

    tenant_id: str
    group: str | None = None
    prefix: str = ""
    metric_name: str | None = None
    namespace: str | None = None
    after: tuple[str, str] | None = None
    limit: int = 50


class LogStore(Protocol):
    async def create_group(self, group: LogGroup, max_groups: int) -> None:
        """ResourceAlreadyExists, or LimitExceeded at ``max_groups`` of the account."""
        ...

    async def get_group(self, tenant_id: str, name: str) -> LogGroup | None: ...

    async def put_group(self, group: LogGroup) -> None:
        """Replace the group's retention, key and tags (its bytes are the store's, its class
        never changes, its protection is set_deletion_protection's)."""
        ...

    async def list_groups(
        self,
        tenant_id: str,
        prefix: str,
        pattern: str,
        after: str,
        limit: int,
        log_class: str | None = None,
    ) -> list[LogGroup]:
        """By name, after ``after``; ``pattern`` a case-insensitive substring; of
        ``log_class`` only when given."""
        ...

    async def delete_group(
        self, tenant_id: str, name: str, *, honour_protection: bool = False
    ) -> bool:
        """With ``honour_protection``, DeletionProtected when the group's protection is on
        (checked in the deletion's own transaction); without, the account's closure."""
        ...

    async def set_deletion_protection(self, tenant_id: str, name: str, enabled: bool) -> bool:
        """False: no group."""
        ...

    async def create_stream(self, stream: LogStream) -> None:
        """ResourceAlreadyExists."""
        ...

    async def get_stream(self, tenant_id: str, group: str, name: str) -> LogStream | None: ...

    async def list_streams(
        self,
        tenant_id: str,
        group: str,
        prefix: str,
        by_last_event: bool,
        descending: bool,
        offset: int,
        limit: int,
    ) -> list[LogStream]: ...

    async def delete_stream(
        self, tenant_id: str, group: str, name: str, *, honour_protection: bool = False
    ) -> bool:
        """With ``honour_protection``, DeletionProtected when its group's protection is on."""
        ...

    async def append(
        self, tenant_id: str, group: str, stream: str, events: Sequence[StoredEvent]
    ) -> bool:
        """Store the events (their ``seq`` the store's), the stream's times and the bytes of
        the stream and group kept; False when the stream is gone."""
        ...

    async def read(self, query: EventQuery) -> list[StoredEvent]: ...

    async def last_seq(self) -> int:
        """The ``seq`` of the event stored last in any group (0 when none): where a live
        tail starts reading."""
        ...

    async def expire(self, now: int, batch: int) -> int:
        """Delete up to ``batch`` events older than their group's retention; how many."""
        ...

    async def put_metric_filter(self, metric_filter: MetricFilter, max_per_group: int) -> None:
        """Make or replace the group's filter of that name; LimitExceeded when a new one
        would pass ``max_per_group``; ResourceNotFound when the group is gone."""
        ...

    async def list_metric_filters(self, query: FilterQuery) -> list[MetricFilter]: ...

    async def delete_metric_filter(self, tenant_id: str, group: str, name: str) -> bool: ...

    async def stored_bytes_by_tenant(self) -> dict[str, int]:
        """Each tenant's log groups' stored bytes, summed (those holding none left out): the
        storage meter's reading (decision 0224)."""
        ...

    async def count_metric_filters(self, tenant_id: str, groups: Sequence[str]) -> dict[str, int]:
        """How many filters each of ``groups`` has (absent: none)."""
        ...

    async def put_resource_policy(self, policy: ResourcePolicy, max_policies: int) -> None:
        """Make or replace the account's policy of that name; LimitExceeded when a new one
        would pass ``max_policies``."""
        ...

    async def list_resource_policies(
        self, tenant_id: str, after: str, limit: int
    ) -> list[ResourcePolicy]: ...

    async def delete_resource_policy(self, tenant_id: str, name: str) -> bool: ...

    async def set_data_protection(
        self, tenant_id: str, group: str, document: str | None, updated: int | None
    ) -> bool:
        """Put (or, with None, delete) the group's data protection policy; False: no group."""
        ...

    async def set_index_policy(
        self, tenant_id: str, group: str, document: str | None, updated: int | None
    ) -> bool:
        """Put (or, with None, delete) the group's field index policy; False: no group."""
        ...

    async def put_account_policy(self, policy: AccountPolicy) -> None:
        """Make or replace the account's policy of that type and name."""
        ...

    async def list_account_policies(self, tenant_id: str, policy_type: str) -> list[AccountPolicy]:
        """The account's policies of that type, by name."""
        ...

    async def delete_account_policy(self, tenant_id: str, policy_type: str, name: str) -> bool: ...
