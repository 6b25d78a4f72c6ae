"""The logs store over the metadata database (SQLite or PostgreSQL), the tables of migration
0087 (decision 0186). Bytes are kept by increments under the rows' own locks, so gateways
appending to one stream at once add up; the retention sweep deletes a bounded batch of rows
it locks with SKIP LOCKED on PostgreSQL (SQLite has one writer), so every gateway may run it
and none deletes a row twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.logs.account_policies import AccountPolicy
from andromede.logs.errors import LimitExceeded, ResourceAlreadyExists, ResourceNotFound
from andromede.logs.log_classes import DeletionProtected, group_protected, stream_protected
from andromede.logs.metric_filters import MetricFilter, MetricTransformation
from andromede.logs.model import LogGroup, LogStream, StoredEvent
from andromede.logs.resource_policies import ResourcePolicy
from andromede.logs.store import EventQuery, FilterQuery

__all__ = ["SqlLogStore"]

_G = tables.log_groups
_S = tables.log_streams
_E = tables.log_events
_F = tables.log_metric_filters
_P = tables.log_resource_policies
_A = tables.log_account_policies
FORMAT_VERSION: Final = 1
_DAY_MS: Final = 86_400_000


def _group(m: Any) -> LogGroup:
    return LogGroup(
        m["tenant_id"],
        m["group_name"],
        int(m["created"]),
        m["retention_days"],
        m["kms_key_id"],
        dict(json.loads(m["tags"])),
        int(m["stored_bytes"]),
        m["data_protection"],
        m["data_protection_updated"],
        m["log_class"],
        bool(m["deletion_protection"]),
        m["index_policy"],
        m["index_policy_updated"],
    )


def _stream(m: Any) -> LogStream:
    return LogStream(
        m["tenant_id"],
        m["group_name"],
        m["stream_name"],
        int(m["created"]),
        m["first_event"],
        m["last_event"],
        m["last_ingestion"],
        int(m["stored_bytes"]),
    )


def _metric_filter(m: Any) -> MetricFilter:
    raw = json.loads(m["transformation"])
    return MetricFilter(
        m["tenant_id"],
        m["group_name"],
        m["filter_name"],
        m["filter_pattern"],
        MetricTransformation(
            m["metric_name"],
            m["metric_namespace"],
            raw["value"],
            raw.get("default"),
            dict(raw.get("dimensions", {})),
            raw.get("unit"),
        ),
        int(m["created"]),
    )


def _prefixed(column: Any, prefix: str) -> Any:
    # Not LIKE: SQLite's is case-insensitive, and AWS's prefixes are not.
    return sa.func.substr(column, 1, len(prefix)) == prefix


class SqlLogStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_group(self, group: LogGroup, max_groups: int) -> None:
        count = sa.select(sa.func.count()).select_from(_G).where(_G.c.tenant_id == group.tenant_id)
        held = sa.select(_G.c.group_name).where(
            _G.c.tenant_id == group.tenant_id, _G.c.group_name == group.name
        )

        def work(conn: Connection) -> None:
            if conn.execute(held).first() is not None:
                raise ResourceAlreadyExists("The specified log group already exists")
            if int(conn.execute(count).scalar_one()) >= max_groups:
                raise LimitExceeded("Resource limit exceeded.")
            conn.execute(
                sa.insert(_G).values(
                    tenant_id=group.tenant_id,
                    group_name=group.name,
                    created=group.created,
                    retention_days=group.retention_days,
                    kms_key_id=group.kms_key_id,
                    tags=json.dumps(group.tags),
                    stored_bytes=0,
                    format_version=FORMAT_VERSION,
                    log_class=group.log_class,
                    deletion_protection=group.deletion_protection,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError:  # made by another gateway meanwhile: nothing written
            raise ResourceAlreadyExists("The specified log group already exists") from None

    async def set_deletion_protection(self, tenant_id: str, name: str, enabled: bool) -> bool:
        statement = (
            sa.update(_G)
            .where(_G.c.tenant_id == tenant_id, _G.c.group_name == name)
            .values(deletion_protection=enabled)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def get_group(self, tenant_id: str, name: str) -> LogGroup | None:
        query = sa.select(_G).where(_G.c.tenant_id == tenant_id, _G.c.group_name == name)

        def work(conn: Connection) -> LogGroup | None:
            row = conn.execute(query).first()
            return None if row is None else _group(row._mapping)

        return await self._db.read(work)

    async def put_group(self, group: LogGroup) -> None:
        statement = (
            sa.update(_G)
            .where(_G.c.tenant_id == group.tenant_id, _G.c.group_name == group.name)
            .values(
                retention_days=group.retention_days,
                kms_key_id=group.kms_key_id,
                tags=json.dumps(group.tags),
            )
        )

        def work(conn: Connection) -> None:
            conn.execute(statement)

        await self._db.write(work)

    async def list_groups(
        self,
        tenant_id: str,
        prefix: str,
        pattern: str,
        after: str,
        limit: int,
        log_class: str | None = None,
    ) -> list[LogGroup]:
        query = sa.select(_G).where(_G.c.tenant_id == tenant_id, _G.c.group_name > after)
        if log_class is not None:
            query = query.where(_G.c.log_class == log_class)
        if prefix:
            query = query.where(_prefixed(_G.c.group_name, prefix))
        if pattern:
            query = query.where(
                sa.func.lower(_G.c.group_name).contains(pattern.lower(), autoescape=True)
            )
        query = query.order_by(_G.c.group_name).limit(limit)

        def work(conn: Connection) -> list[LogGroup]:
            return [_group(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete_group(
        self, tenant_id: str, name: str, *, honour_protection: bool = False
    ) -> bool:
        key = (_G.c.tenant_id == tenant_id, _G.c.group_name == name)

        def work(conn: Connection) -> bool:
            if honour_protection:
                # Under the row's lock: a protection put meanwhile is seen, or waits.
                held = conn.execute(
                    sa.select(_G.c.deletion_protection).where(*key).with_for_update()
                ).first()
                if held is not None and held[0]:
                    raise DeletionProtected(group_protected())
            deleted = conn.execute(sa.delete(_G).where(*key)).rowcount
            conn.execute(sa.delete(_S).where(_S.c.tenant_id == tenant_id, _S.c.group_name == name))
            conn.execute(sa.delete(_E).where(_E.c.tenant_id == tenant_id, _E.c.group_name == name))
            conn.execute(sa.delete(_F).where(_F.c.tenant_id == tenant_id, _F.c.group_name == name))
            return bool(deleted)

        return await self._db.write(work)

    async def create_stream(self, stream: LogStream) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                sa.insert(_S).values(
                    tenant_id=stream.tenant_id,
                    group_name=stream.group,
                    stream_name=stream.name,
                    created=stream.created,
                    stored_bytes=0,
                    format_version=FORMAT_VERSION,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError:
            raise ResourceAlreadyExists("The specified log stream already exists") from None

    async def get_stream(self, tenant_id: str, group: str, name: str) -> LogStream | None:
        query = sa.select(_S).where(
            _S.c.tenant_id == tenant_id, _S.c.group_name == group, _S.c.stream_name == name
        )

        def work(conn: Connection) -> LogStream | None:
            row = conn.execute(query).first()
            return None if row is None else _stream(row._mapping)

        return await self._db.read(work)

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
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id, _S.c.group_name == group)
        if prefix:
            query = query.where(_prefixed(_S.c.stream_name, prefix))
        keys: list[Any] = [_S.c.stream_name]
        if by_last_event:
            keys.insert(0, sa.func.coalesce(_S.c.last_event, 0))
        query = query.order_by(*(k.desc() if descending else k.asc() for k in keys))
        query = query.offset(offset).limit(limit)

        def work(conn: Connection) -> list[LogStream]:
            return [_stream(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete_stream(
        self, tenant_id: str, group: str, name: str, *, honour_protection: bool = False
    ) -> bool:
        key = (_S.c.tenant_id == tenant_id, _S.c.group_name == group, _S.c.stream_name == name)
        protected = sa.select(_G.c.deletion_protection).where(
            _G.c.tenant_id == tenant_id, _G.c.group_name == group
        )

        def work(conn: Connection) -> bool:
            size = conn.execute(sa.select(_S.c.stored_bytes).where(*key).with_for_update()).first()
            if size is None:
                return False
            if honour_protection and conn.execute(protected).scalar():
                raise DeletionProtected(stream_protected())
            conn.execute(sa.delete(_S).where(*key))
            conn.execute(
                sa.delete(_E).where(
                    _E.c.tenant_id == tenant_id,
                    _E.c.group_name == group,
                    _E.c.stream_name == name,
                )
            )
            self._add_group_bytes(conn, tenant_id, group, -int(size[0]))
            return True

        return await self._db.write(work)

    @staticmethod
    def _add_group_bytes(conn: Connection, tenant_id: str, group: str, size: int) -> None:
        conn.execute(
            sa.update(_G)
            .where(_G.c.tenant_id == tenant_id, _G.c.group_name == group)
            .values(stored_bytes=_G.c.stored_bytes + size)
        )

    async def append(
        self, tenant_id: str, group: str, stream: str, events: Sequence[StoredEvent]
    ) -> bool:
        key = (_S.c.tenant_id == tenant_id, _S.c.group_name == group, _S.c.stream_name == stream)
        rows = [
            {
                "tenant_id": tenant_id,
                "group_name": group,
                "stream_name": stream,
                "timestamp": e.timestamp,
                "ingestion": e.ingestion,
                "size": e.size,
                "sealed": e.sealed,
                "masks": e.masks,
            }
            for e in events
        ]
        size = sum(e.size for e in events)
        first = min(e.timestamp for e in events)
        last = max(e.timestamp for e in events)
        ingestion = max(e.ingestion for e in events)

        def work(conn: Connection) -> bool:
            held = conn.execute(
                sa.select(_S.c.first_event, _S.c.last_event, _S.c.last_ingestion)
                .where(*key)
                .with_for_update()
            ).first()
            if held is None:
                return False
            conn.execute(sa.insert(_E), rows)
            conn.execute(
                sa.update(_S)
                .where(*key)
                .values(
                    first_event=first if held[0] is None else min(first, held[0]),
                    last_event=last if held[1] is None else max(last, held[1]),
                    last_ingestion=ingestion if held[2] is None else max(ingestion, held[2]),
                    stored_bytes=_S.c.stored_bytes + size,
                )
            )
            self._add_group_bytes(conn, tenant_id, group, size)
            return True

        return await self._db.write(work)

    async def read(self, query: EventQuery) -> list[StoredEvent]:
        select = sa.select(
            _E.c.seq,
            _E.c.stream_name,
            _E.c.timestamp,
            _E.c.ingestion,
            _E.c.size,
            _E.c.sealed,
            _E.c.masks,
        ).where(_E.c.tenant_id == query.tenant_id, _E.c.group_name == query.group)
        if query.streams is not None:
            select = select.where(_E.c.stream_name.in_(list(query.streams)))
        if query.stream_prefix:
            select = select.where(_prefixed(_E.c.stream_name, query.stream_prefix))
        if query.start is not None:
            select = select.where(_E.c.timestamp >= query.start)
        if query.end is not None:
            select = select.where(_E.c.timestamp < query.end)
        if query.after is not None:
            select = select.where(
                sa.tuple_(_E.c.timestamp, _E.c.seq) > (query.after.timestamp, query.after.seq)
            )
        if query.before is not None:
            select = select.where(
                sa.tuple_(_E.c.timestamp, _E.c.seq) < (query.before.timestamp, query.before.seq)
            )
        if query.stored_after is not None:
            # The key's range: what was stored since, across accounts, filtered.
            select = select.where(_E.c.seq > query.stored_after).order_by(_E.c.seq)
        else:
            order = (_E.c.timestamp, _E.c.seq)
            select = select.order_by(*(c.desc() if query.descending else c for c in order))
        select = select.limit(query.limit)

        def work(conn: Connection) -> list[StoredEvent]:
            return [
                StoredEvent(
                    r.stream_name, r.timestamp, r.ingestion, r.size, r.sealed, r.seq, r.masks
                )
                for r in conn.execute(select).all()
            ]

        return await self._db.read(work)

    async def last_seq(self) -> int:
        def work(conn: Connection) -> int:
            return int(conn.execute(sa.select(sa.func.max(_E.c.seq))).scalar() or 0)

        return await self._db.read(work)

    async def expire(self, now: int, batch: int) -> int:
        kept = sa.select(_G.c.tenant_id, _G.c.group_name, _G.c.retention_days).where(
            _G.c.retention_days.is_not(None)
        )

        def work(conn: Connection) -> int:
            removed = 0
            for tenant_id, group, days in conn.execute(kept).all():
                if removed >= batch:
                    break
                old = (
                    sa.select(_E.c.seq)
                    .where(
                        _E.c.tenant_id == tenant_id,
                        _E.c.group_name == group,
                        _E.c.timestamp < now - int(days) * _DAY_MS,
                    )
                    .limit(batch - removed)
                    .with_for_update(skip_locked=True)
                )
                gone = conn.execute(
                    sa.delete(_E)
                    .where(_E.c.seq.in_(old.scalar_subquery()))
                    .returning(_E.c.stream_name, _E.c.size)
                ).all()
                sizes: dict[str, int] = {}
                for stream, size in gone:
                    sizes[stream] = sizes.get(stream, 0) + int(size)
                for stream, size in sizes.items():
                    conn.execute(
                        sa.update(_S)
                        .where(
                            _S.c.tenant_id == tenant_id,
                            _S.c.group_name == group,
                            _S.c.stream_name == stream,
                        )
                        .values(stored_bytes=_S.c.stored_bytes - size)
                    )
                self._add_group_bytes(conn, tenant_id, group, -sum(sizes.values()))
                removed += len(gone)
            return removed

        return await self._db.write(work)

    async def put_metric_filter(self, metric_filter: MetricFilter, max_per_group: int) -> None:
        f, t = metric_filter, metric_filter.transformation
        values = {
            "filter_pattern": f.pattern,
            "metric_name": t.metric_name,
            "metric_namespace": t.namespace,
            "transformation": json.dumps(
                {
                    "value": t.value,
                    "default": t.default_value,
                    "dimensions": t.dimensions,
                    "unit": t.unit,
                }
            ),
            "format_version": FORMAT_VERSION,
        }
        group_key = (_G.c.tenant_id == f.tenant_id, _G.c.group_name == f.group)
        filters_of_group = (_F.c.tenant_id == f.tenant_id, _F.c.group_name == f.group)

        def work(conn: Connection) -> None:
            # The group's row locked: two gateways adding filters count one after the other.
            if (
                conn.execute(sa.select(_G.c.group_name).where(*group_key).with_for_update()).first()
                is None
            ):
                raise ResourceNotFound("The specified log group does not exist.")
            held = sa.select(_F.c.filter_name).where(*filters_of_group, _F.c.filter_name == f.name)
            if conn.execute(held).first() is not None:
                conn.execute(
                    sa.update(_F)
                    .where(*filters_of_group, _F.c.filter_name == f.name)
                    .values(**values)
                )
                return
            count = sa.select(sa.func.count()).select_from(_F).where(*filters_of_group)
            if int(conn.execute(count).scalar_one()) >= max_per_group:
                raise LimitExceeded("Resource limit exceeded.")
            conn.execute(
                sa.insert(_F).values(
                    tenant_id=f.tenant_id,
                    group_name=f.group,
                    filter_name=f.name,
                    created=f.created,
                    **values,
                )
            )

        await self._db.write(work)

    async def list_metric_filters(self, query: FilterQuery) -> list[MetricFilter]:
        select = sa.select(_F).where(_F.c.tenant_id == query.tenant_id)
        if query.group is not None:
            select = select.where(_F.c.group_name == query.group)
        if query.prefix:
            select = select.where(_prefixed(_F.c.filter_name, query.prefix))
        if query.metric_name is not None:
            select = select.where(_F.c.metric_name == query.metric_name)
        if query.namespace is not None:
            select = select.where(_F.c.metric_namespace == query.namespace)
        if query.after is not None:
            select = select.where(sa.tuple_(_F.c.group_name, _F.c.filter_name) > query.after)
        select = select.order_by(_F.c.group_name, _F.c.filter_name).limit(query.limit)

        def work(conn: Connection) -> list[MetricFilter]:
            return [_metric_filter(r._mapping) for r in conn.execute(select).all()]

        return await self._db.read(work)

    async def delete_metric_filter(self, tenant_id: str, group: str, name: str) -> bool:
        statement = sa.delete(_F).where(
            _F.c.tenant_id == tenant_id, _F.c.group_name == group, _F.c.filter_name == name
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def stored_bytes_by_tenant(self) -> dict[str, int]:
        select = (
            sa.select(_G.c.tenant_id, sa.func.sum(_G.c.stored_bytes))
            .group_by(_G.c.tenant_id)
            .having(sa.func.sum(_G.c.stored_bytes) > 0)
        )

        def work(conn: Connection) -> dict[str, int]:
            return {str(tenant): int(total) for tenant, total in conn.execute(select).all()}

        return await self._db.read(work)

    async def count_metric_filters(self, tenant_id: str, groups: Sequence[str]) -> dict[str, int]:
        if not groups:
            return {}
        select = (
            sa.select(_F.c.group_name, sa.func.count())
            .where(_F.c.tenant_id == tenant_id, _F.c.group_name.in_(list(groups)))
            .group_by(_F.c.group_name)
        )

        def work(conn: Connection) -> dict[str, int]:
            return {name: int(count) for name, count in conn.execute(select).all()}

        return await self._db.read(work)

    async def put_resource_policy(self, policy: ResourcePolicy, max_policies: int) -> None:
        key = (_P.c.tenant_id == policy.tenant_id, _P.c.policy_name == policy.name)
        values = {"document": policy.document, "updated": policy.updated}

        def work(conn: Connection) -> None:
            if conn.execute(sa.update(_P).where(*key).values(**values)).rowcount:
                return
            count = sa.select(sa.func.count()).select_from(_P).where(key[0])
            if int(conn.execute(count).scalar_one()) >= max_policies:
                raise LimitExceeded("Resource limit exceeded.")
            conn.execute(
                sa.insert(_P).values(
                    tenant_id=policy.tenant_id,
                    policy_name=policy.name,
                    format_version=FORMAT_VERSION,
                    **values,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError:
            # Made by another gateway meanwhile: this one's put now replaces it, as a later
            # PutResourcePolicy of the same name does.
            await self._db.write(work)

    async def list_resource_policies(
        self, tenant_id: str, after: str, limit: int
    ) -> list[ResourcePolicy]:
        select = (
            sa.select(_P)
            .where(_P.c.tenant_id == tenant_id, _P.c.policy_name > after)
            .order_by(_P.c.policy_name)
            .limit(limit)
        )

        def work(conn: Connection) -> list[ResourcePolicy]:
            return [
                ResourcePolicy(r.tenant_id, r.policy_name, r.document, int(r.updated))
                for r in conn.execute(select).all()
            ]

        return await self._db.read(work)

    async def delete_resource_policy(self, tenant_id: str, name: str) -> bool:
        statement = sa.delete(_P).where(_P.c.tenant_id == tenant_id, _P.c.policy_name == name)

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def set_data_protection(
        self, tenant_id: str, group: str, document: str | None, updated: int | None
    ) -> bool:
        statement = (
            sa.update(_G)
            .where(_G.c.tenant_id == tenant_id, _G.c.group_name == group)
            .values(data_protection=document, data_protection_updated=updated)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def set_index_policy(
        self, tenant_id: str, group: str, document: str | None, updated: int | None
    ) -> bool:
        statement = (
            sa.update(_G)
            .where(_G.c.tenant_id == tenant_id, _G.c.group_name == group)
            .values(index_policy=document, index_policy_updated=updated)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def put_account_policy(self, policy: AccountPolicy) -> None:
        key = (
            _A.c.tenant_id == policy.tenant_id,
            _A.c.policy_type == policy.policy_type,
            _A.c.policy_name == policy.name,
        )
        values = {
            "document": policy.document,
            "scope": policy.scope,
            "updated": policy.updated,
            "selection_criteria": policy.selection_criteria,
        }

        def work(conn: Connection) -> None:
            if conn.execute(sa.update(_A).where(*key).values(**values)).rowcount:
                return
            conn.execute(
                sa.insert(_A).values(
                    tenant_id=policy.tenant_id,
                    policy_type=policy.policy_type,
                    policy_name=policy.name,
                    format_version=FORMAT_VERSION,
                    **values,
                )
            )

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError:  # made by another gateway meanwhile: replaced now
            await self._db.write(work)

    async def list_account_policies(self, tenant_id: str, policy_type: str) -> list[AccountPolicy]:
        select = (
            sa.select(_A)
            .where(_A.c.tenant_id == tenant_id, _A.c.policy_type == policy_type)
            .order_by(_A.c.policy_name)
        )

        def work(conn: Connection) -> list[AccountPolicy]:
            return [
                AccountPolicy(
                    r.tenant_id,
                    r.policy_type,
                    r.policy_name,
                    r.document,
                    r.scope,
                    int(r.updated),
                    r.selection_criteria,
                )
                for r in conn.execute(select).all()
            ]

        return await self._db.read(work)

    async def delete_account_policy(self, tenant_id: str, policy_type: str, name: str) -> bool:
        statement = sa.delete(_A).where(
            _A.c.tenant_id == tenant_id, _A.c.policy_type == policy_type, _A.c.policy_name == name
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)
