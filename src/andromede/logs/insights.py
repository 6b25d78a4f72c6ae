"""Logs Insights queries (decision 0186, session-48 addendum): StartQuery's query parsed,
kept (:mod:`andromede.logs.queries`) and run in the gateway that took it as an asyncio task,
reading the groups' events a chunk at a time through :meth:`LogsService.scan` (opened as
FilterLogEvents opens them) so memory stays bounded; its end (Complete, Failed, Timeout) and
results written to the store, where every gateway reads them. StopQuery marks the query
Cancelled in the store and cancels the task when it runs here; a task running elsewhere
sees the mark at its next chunk. While it runs, the rows found so far (with ``stats``, the
aggregation so far) and its statistics are written every ``partial_interval`` seconds, as AWS's
GetQueryResults answers partial results. A query whose gateway stopped stays Running in the store
until ``timeout_ms`` after its start, when any gateway answers it Timeout. Saved queries
(PutQueryDefinition) are kept in the same store, their query parsed when put."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.logs.errors import InvalidParameter, LogsError, ResourceNotFound
from andromede.logs.insights_query import Query, parse_query
from andromede.logs.insights_run import QueryRun, compared_window, event_record
from andromede.logs.log_classes import check_query_for_classes
from andromede.logs.model import EVENT_OVERHEAD, check_group_name
from andromede.logs.queries import ACTIVE, QueryDefinition, QueryRecord, QueryStatus, QueryStore
from andromede.logs.service import LogsService

__all__ = ["InsightsLimits", "InsightsService"]

log = logging.getLogger(__name__)

_MAX_GROUPS: Final = 50  # AWS's bound on StartQuery's log groups
_DEFAULT_LIMIT: Final = 10_000  # StartQuery's limit when none is given: AWS's default
_MAX_LIMIT: Final = 10_000
_DESCRIBE_PAGE: Final = 1000  # DescribeQueries' maxResults: its default and ceiling
_ENDED: Final = frozenset({QueryStatus.RUNNING})


@dataclass(frozen=True, slots=True)
class InsightsLimits:
    max_concurrent: int = 30
    timeout_ms: int = 3_600_000
    retention_ms: int = 7 * 86_400_000
    max_groups: int = 10_000
    max_rows: int = 100_000
    max_patterns: int = 1000
    chunk: int = 1000
    partial_interval: float = 1.0  # seconds between two writes of the rows found so far
    max_definitions: int = 1000


class _Stopped(Exception):
    """The query was stopped through another gateway."""


def _now_ms() -> int:
    return int(time.time() * 1000)


Scanned = Callable[[str, int], None]


class InsightsService:
    def __init__(
        self,
        logs: LogsService,
        store: QueryStore,
        limits: InsightsLimits | None = None,
        scanned: Scanned | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self._logs = logs
        self._store = store
        self.limits = limits or InsightsLimits()
        self._scanned = scanned
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start_query(
        self,
        tenant_id: str,
        groups: Sequence[str],
        start: int,
        end: int,
        query_string: str,
        limit: int | None,
        *,
        may_unmask: bool = False,
    ) -> str:
        """A new query's id, its run begun. ``may_unmask``: the wire layer allowed the caller
        ``logs:Unmask`` on every group; without it ``unmask(@message)`` reads the masked text."""
        if not 1 <= len(groups) <= _MAX_GROUPS:
            raise InvalidParameter(f"A query names between 1 and {_MAX_GROUPS} log groups.")
        if start < 0 or end < 0:
            raise InvalidParameter("startTime and endTime are seconds since the epoch.")
        if end < start:
            raise InvalidParameter("endTime must be later than or equal to startTime.")
        if limit is not None and not 1 <= limit <= _MAX_LIMIT:
            raise InvalidParameter(f"limit must be between 1 and {_MAX_LIMIT}")
        query = parse_query(query_string)
        classes = [
            (await self._logs.group(tenant_id, check_group_name(name, "logGroupNames"))).log_class
            for name in groups
        ]
        # One Infrequent Access group among them bars what that class lacks (decision 0222).
        check_query_for_classes(query_string, classes)
        record = QueryRecord(
            tenant_id,
            str(uuid.uuid4()),
            tuple(dict.fromkeys(groups)),
            query_string,
            start,
            end,
            limit or _DEFAULT_LIMIT,
            self._clock(),
        )
        await self._store.create(record, self.limits.max_concurrent)
        reveal = query.unmasks and may_unmask
        task = asyncio.create_task(
            self._run(record, query, reveal), name=f"logs-query-{record.query_id}"
        )
        self._tasks[record.query_id] = task
        task.add_done_callback(self._forget)
        return record.query_id

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task.get_name().removeprefix("logs-query-"), None)
        if not task.cancelled() and task.exception() is not None:
            # The store refused the end: the query stays Running until its timeout.
            log.warning("query task %s failed: %r", task.get_name(), task.exception())

    async def _run(self, record: QueryRecord, query: Query, reveal: bool) -> None:
        run = QueryRun(
            query,
            record.limit,
            self.limits.max_groups,
            self.limits.max_rows,
            self.limits.max_patterns,
            (record.start * 1000, record.end * 1000 + 999),  # endTime is inclusive
        )
        scheduled = frozenset({QueryStatus.SCHEDULED})
        if not await self._store.finish(
            record.tenant_id, record.query_id, QueryStatus.RUNNING, [], {}, scheduled
        ):
            return  # stopped before it began
        status = QueryStatus.COMPLETE
        try:
            await asyncio.wait_for(
                self._evaluate(record, run, reveal), self.limits.timeout_ms / 1000
            )
        except TimeoutError:
            status = QueryStatus.TIMEOUT
        except _Stopped:
            return
        except LogsError as exc:
            log.info("query %s failed: %s", record.query_id, exc)
            status = QueryStatus.FAILED
        except asyncio.CancelledError:
            # StopQuery here, or serve stopping: the store says which (Cancelled already,
            # or still Running — then Failed, as the gateway that ran it is gone).
            with contextlib.suppress(Exception):
                await asyncio.shield(self._end(record, QueryStatus.FAILED, run, False))
            raise
        except Exception:
            log.exception("query %s failed", record.query_id)
            status = QueryStatus.FAILED
        await self._end(record, status, run, status is QueryStatus.COMPLETE)

    async def _end(
        self, record: QueryRecord, status: QueryStatus, run: QueryRun, with_rows: bool
    ) -> None:
        rows = run.rows() if with_rows else []
        if self._scanned is not None:
            self._scanned(record.tenant_id, run.stats.bytes_scanned)
        await self._store.finish(
            record.tenant_id, record.query_id, status, rows, _statistics(run), _ENDED
        )

    async def _evaluate(self, record: QueryRecord, run: QueryRun, reveal: bool) -> None:
        start, end = record.start * 1000, record.end * 1000 + 1000  # endTime is inclusive
        published = time.monotonic()
        windows = [(start, end, run.feed)]
        if run.diff is not None:
            # diff: the compared window after the query's, its events counted in the
            # patterns the query's made (and its scan in the statistics, as AWS bills it).
            before, last = compared_window(record.start, record.end, run.diff.period)
            windows.append((before, last + 1, run.feed_previous))
        for first, stop, feed in windows:
            for group in record.groups:
                async for events in self._logs.scan(
                    record.tenant_id, group, first, stop, self.limits.chunk, reveal=reveal
                ):
                    for event in events:
                        feed(
                            event_record(
                                record.tenant_id,
                                group,
                                event.stream,
                                event.timestamp,
                                event.ingestion,
                                event.message,
                                event.seq,
                                event.unmasked,
                            ),
                            len(event.message.encode()) + EVENT_OVERHEAD,
                        )
                    if run.done:
                        return
                    published = await self._between_chunks(record, run, published)

    async def _between_chunks(self, record: QueryRecord, run: QueryRun, published: float) -> float:
        """The partial rows written, or the query's status read: a StopQuery through another
        gateway shows in the store, the partial write (only from Running) or the read that
        stands for it between two failing. Answers when the rows were last written."""
        if time.monotonic() - published >= self.limits.partial_interval:
            published = time.monotonic()
            if not await self._store.finish(
                record.tenant_id,
                record.query_id,
                QueryStatus.RUNNING,
                run.partial_rows(),
                _statistics(run),
                _ENDED,
            ):
                raise _Stopped
        else:
            now = await self._store.get(record.tenant_id, record.query_id)
            if now is None or now.status is not QueryStatus.RUNNING:
                raise _Stopped
        await asyncio.sleep(0)
        return published

    async def get_results(self, tenant_id: str, query_id: str) -> QueryRecord:
        record = await self._query(tenant_id, query_id)
        if record.status in ACTIVE and self._clock() - record.created > self.limits.timeout_ms:
            # Its gateway stopped before it ended: past its time, it timed out.
            await self._store.finish(
                tenant_id, query_id, QueryStatus.TIMEOUT, [], record.statistics, ACTIVE
            )
            record = await self._query(tenant_id, query_id)
        return record

    async def _query(self, tenant_id: str, query_id: str) -> QueryRecord:
        record = await self._store.get(tenant_id, query_id)
        if record is None:
            raise ResourceNotFound(f"Query does not exist: {query_id[:64]}")
        return record

    async def stop_query(self, tenant_id: str, query_id: str) -> bool:
        """Whether the query was stopped (False when it had ended already)."""
        await self._query(tenant_id, query_id)
        stopped = await self._store.finish(
            tenant_id, query_id, QueryStatus.CANCELLED, [], {}, ACTIVE
        )
        task = self._tasks.get(query_id)
        if stopped and task is not None:
            task.cancel()
        return stopped

    async def describe_queries(
        self,
        tenant_id: str,
        group: str | None,
        status: str | None,
        limit: int | None,
        token: str | None,
    ) -> tuple[list[QueryRecord], str | None]:
        wanted: QueryStatus | None = None
        if status is not None:
            try:
                wanted = QueryStatus(status)
            except ValueError:
                raise InvalidParameter(f"Invalid status {status[:32]!r}") from None
        size = limit if limit is not None else _DESCRIBE_PAGE
        if not 1 <= size <= _DESCRIBE_PAGE:
            raise InvalidParameter(f"maxResults must be between 1 and {_DESCRIBE_PAGE}")
        before: tuple[int, str] | None = None
        if token is not None:
            created, query_id = _position(token)
            before = (int(created), query_id)
        found: list[QueryRecord] = []
        while len(found) < size:
            page = await self._store.recent(tenant_id, wanted, before, size)
            found += [q for q in page if group is None or group in q.groups]
            if len(page) < size:
                return found[:size], None
            before = (page[-1].created, page[-1].query_id)
        found = found[:size]
        last = found[-1]
        return found, _token((last.created, last.query_id))

    async def expire(self) -> int:
        return await self._store.expire(self._clock() - self.limits.retention_ms)

    # Saved queries.

    async def put_definition(
        self,
        tenant_id: str,
        name: str,
        query_string: str,
        groups: Sequence[str],
        definition_id: str | None,
    ) -> str:
        if not 1 <= len(name) <= 255:
            raise InvalidParameter("name must be between 1 and 255 characters")
        if len(groups) > _MAX_GROUPS:
            raise InvalidParameter(f"A query definition names at most {_MAX_GROUPS} log groups.")
        for group in groups:
            check_group_name(group, "logGroupNames")
        parse_query(query_string)
        if definition_id is not None and not 1 <= len(definition_id) <= 256:
            raise InvalidParameter("queryDefinitionId must be between 1 and 256 characters")
        definition = QueryDefinition(
            tenant_id,
            definition_id or str(uuid.uuid4()),
            name,
            query_string,
            tuple(groups),
            self._clock(),
        )
        if not await self._store.put_definition(
            definition, self.limits.max_definitions, must_exist=definition_id is not None
        ):
            raise ResourceNotFound("The specified query definition does not exist.")
        return definition.definition_id

    async def describe_definitions(
        self, tenant_id: str, prefix: str, limit: int | None, token: str | None
    ) -> tuple[list[QueryDefinition], str | None]:
        size = limit if limit is not None else _DESCRIBE_PAGE
        if not 1 <= size <= _DESCRIBE_PAGE:
            raise InvalidParameter(f"maxResults must be between 1 and {_DESCRIBE_PAGE}")
        after: tuple[str, str] | None = None
        if token is not None:
            name, definition_id = _position(token, str)
            after = (str(name), definition_id)
        found = await self._store.list_definitions(tenant_id, prefix, after, size + 1)
        more = len(found) > size
        found = found[:size]
        last = found[-1] if found else None
        return found, (_token((last.name, last.definition_id)) if more and last else None)

    async def delete_definition(self, tenant_id: str, definition_id: str) -> None:
        if not await self._store.delete_definition(tenant_id, definition_id):
            raise ResourceNotFound("The specified query definition does not exist.")

    async def close(self) -> None:
        """``serve`` stopping: the queries running here cancelled (and written Failed)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _statistics(run: QueryRun) -> dict[str, float]:
    return {
        "recordsMatched": float(run.stats.records_matched),
        "recordsScanned": float(run.stats.records_scanned),
        "bytesScanned": float(run.stats.bytes_scanned),
    }


def _token(position: tuple[int | str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def _position(token: str, first: type[int] | type[str] = int) -> tuple[int | str, str]:
    """A page token's (created or name, id); InvalidParameter for anything else."""
    try:
        key, identifier = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidParameter("The specified nextToken is invalid.") from None
    if type(key) is not first or not isinstance(identifier, str):
        raise InvalidParameter("The specified nextToken is invalid.")
    return key, identifier
