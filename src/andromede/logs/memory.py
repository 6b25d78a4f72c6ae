"""The logs store in memory (decision 0186): the twin of the SQL store behind the same
interface, for the unit tests and the contract suite."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from andromede.logs.account_policies import AccountPolicy
from andromede.logs.errors import LimitExceeded, ResourceAlreadyExists, ResourceNotFound
from andromede.logs.log_classes import DeletionProtected, group_protected, stream_protected
from andromede.logs.metric_filters import MetricFilter
from andromede.logs.model import LogGroup, LogStream, StoredEvent
from andromede.logs.resource_policies import ResourcePolicy
from andromede.logs.store import EventQuery, FilterQuery

__all__ = ["MemoryLogStore"]

_DAY_MS = 86_400_000


class MemoryLogStore:
    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], LogGroup] = {}
        self._streams: dict[tuple[str, str, str], LogStream] = {}
        self._events: dict[tuple[str, str, str], list[StoredEvent]] = {}
        self._seq = itertools.count(1)
        self._filters: dict[tuple[str, str, str], MetricFilter] = {}
        self._policies: dict[tuple[str, str], ResourcePolicy] = {}
        self._account_policies: dict[tuple[str, str, str], AccountPolicy] = {}

    async def create_group(self, group: LogGroup, max_groups: int) -> None:
        if (group.tenant_id, group.name) in self._groups:
            raise ResourceAlreadyExists("The specified log group already exists")
        if sum(1 for t, _ in self._groups if t == group.tenant_id) >= max_groups:
            raise LimitExceeded("Resource limit exceeded.")
        self._groups[(group.tenant_id, group.name)] = dataclasses.replace(group, stored_bytes=0)

    async def get_group(self, tenant_id: str, name: str) -> LogGroup | None:
        return self._groups.get((tenant_id, name))

    async def put_group(self, group: LogGroup) -> None:
        held = self._groups.get((group.tenant_id, group.name))
        if held is not None:
            # As the SQL store: the policies are set_data_protection's and set_index_policy's.
            self._groups[(group.tenant_id, group.name)] = dataclasses.replace(
                group,
                stored_bytes=held.stored_bytes,
                created=held.created,
                data_protection=held.data_protection,
                data_protection_updated=held.data_protection_updated,
                log_class=held.log_class,
                deletion_protection=held.deletion_protection,
                index_policy=held.index_policy,
                index_policy_updated=held.index_policy_updated,
            )

    async def set_deletion_protection(self, tenant_id: str, name: str, enabled: bool) -> bool:
        held = self._groups.get((tenant_id, name))
        if held is None:
            return False
        self._groups[(tenant_id, name)] = dataclasses.replace(held, deletion_protection=enabled)
        return True

    async def list_groups(
        self,
        tenant_id: str,
        prefix: str,
        pattern: str,
        after: str,
        limit: int,
        log_class: str | None = None,
    ) -> list[LogGroup]:
        found = sorted(
            (
                g
                for (t, name), g in self._groups.items()
                if t == tenant_id
                and name > after
                and name.startswith(prefix)
                and pattern.lower() in name.lower()
                and log_class in (None, g.log_class)
            ),
            key=lambda g: g.name,
        )
        return found[:limit]

    async def delete_group(
        self, tenant_id: str, name: str, *, honour_protection: bool = False
    ) -> bool:
        held = self._groups.get((tenant_id, name))
        if held is None:
            return False
        if honour_protection and held.deletion_protection:
            raise DeletionProtected(group_protected())
        del self._groups[(tenant_id, name)]
        for key in [k for k in self._streams if k[:2] == (tenant_id, name)]:
            del self._streams[key]
            self._events.pop(key, None)
        for key in [k for k in self._filters if k[:2] == (tenant_id, name)]:
            del self._filters[key]
        return True

    async def create_stream(self, stream: LogStream) -> None:
        key = (stream.tenant_id, stream.group, stream.name)
        if key in self._streams:
            raise ResourceAlreadyExists("The specified log stream already exists")
        self._streams[key] = stream
        self._events[key] = []

    async def get_stream(self, tenant_id: str, group: str, name: str) -> LogStream | None:
        return self._streams.get((tenant_id, group, name))

    async def list_streams(
        self,
        tenant_id: str,
        group: str,
        prefix: str,
        by_last_event: bool,
        descending: bool,
        offset: int,
        limit: int,
    ) -> list[LogStream]:
        found = [
            s
            for (t, g, name), s in self._streams.items()
            if (t, g) == (tenant_id, group) and name.startswith(prefix)
        ]
        found.sort(
            key=(lambda s: (s.last_event or 0, s.name)) if by_last_event else (lambda s: s.name),
            reverse=descending,
        )
        return found[offset : offset + limit]

    async def delete_stream(
        self, tenant_id: str, group: str, name: str, *, honour_protection: bool = False
    ) -> bool:
        if (tenant_id, group, name) not in self._streams:
            return False
        held = self._groups.get((tenant_id, group))
        if honour_protection and held is not None and held.deletion_protection:
            raise DeletionProtected(stream_protected())
        stream = self._streams.pop((tenant_id, group, name))
        self._events.pop((tenant_id, group, name), None)
        self._add_group_bytes(tenant_id, group, -stream.stored_bytes)
        return True

    async def append(
        self, tenant_id: str, group: str, stream: str, events: Sequence[StoredEvent]
    ) -> bool:
        key = (tenant_id, group, stream)
        held = self._streams.get(key)
        if held is None:
            return False
        stored = [dataclasses.replace(e, stream=stream, seq=next(self._seq)) for e in events]
        self._events[key].extend(stored)
        size = sum(e.size for e in events)
        times = [e.timestamp for e in events]
        self._streams[key] = dataclasses.replace(
            held,
            first_event=min([*times, *([held.first_event] if held.first_event else [])]),
            last_event=max([*times, held.last_event or 0]),
            last_ingestion=max([e.ingestion for e in events] + [held.last_ingestion or 0]),
            stored_bytes=held.stored_bytes + size,
        )
        self._add_group_bytes(tenant_id, group, size)
        return True

    def _add_group_bytes(self, tenant_id: str, group: str, size: int) -> None:
        held = self._groups.get((tenant_id, group))
        if held is not None:
            self._groups[(tenant_id, group)] = dataclasses.replace(
                held, stored_bytes=held.stored_bytes + size
            )

    async def read(self, query: EventQuery) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        for (t, g, name), events in self._events.items():
            if (t, g) != (query.tenant_id, query.group) or not name.startswith(query.stream_prefix):
                continue
            if query.streams is not None and name not in query.streams:
                continue
            found.extend(
                e
                for e in events
                if (query.start is None or e.timestamp >= query.start)
                and (query.end is None or e.timestamp < query.end)
                and (query.after is None or e.position > query.after)
                and (query.before is None or e.position < query.before)
                and (query.stored_after is None or e.seq > query.stored_after)
            )
        if query.stored_after is not None:
            found.sort(key=lambda e: e.seq)
        else:
            found.sort(key=lambda e: e.position, reverse=query.descending)
        return found[: query.limit]

    async def last_seq(self) -> int:
        return max((e.seq for events in self._events.values() for e in events), default=0)

    async def expire(self, now: int, batch: int) -> int:
        removed = 0
        for (t, g, name), events in self._events.items():
            group = self._groups.get((t, g))
            if group is None or group.retention_days is None:
                continue
            floor = now - group.retention_days * _DAY_MS
            old = [e for e in events if e.timestamp < floor][: batch - removed]
            if not old:
                continue
            gone = {id(e) for e in old}
            self._events[(t, g, name)] = [e for e in events if id(e) not in gone]
            size = sum(e.size for e in old)
            stream = self._streams[(t, g, name)]
            self._streams[(t, g, name)] = dataclasses.replace(
                stream, stored_bytes=stream.stored_bytes - size
            )
            self._add_group_bytes(t, g, -size)
            removed += len(old)
            if removed >= batch:
                break
        return removed

    async def put_metric_filter(self, metric_filter: MetricFilter, max_per_group: int) -> None:
        tenant_id, group = metric_filter.tenant_id, metric_filter.group
        if (tenant_id, group) not in self._groups:
            raise ResourceNotFound("The specified log group does not exist.")
        key = (tenant_id, group, metric_filter.name)
        held = self._filters.get(key)
        if held is None:
            if sum(1 for k in self._filters if k[:2] == (tenant_id, group)) >= max_per_group:
                raise LimitExceeded("Resource limit exceeded.")
            self._filters[key] = metric_filter
        else:  # replaced, as AWS's PutMetricFilter: its creation time kept
            self._filters[key] = dataclasses.replace(metric_filter, created=held.created)

    async def list_metric_filters(self, query: FilterQuery) -> list[MetricFilter]:
        found = sorted(
            (
                f
                for (t, g, name), f in self._filters.items()
                if t == query.tenant_id
                and (query.group is None or g == query.group)
                and name.startswith(query.prefix)
                and (query.after is None or (g, name) > query.after)
                and (query.metric_name is None or f.transformation.metric_name == query.metric_name)
                and (query.namespace is None or f.transformation.namespace == query.namespace)
            ),
            key=lambda f: (f.group, f.name),
        )
        return found[: query.limit]

    async def delete_metric_filter(self, tenant_id: str, group: str, name: str) -> bool:
        return self._filters.pop((tenant_id, group, name), None) is not None

    async def stored_bytes_by_tenant(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (tenant_id, _), group in self._groups.items():
            if group.stored_bytes:
                totals[tenant_id] = totals.get(tenant_id, 0) + group.stored_bytes
        return totals

    async def count_metric_filters(self, tenant_id: str, groups: Sequence[str]) -> dict[str, int]:
        wanted = set(groups)
        counts: dict[str, int] = {}
        for t, g, _ in self._filters:
            if t == tenant_id and g in wanted:
                counts[g] = counts.get(g, 0) + 1
        return counts

    async def put_resource_policy(self, policy: ResourcePolicy, max_policies: int) -> None:
        key = (policy.tenant_id, policy.name)
        if key not in self._policies:
            if sum(1 for t, _ in self._policies if t == policy.tenant_id) >= max_policies:
                raise LimitExceeded("Resource limit exceeded.")
        self._policies[key] = policy

    async def list_resource_policies(
        self, tenant_id: str, after: str, limit: int
    ) -> list[ResourcePolicy]:
        found = sorted(
            (p for (t, name), p in self._policies.items() if t == tenant_id and name > after),
            key=lambda p: p.name,
        )
        return found[:limit]

    async def delete_resource_policy(self, tenant_id: str, name: str) -> bool:
        return self._policies.pop((tenant_id, name), None) is not None

    async def set_data_protection(
        self, tenant_id: str, group: str, document: str | None, updated: int | None
    ) -> bool:
        held = self._groups.get((tenant_id, group))
        if held is None:
            return False
        self._groups[(tenant_id, group)] = dataclasses.replace(
            held, data_protection=document, data_protection_updated=updated
        )
        return True

    async def set_index_policy(
        self, tenant_id: str, group: str, document: str | None, updated: int | None
    ) -> bool:
        held = self._groups.get((tenant_id, group))
        if held is None:
            return False
        self._groups[(tenant_id, group)] = dataclasses.replace(
            held, index_policy=document, index_policy_updated=updated
        )
        return True

    async def put_account_policy(self, policy: AccountPolicy) -> None:
        self._account_policies[(policy.tenant_id, policy.policy_type, policy.name)] = policy

    async def list_account_policies(self, tenant_id: str, policy_type: str) -> list[AccountPolicy]:
        return sorted(
            (
                p
                for (t, kind, _), p in self._account_policies.items()
                if (t, kind) == (tenant_id, policy_type)
            ),
            key=lambda p: p.name,
        )

    async def delete_account_policy(self, tenant_id: str, policy_type: str, name: str) -> bool:
        return self._account_policies.pop((tenant_id, policy_type, name), None) is not None
