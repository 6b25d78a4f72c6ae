"""Logs Insights queries as kept (decision 0186, session-48 addendum): each query's record —
its groups, string, range, status and, once finished, its results and statistics — in a
store every gateway reads, so GetQueryResults, StopQuery and DescribeQueries answer from any
of them whichever ran the query. :class:`QueryStore` is the interface,
:class:`MemoryQueryStore` its in-memory twin; ``logs.queries_sql`` the database's; the
contract suite (``tests/contract/test_log_query_stores.py``) runs over all."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from andromede.logs.errors import LimitExceeded

__all__ = [
    "ACTIVE",
    "MemoryQueryStore",
    "QueryDefinition",
    "QueryRecord",
    "QueryStatus",
    "QueryStore",
]


class QueryStatus(enum.Enum):
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    COMPLETE = "Complete"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    TIMEOUT = "Timeout"


ACTIVE: Final = frozenset({QueryStatus.SCHEDULED, QueryStatus.RUNNING})

Row = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class QueryRecord:
    tenant_id: str
    query_id: str
    groups: tuple[str, ...]
    query_string: str
    start: int  # seconds, as StartQuery's
    end: int
    limit: int
    created: int  # milliseconds
    status: QueryStatus = QueryStatus.SCHEDULED
    results: tuple[Row, ...] = ()
    statistics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueryDefinition:
    """A saved query (PutQueryDefinition): its name may hold ``/`` folders, as the console's."""

    tenant_id: str
    definition_id: str
    name: str
    query_string: str
    groups: tuple[str, ...]
    modified: int  # milliseconds


class QueryStore(Protocol):
    async def create(self, record: QueryRecord, max_active: int) -> None:
        """Keep a new query; LimitExceeded when its account has ``max_active`` queries
        Scheduled or Running."""
        ...

    async def get(self, tenant_id: str, query_id: str) -> QueryRecord | None: ...

    async def finish(
        self,
        tenant_id: str,
        query_id: str,
        status: QueryStatus,
        results: Sequence[Row],
        statistics: dict[str, float],
        only_from: frozenset[QueryStatus],
    ) -> bool:
        """Set the status (and results, statistics) when the query's is one of
        ``only_from``; whether it did — a query stopped elsewhere is never overwritten."""
        ...

    async def recent(
        self,
        tenant_id: str,
        status: QueryStatus | None,
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[QueryRecord]:
        """The newest first, by (created, query id) strictly before ``before``."""
        ...

    async def expire(self, created_before: int) -> int:
        """Delete the queries made before ``created_before`` (ms); how many."""
        ...

    async def put_definition(
        self, definition: QueryDefinition, max_definitions: int, must_exist: bool
    ) -> bool:
        """Make or replace the account's definition of that id; False when ``must_exist``
        and it does not; LimitExceeded when a new one would pass ``max_definitions``."""
        ...

    async def list_definitions(
        self, tenant_id: str, prefix: str, after: tuple[str, str] | None, limit: int
    ) -> list[QueryDefinition]:
        """By (name, id) strictly after ``after``, names starting with ``prefix``."""
        ...

    async def delete_definition(self, tenant_id: str, definition_id: str) -> bool: ...


class MemoryQueryStore:
    def __init__(self) -> None:
        self._queries: dict[tuple[str, str], QueryRecord] = {}
        self._definitions: dict[tuple[str, str], QueryDefinition] = {}

    async def create(self, record: QueryRecord, max_active: int) -> None:
        active = sum(
            1
            for q in self._queries.values()
            if q.tenant_id == record.tenant_id and q.status in ACTIVE
        )
        if active >= max_active:
            raise LimitExceeded(
                f"Account maximum query concurrency limit of [{max_active}] reached."
            )
        self._queries[(record.tenant_id, record.query_id)] = record

    async def get(self, tenant_id: str, query_id: str) -> QueryRecord | None:
        return self._queries.get((tenant_id, query_id))

    async def finish(
        self,
        tenant_id: str,
        query_id: str,
        status: QueryStatus,
        results: Sequence[Row],
        statistics: dict[str, float],
        only_from: frozenset[QueryStatus],
    ) -> bool:
        record = self._queries.get((tenant_id, query_id))
        if record is None or record.status not in only_from:
            return False
        self._queries[(tenant_id, query_id)] = dataclasses.replace(
            record,
            status=status,
            results=tuple([list(r) for r in results]),
            statistics=dict(statistics),
        )
        return True

    async def recent(
        self,
        tenant_id: str,
        status: QueryStatus | None,
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[QueryRecord]:
        found = [
            q
            for q in self._queries.values()
            if q.tenant_id == tenant_id
            and (status is None or q.status == status)
            and (before is None or (q.created, q.query_id) < before)
        ]
        found.sort(key=lambda q: (q.created, q.query_id), reverse=True)
        return found[:limit]

    async def expire(self, created_before: int) -> int:
        gone = [k for k, q in self._queries.items() if q.created < created_before]
        for key in gone:
            del self._queries[key]
        return len(gone)

    async def put_definition(
        self, definition: QueryDefinition, max_definitions: int, must_exist: bool
    ) -> bool:
        key = (definition.tenant_id, definition.definition_id)
        if key not in self._definitions:
            if must_exist:
                return False
            held = sum(1 for t, _ in self._definitions if t == definition.tenant_id)
            if held >= max_definitions:
                raise LimitExceeded("Resource limit exceeded.")
        self._definitions[key] = definition
        return True

    async def list_definitions(
        self, tenant_id: str, prefix: str, after: tuple[str, str] | None, limit: int
    ) -> list[QueryDefinition]:
        found = sorted(
            (
                d
                for (t, _), d in self._definitions.items()
                if t == tenant_id
                and d.name.startswith(prefix)
                and (after is None or (d.name, d.definition_id) > after)
            ),
            key=lambda d: (d.name, d.definition_id),
        )
        return found[:limit]

    async def delete_definition(self, tenant_id: str, definition_id: str) -> bool:
        return self._definitions.pop((tenant_id, definition_id), None) is not None
